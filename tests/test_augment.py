"""Time warping, window warping and mixup on real MIT-BIH beats, and in a training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgzoo.datasets.loading import load_data
from ecgzoo.errors import ConfigError
from ecgzoo.examples.augment import mixed_loss, mixup, resample_at, time_warp, window_warp
from ecgzoo.experiment import build_config

TINY = {
    "name": "augment",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "232"], "max_beats_per_class": 80},
    },
    "model": {"name": "fc", "params": {"hidden": 16}},
    "train": {"epochs": 1, "batch_size": 32, "max_steps_per_epoch": 3, "train_loss_examples": 0},
}


@pytest.fixture(scope="module")
def data(mitdb_dir):
    return load_data(build_config(TINY).data)


@pytest.fixture(scope="module")
def beats(data):
    return torch.as_tensor(np.asarray(data.train.x[:64]))


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


WARPS = {
    "time": lambda x, g: time_warp(x, 0.3, gen=g),
    "window": lambda x, g: window_warp(x, 0.1, gen=g),
}


@pytest.mark.parametrize("kind", list(WARPS))
def test_a_warp_keeps_the_length_and_the_beat(kind, beats, data):
    warp = WARPS[kind]
    out = warp(beats, _gen(0))
    assert out.shape == beats.shape and out.dtype == beats.dtype
    assert not torch.allclose(out, beats)
    # endpoints stay where they were (the time map is monotone from first to last sample)
    torch.testing.assert_close(out[..., 0], beats[..., 0])
    torch.testing.assert_close(out[..., -1], beats[..., -1], atol=1e-4, rtol=1e-4)
    # still the same beat: it follows its original and its main peak stays close
    a = out[:, 0].numpy()
    b = beats[:, 0].numpy()
    own = [np.corrcoef(a[i], b[i])[0, 1] for i in range(len(a))]
    shift = np.abs(np.abs(a).argmax(1) - np.abs(b).argmax(1))
    assert np.median(own) > 0.7 and np.median(shift) < 0.1 * a.shape[-1]


@pytest.mark.parametrize("kind", list(WARPS))
def test_a_fixed_seed_reproduces_the_warp(kind, beats):
    warp = WARPS[kind]
    torch.testing.assert_close(warp(beats, _gen(7)), warp(beats, _gen(7)))
    assert not torch.allclose(warp(beats, _gen(7)), warp(beats, _gen(8)))


def test_resample_at_integer_positions_is_exact(beats):
    pos = torch.arange(beats.shape[-1], dtype=torch.float32).expand(len(beats), -1)
    torch.testing.assert_close(resample_at(beats, pos), beats)


def test_mixup_mixes_inputs_and_labels_with_the_same_weight(beats, data):
    y = torch.as_tensor(np.asarray(data.train.y[: len(beats)]))
    mixed, _, perm, lam = mixup(beats, 0.4, gen=_gen(3))
    assert 0.0 <= lam <= 1.0 and sorted(perm.tolist()) == list(range(len(beats)))
    torch.testing.assert_close(mixed, lam * beats + (1 - lam) * beats[perm])
    again = mixup(beats, 0.4, gen=_gen(3))
    torch.testing.assert_close(again[0], mixed)
    # the mixed loss equals cross-entropy against the mixed soft label, lam on y, 1-lam on y[perm]
    logits = torch.randn(len(beats), 5, generator=_gen(1))
    soft = lam * F.one_hot(y, 5).float() + (1 - lam) * F.one_hot(y[perm], 5).float()
    torch.testing.assert_close(
        mixed_loss(F.cross_entropy, logits, y, perm, lam), F.cross_entropy(logits, soft)
    )


def test_augmentation_options_are_validated_and_train(tmp_path, data):
    from ecgzoo.train.engine import train_run

    with pytest.raises(ConfigError, match="train.time_warp"):
        build_config(TINY, ["train.time_warp=2"])
    on = ["train.time_warp=0.2", "train.window_warp=0.1", "train.mixup_alpha=0.4"]
    runs = [
        train_run(build_config(TINY, [f"output_dir={tmp_path / str(i)}", *on]), data=data,
                  progress=False)
        for i in range(2)
    ]  # fmt: skip
    plain = train_run(build_config(TINY, [f"output_dir={tmp_path / 'p'}"]), data=data,
                      progress=False)  # fmt: skip
    losses = [r.history[0]["train_loss"] for r in runs]
    assert np.isfinite(losses).all() and losses[0] == losses[1]  # seeded: reproducible
    assert plain.history[0]["train_loss"] != losses[0]  # and the options did something


class _Recorder(torch.nn.Module):
    """A linear model that remembers what it was fed."""

    def __init__(self, length: int):
        super().__init__()
        self.linear = torch.nn.Linear(length, 5)
        self.inputs: list[torch.Tensor] = []

    def forward(self, x, features=None):
        self.inputs.append(x.detach().clone())
        return self.linear(x.mean(1))


def test_the_training_step_warps_the_input_and_keeps_its_labels(beats, data):
    """In the engine's training step (not only the warp functions) the warped batch keeps its
    length and the loss sees the batch's own labels, unchanged; a fixed torch seed (the engine
    seeds it per epoch) reproduces the warped batch."""
    from types import SimpleNamespace

    from ecgzoo.config import TrainConfig
    from ecgzoo.train.module import ZooModule

    labels: list[torch.Tensor] = []

    def loss(logits, y):
        labels.append(y.clone())
        return F.cross_entropy(logits, y)

    y = torch.as_tensor(np.asarray(data.train.y[: len(beats)]))
    model = _Recorder(beats.shape[-1])
    tc = TrainConfig(time_warp=0.3, window_warp=0.1)
    module = ZooModule(model, SimpleNamespace(loss=loss), tc)
    fed = []
    for _ in range(2):
        torch.manual_seed(5)
        module.on_train_epoch_start()
        assert torch.isfinite(module.training_step((beats, y.clone(), None, None), 0))
        fed.append(model.inputs[-1])
    assert fed[0].shape == beats.shape and not torch.allclose(fed[0], beats)
    torch.testing.assert_close(fed[0], fed[1])
    assert all(torch.equal(seen, y) for seen in labels) and len(labels) == 2
