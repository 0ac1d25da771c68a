"""Per-record label-free adaptation for ``annotate --adapt`` and ``evaluate --data --adapt``."""

from __future__ import annotations

import numpy as np
import torch

from ecgzoo.errors import ConfigError
from ecgzoo.models.adapt import ADAPTATIONS, adapt_batchnorm


def check_adaptation(adapt: str) -> str:
    """``adapt`` when it is known (:data:`ADAPTATIONS`), else a one-line ``ConfigError``."""
    if adapt not in ADAPTATIONS:
        choices = ", ".join(ADAPTATIONS)
        raise ConfigError(f"--adapt: unknown adaptation {adapt!r} (choose {choices})")
    return adapt


def standardised(features: np.ndarray | None, spec) -> torch.Tensor | None:
    """Side features scaled by the training mean and std saved in ``model.json``."""
    if features is None or not int(spec.n_features):
        return None
    mean = np.asarray(spec.feature_mean, dtype=np.float32)
    std = np.asarray(spec.feature_std, dtype=np.float32)
    return torch.from_numpy(((np.asarray(features, np.float32) - mean) / std).astype(np.float32))


def adapted_model(model: torch.nn.Module, spec, x: np.ndarray, features: np.ndarray | None):
    """``model`` with batch norm statistics of one record's inputs ``x`` (AdaBN; no labels)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if xt.dim() == 2:
        xt = xt[:, None, :]
    device = next(model.parameters()).device
    f = standardised(features, spec)
    return adapt_batchnorm(model, xt.to(device), None if f is None else f.to(device))
