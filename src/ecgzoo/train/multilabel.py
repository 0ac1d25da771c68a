"""The multi-label loss: one sigmoid per label, binary cross-entropy, optional positive weights.

Rare labels (a handful of positives among thousands of records) contribute little to a plain
BCE; ``pos_weight = (negatives / positives) ** power`` per label scales their positive terms
up (``power`` 1 balances each label's positives and negatives, 0.5 softens it), as
``torch.nn.BCEWithLogitsLoss`` documents. Weights come from the TRAINING targets only.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ecgzoo.errors import ConfigError

__all__ = ["multilabel_loss", "positive_weights"]


def positive_weights(
    targets: np.ndarray, power: float = 1.0, max_weight: float | None = None
) -> torch.Tensor:
    """Per-label ``(negatives / positives) ** power`` from ``(n, n_labels)`` training targets.

    A label without positives (or without negatives) gets weight 1: there is nothing to
    balance. ``max_weight`` caps the weights (a label with 2 positives in 40,000 records
    would otherwise get 20,000).
    """
    y = np.asarray(targets)
    if y.ndim != 2 or len(y) == 0:
        raise ValueError(f"targets: expected a non-empty (n, n_labels) array, got shape {y.shape}")
    if not 0 <= power <= 1:
        raise ConfigError(f"pos_weight power must be in [0, 1], got {power}")
    pos = (y > 0).sum(axis=0).astype(np.float64)
    neg = len(y) - pos
    ratio = np.ones_like(pos)
    ok = (pos > 0) & (neg > 0)
    ratio[ok] = (neg[ok] / pos[ok]) ** power
    if max_weight is not None:
        if max_weight < 1:
            raise ConfigError(f"pos_weight max_weight must be >= 1, got {max_weight}")
        ratio = np.minimum(ratio, max_weight)
    return torch.tensor(ratio, dtype=torch.float32)


def multilabel_loss(
    targets: np.ndarray | None = None,
    pos_weight: bool = False,
    power: float = 1.0,
    max_weight: float | None = None,
) -> nn.BCEWithLogitsLoss:
    """``BCEWithLogitsLoss`` over ``(batch, n_labels)`` logits and {0, 1} float targets.

    With ``pos_weight`` the positive terms of each label are weighted by
    :func:`positive_weights` of the training ``targets`` (required then).
    """
    if not pos_weight:
        return nn.BCEWithLogitsLoss()
    if targets is None:
        raise ConfigError("multi-label loss: pos_weight needs the training targets")
    return nn.BCEWithLogitsLoss(pos_weight=positive_weights(targets, power, max_weight))
