"""Classification losses: cross-entropy, inverse-frequency weighted cross-entropy, focal loss."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ecgzoo.errors import ConfigError


def inverse_frequency_weights(
    y: np.ndarray, n_classes: int, power: float | np.ndarray = 1.0, cap: float | None = None
) -> torch.Tensor:
    """Weights ``(n / (k * count_c)) ** power`` over the k present classes; absent -> 0.

    ``power = 1`` makes every class contribute equally; ``0.5`` keeps a class with a handful of
    examples from dominating the loss; one power per class (an array) softens some classes
    only. ``cap``: no weight above it (MIT-BIH DS1 has 6 Q beats in 51,000, whose uncapped
    weight ~1,500 makes the model call Q everywhere).
    """
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes).astype(np.float64)
    weights = np.zeros(n_classes)
    present = counts > 0
    powers = np.broadcast_to(np.asarray(power, dtype=np.float64), (n_classes,))
    weights[present] = (counts.sum() / (present.sum() * counts[present])) ** powers[present]
    if cap is not None:
        weights = np.minimum(weights, cap)
    return torch.tensor(weights, dtype=torch.float32)


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017) with optional per-class weights.

    ``loss = -w_y * (1 - p_y) ** gamma * log p_y``, averaged over the batch as weighted
    cross-entropy is (divided by the sum of the weights). With ``gamma = 0`` and no weights it is
    exactly cross-entropy.
    """

    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None):
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"train.focal_gamma must be >= 0, got {gamma}")
        self.gamma = gamma
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
        focal = (1.0 - log_p.exp()).clamp_min(0.0) ** self.gamma
        loss = -focal * log_p
        if self.weight is None:
            return loss.mean()
        w = self.weight[target]
        return (w * loss).sum() / w.sum().clamp_min(1e-12)


class SmoothedWeightedCrossEntropy(nn.Module):
    """Label-smoothed cross-entropy, each example weighted by its own class's weight:
    ``sum_i w_{y_i} * CE_eps(x_i, y_i) / sum_i w_{y_i}`` with torch's smoothing ``CE_eps``.

    Not ``nn.CrossEntropyLoss(weight, label_smoothing)``: torch weights each class's share of
    the smoothing term by that class's weight, so with inverse-frequency weights (F capped at 20,
    N about 0.3) every beat is pulled towards the rare classes; on the SVDB folds it called
    26,896 of 27,624 N beats F (notes/beats14.md, round LS).
    """

    def __init__(self, weight: torch.Tensor, smoothing: float):
        super().__init__()
        self.smoothing = smoothing
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per_example = F.cross_entropy(
            logits, target, reduction="none", label_smoothing=self.smoothing
        )
        w = self.weight[target]
        return (w * per_example).sum() / w.sum().clamp_min(1e-12)


def make_loss(
    kind: str,
    y_train: np.ndarray,
    n_classes: int,
    gamma: float = 2.0,
    power: float | np.ndarray = 1.0,
    cap: float | None = None,
    smoothing: float = 0.0,
) -> nn.Module:
    """The training loss named ``kind``: ``ce``, ``weighted_ce`` or ``focal`` (weighted).
    ``smoothing``: label smoothing (the target puts ``smoothing / n_classes`` on every class;
    with weights, see :class:`SmoothedWeightedCrossEntropy`)."""
    if kind == "ce":
        return nn.CrossEntropyLoss(label_smoothing=smoothing)
    if kind == "weighted_ce":
        weight = inverse_frequency_weights(y_train, n_classes, power, cap)
        if smoothing > 0:
            return SmoothedWeightedCrossEntropy(weight, smoothing)
        return nn.CrossEntropyLoss(weight=weight)
    if kind == "focal":
        return FocalLoss(gamma, inverse_frequency_weights(y_train, n_classes, power, cap))
    raise ConfigError(f"train.loss: unknown loss {kind!r} (choose ce, weighted_ce, focal)")
