"""SpectrogramCNN: offline strict ImageNet weights, frozen backbone, real-data training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgzoo.datasets.cinc2017 import CLASS_NAMES, load_recordings, read_reference
from ecgzoo.examples import transforms as T
from ecgzoo.models.registry import build_model
from ecgzoo.models.spectrogram_cnn import (
    LogSpectrogram,
    SpectrogramCNN,
    build_backbone,
    imagenet_weights_path,
)

SMALL = {"image_size": (48, 64), "nperseg": 128, "noverlap": 96}


@pytest.mark.slow  # a fresh interpreter
def test_import_needs_no_torchvision() -> None:
    code = (
        "import sys, efficientnet_lite_pytorch, ecgzoo.models.spectrogram_cnn;"
        "assert 'torchvision' not in sys.modules and 'timm' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_imagenet_weights_load_strictly_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    path = Path(imagenet_weights_path())
    assert path.is_file() and path.name == "efficientnet-lite0-57934424.pth"
    state = torch.load(path, map_location="cpu", weights_only=True)
    backbone, missing, unexpected = build_backbone(pretrained=True)
    assert missing == [] and unexpected == []
    own = backbone.state_dict()
    for key in ("_conv_stem.weight", "_blocks.15._project_conv.weight", "_bn1.running_var"):
        torch.testing.assert_close(own[key], state[key], rtol=0, atol=0)
    assert "_fc.weight" not in own and "_fc.weight" in state  # ImageNet head replaced
    scratch, _, _ = build_backbone(pretrained=False)
    assert not torch.equal(scratch.state_dict()["_conv_stem.weight"], state["_conv_stem.weight"])


def test_model_head_and_frozen_backbone() -> None:
    model = SpectrogramCNN(1, 3000, 4, freeze_backbone=True, **SMALL)
    assert model.missing_keys == [] and model.unexpected_keys == []
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}
    assert not any(p.requires_grad for p in model.backbone.parameters())
    model.train()
    assert model.training and not model.backbone.training  # batch-norm statistics stay fixed
    full = SpectrogramCNN(1, 3000, 4, **SMALL)
    assert all(p.requires_grad for p in full.backbone.parameters())


def test_forward_shapes_and_options() -> None:
    x = torch.randn(2, 1, 3000)
    model = build_model("spectrogram_cnn", 1, 3000, 4, pretrained=False, **SMALL).eval()
    assert model(x).shape == (2, 4)
    with_features = SpectrogramCNN(1, 3000, 4, n_features=3, pretrained=False, **SMALL).eval()
    assert with_features(x, torch.randn(2, 3)).shape == (2, 4)
    two_leads = SpectrogramCNN(2, 3000, 5, pretrained=False, **SMALL).eval()
    assert two_leads.channel_map == "conv" and two_leads(torch.randn(2, 2, 3000)).shape == (2, 5)
    native = SpectrogramCNN(1, 3000, 4, pretrained=False, nperseg=128, noverlap=96, fmax=None,
                            image_size=None)  # fmt: skip
    assert native.image_size == (65, 1 + (3000 - 128) // 32)
    # a precomputed spectrogram laid out as the data option stores it: (batch, F, T)
    spec = torch.from_numpy(T.log_spectrogram(x.numpy(), 300, 256, 224, fmax=60.0)[:, 0])
    pre = SpectrogramCNN(spec.shape[1], spec.shape[2], 4, pretrained=False, input="spectrogram",
                         image_size=(64, 96))  # fmt: skip
    assert pre.eval()(spec).shape == (2, 4)


def test_torch_spectrogram_matches_numpy() -> None:
    x = np.random.default_rng(0).standard_normal((3, 1, 2000)).astype(np.float32)
    expected = T.log_spectrogram(x, 300, 256, 224, fmax=60.0)
    got = LogSpectrogram(256, 224, 300.0, 60.0)(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_full_fine_tuning_updates_backbone() -> None:
    torch.manual_seed(0)
    model = SpectrogramCNN(1, 3000, 4, **SMALL).train()
    before = model.backbone._conv_stem.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(torch.randn(4, 1, 3000)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert model.backbone._conv_stem.weight.grad is not None
    opt.step()
    assert not torch.equal(before, model.backbone._conv_stem.weight)


@pytest.fixture(scope="module")
def real_batch(cinc2017_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """64 real recordings (16 per class, first by record id), the first 10 s of each."""
    ref = read_reference(cinc2017_dir / "REFERENCE-v3.csv")
    chosen = {}
    for label in CLASS_NAMES:
        for record in [r for r in sorted(ref) if ref[r] == label][:16]:
            chosen[record] = label
    signals, labels, _ = load_recordings(cinc2017_dir / "training2017", chosen)
    x, _ = T.pad_or_trim(signals, 3000)
    y = np.asarray([CLASS_NAMES.index(v) for v in labels])
    return torch.from_numpy(x[:, None, :]), torch.from_numpy(y)


def test_trains_on_real_recordings(real_batch) -> None:
    x, y = real_batch
    assert x.shape == (64, 1, 3000)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = SpectrogramCNN(1, 3000, 4, freeze_backbone=True, **SMALL)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)

    def full_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(F.cross_entropy(model(x), y))

    start = full_loss()
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        for idx in torch.randperm(64, generator=gen).split(16):
            model.train()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    end = full_loss()
    assert np.isfinite(end) and end < start - 0.05, (start, end)
