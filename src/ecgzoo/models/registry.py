"""Model registry: name -> class, with a one-line description (drives ``ecgzoo models list``).

Every model follows one contract: ``Model(n_leads, n_samples, n_classes, n_features=0, **hparams)``;
``forward(x, features=None)`` takes ``x`` of shape ``(batch, n_leads, n_samples)`` and optional
side features ``(batch, n_features)``, and returns logits ``(batch, n_classes)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch.nn as nn

from ecgzoo.errors import ConfigError

# name -> (module, class name, one-line description); imported lazily to keep import cheap.
_MODELS: dict[str, tuple[str, str, str]] = {
    "fc": ("ecgzoo.models.fc", "FC", "two 1000-unit ReLU layers and a classifier (baseline)"),
    "cnn2d": ("ecgzoo.models.cnn2d", "CNN2D", "ConvBlocks on the beat reshaped to 16 x 12"),
    "rnn": ("ecgzoo.models.rnn", "RNN", "GRU or LSTM with multi-head attention over time"),
    "cblstm": ("ecgzoo.models.cblstm", "CBLSTM", "convolution, batch norm, ReLU, BiLSTM"),
    "hadln": ("ecgzoo.models.hadln", "HADLN", "residual CNN + BiLSTM branches with attention"),
    "resnet1d": ("ecgzoo.models.resnet1d", "ResNet1D", "1D ResNet scalable in depth/width/kernel"),
    "spectrogram_cnn": (
        "ecgzoo.models.spectrogram_cnn",
        "SpectrogramCNN",
        "EfficientNet-Lite0 on a log spectrogram, ImageNet transfer",
    ),
}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str


def available_models() -> list[ModelInfo]:
    return [ModelInfo(name, desc) for name, (_, _, desc) in _MODELS.items()]


def model_class(name: str) -> type[nn.Module]:
    if name not in _MODELS:
        raise ConfigError(f"model.name: unknown model {name!r} (choose from {', '.join(_MODELS)})")
    module, cls, _ = _MODELS[name]
    return getattr(importlib.import_module(module), cls)


def build_model(
    name: str, n_leads: int, n_samples: int, n_classes: int, n_features: int = 0, **params
) -> nn.Module:
    """Instantiate a registered model; bad hyperparameters raise ``ConfigError``."""
    cls = model_class(name)
    try:
        return cls(n_leads, n_samples, n_classes, n_features=n_features, **params)
    except TypeError as exc:
        raise ConfigError(f"model.params for {name!r}: {exc}") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
