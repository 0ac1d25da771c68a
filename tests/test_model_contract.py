"""The one model contract (``EcgModel``), checked for every model in the registry."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.explain.gradcam import compute_gradcam, gradcam_layer
from ecgzoo.models.base import EcgModel
from ecgzoo.models.registry import SHAPE_ARGS, available_models, build_model, model_class

NAMES = [m.name for m in available_models()]
# small settings so that every model builds in well under a second
SMALL: dict[str, dict] = {
    "fc": {"hidden": 16},
    "cnn2d": {"hidden": 16, "reshape": "resample"},
    "rnn": {"hidden": 16, "n_heads": 2},
    "cblstm": {"hidden": 8},
    "hadln": {},
    "resnet1d": {"n_blocks": 2, "width": 8},
    "beat_cnn": {"width": 4, "hidden": 8},
    "spectrogram_cnn": {"pretrained": False, "image_size": 64},
    "ensemble": {
        "members": [
            {"name": "resnet1d", "params": {"n_blocks": 2, "width": 8}},
            {"name": "cblstm", "params": {"hidden": 8}},
        ]
    },
}
N_SAMPLES = 600  # long enough for the spectrogram model's 256-sample STFT window


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _build(name: str, n_leads: int = 2, n_features: int = 0) -> EcgModel:
    torch.manual_seed(0)
    return build_model(name, n_leads, N_SAMPLES, 3, n_features=n_features, **SMALL[name])


def test_every_registered_model_follows_the_contract() -> None:
    assert set(SMALL) == set(NAMES)
    for name in NAMES:
        cls = model_class(name)
        assert issubclass(cls, EcgModel), name
        assert cls.name == name
        params = list(inspect.signature(cls.__init__).parameters)[1:5]
        assert tuple(params) == SHAPE_ARGS, name


@pytest.mark.parametrize("name", NAMES)
def test_shapes_input_check_and_gradcam(name: str) -> None:
    model = _build(name, n_leads=2, n_features=3).eval()
    assert (model.n_leads, model.n_samples, model.n_classes, model.n_features) == (
        2,
        N_SAMPLES,
        3,
        3,
    )
    x = torch.randn(4, 2, N_SAMPLES)
    feats = torch.randn(4, 3)
    with torch.no_grad():
        assert model(x, feats).shape == (4, 3)

    for bad in (torch.randn(4, 3, N_SAMPLES), torch.randn(4, N_SAMPLES)):
        with pytest.raises(ValueError) as info:
            model(bad, feats)
        message = str(info.value)
        assert message.startswith(f"{name}: expected input (batch, 2, ")
        assert str(tuple(bad.shape)) in message and "\n" not in message
    with pytest.raises(ValueError, match=rf"{name}: expected features \(4, 3\), got \(4, 5\)"):
        model(x, torch.randn(4, 5))
    if model.fixed_length:
        with pytest.raises(ValueError, match=rf"expected input \(batch, 2, {N_SAMPLES}\)"):
            model(torch.randn(4, 2, N_SAMPLES - 10), feats)

    # Grad-CAM asks the model, whatever it is: a layer, or a clear error without convolutions
    if not any(isinstance(m, torch.nn.Conv1d | torch.nn.Conv2d) for m in model.modules()):
        with pytest.raises(EcgzooError, match=f"'{name}' has none"):
            gradcam_layer(model)
        return
    assert gradcam_layer(model) is model.gradcam_layer()
    result = compute_gradcam(model, x[:2], 1, features=feats[:2])
    assert result.cam_time.shape == (2, N_SAMPLES)
    assert np.all((result.cam_time >= 0) & (result.cam_time <= 1))


def test_bad_shapes_are_config_errors_naming_the_model() -> None:
    for name in NAMES:
        with pytest.raises(ConfigError, match=f"{name}: n_leads must be a positive integer"):
            model_class(name)(0, N_SAMPLES, 3)
    model = model_class("resnet1d")(np.int64(2), np.int64(N_SAMPLES), np.int64(3), n_blocks=1)
    assert (model.n_leads, model.n_samples, model.n_classes) == (2, N_SAMPLES, 3)
    assert type(model.n_leads) is int
    # the base class adds no parameters: state-dict keys are the model's own
    assert all(not k.startswith(("n_", "fs")) for k in model.state_dict())
