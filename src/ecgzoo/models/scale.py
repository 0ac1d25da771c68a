"""What a model's scale costs and sees: receptive field, multiply-accumulates, parameters.

* :func:`receptive_field` walks the built module's convolution and pooling layers in order
  and applies the usual recursion (``r += (k_eff - 1) * jump; jump *= stride``, with
  ``k_eff = dilation * (k - 1) + 1``). Residual shortcuts (``shortcut`` submodules) run in
  parallel to the main branch, whose field is the larger, so they are skipped; their stride
  equals the branch's. The result is the field of one output sample of the last feature map,
  in input samples (and in seconds given the sampling rate).
* :func:`count_macs` runs one forward pass under ``torch.utils.flop_counter.FlopCounterMode``
  (torch's own count; a multiply-accumulate is two of its FLOPs).
* :func:`scale_profile` builds ``resnet1d`` for a depth/width/kernel/pooling point and
  reports all three plus the parameter count.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ecgzoo.errors import ConfigError
from ecgzoo.models.registry import build_model, count_parameters

__all__ = ["POOLINGS", "count_macs", "receptive_field", "resnet_params", "scale_profile"]

#: Pooling before the classifier: global average over time, or flattening the feature map.
POOLINGS = {"gap": True, "flatten": False}
_FIELD_LAYERS = (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)


def _first(value: Any) -> int:
    return int(value[0]) if isinstance(value, tuple | list) else int(value)


def receptive_field(model: nn.Module) -> int:
    """Receptive field (input samples) of one sample of the model's last feature map."""
    field, jump = 1, 1
    for name, module in model.named_modules():
        if not isinstance(module, _FIELD_LAYERS) or "shortcut" in name.split("."):
            continue
        kernel = _first(module.kernel_size)
        stride = _first(module.stride if module.stride is not None else kernel)
        dilation = _first(getattr(module, "dilation", 1))
        field += (dilation * (kernel - 1)) * jump
        jump *= stride
    return field


def count_macs(model: nn.Module, n_leads: int, n_samples: int, n_features: int = 0) -> int:
    """Multiply-accumulates of one forward pass on one example (torch's flop counter / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    x = torch.zeros(1, n_leads, n_samples)
    features = torch.zeros(1, n_features) if n_features else None
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x, features)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2


def resnet_params(depth: int, width: int, kernel: int, pooling: str = "gap") -> dict[str, Any]:
    """The ``model.params`` of ``resnet1d`` for one point of a D x C x K x pooling grid."""
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling: must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    return {
        "n_blocks": depth,
        "width": width,
        "kernel": kernel,
        "global_pool": POOLINGS[pooling],
    }


def scale_profile(
    n_leads: int,
    n_samples: int,
    n_classes: int,
    sampling_rate: float,
    params: dict[str, Any],
    n_features: int = 0,
) -> dict[str, Any]:
    """Parameters, receptive field (samples, seconds, share of the input) and MACs of a resnet1d.

    ``params`` are the model's ``model.params`` (see :func:`resnet_params`).
    """
    model = build_model("resnet1d", n_leads, n_samples, n_classes, n_features, **params)
    field = receptive_field(model)
    return {
        "params": count_parameters(model),
        "rf_samples": field,
        "rf_seconds": field / float(sampling_rate),
        "rf_fraction": min(field, n_samples) / n_samples,
        "macs": count_macs(model, n_leads, n_samples, n_features),
    }
