"""The multi-label loss: one sigmoid per label, binary cross-entropy, optional positive weights.

Rare labels (a handful of positives among thousands of records) contribute little to a plain
BCE; ``pos_weight = (negatives / positives) ** power`` per label scales their positive terms
up (``power`` 1 balances each label's positives and negatives, 0.5 softens it), as
``torch.nn.BCEWithLogitsLoss`` documents. Weights come from the TRAINING targets only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ecgzoo.errors import ConfigError

__all__ = [
    "binary_cross_entropy",
    "challenge_scoring_for",
    "multilabel_loss",
    "positive_weights",
    "score_multilabel",
]


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


# -- scoring a multi-label run ------------------------------------------------------------------


def binary_cross_entropy(prob: np.ndarray, targets: np.ndarray) -> float:
    """Mean per-label binary cross-entropy of probabilities (the plain multi-label loss)."""
    y = np.asarray(targets, dtype=np.float64)
    if len(y) == 0:
        return float("nan")
    p = np.clip(np.asarray(prob, dtype=np.float64), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def challenge_scoring_for(class_names: list[str]) -> Any:
    """The 2021 challenge scoring when ``class_names`` are its scored classes (in the order of
    ``weights.csv``), else None (another label set has no reward matrix)."""
    from ecgzoo.errors import DataError
    from ecgzoo.metrics.challenge2021 import load_scoring

    if len(class_names) != 26:  # the 2021 challenge scores 26 classes: skip reading the tables
        return None
    try:
        scoring = load_scoring()
    except DataError:
        return None
    if list(scoring.abbreviations) != list(class_names) and list(scoring.names) != list(
        class_names
    ):
        return None
    return scoring


def label_groups(class_names: list[str]) -> dict[str, tuple[str, ...]]:
    """The label groups a task is reported by: the dataset's own (its spec's ``label_groups``
    hook: PTB-XL's hierarchy, the rhythm windows' rhythms and ectopic beats), else the 2021
    challenge's groups."""
    from ecgzoo.datasets import registry
    from ecgzoo.metrics.multilabel import LABEL_GROUPS

    if (own := registry.label_groups(list(class_names))) is not None:
        return own
    return LABEL_GROUPS


def score_multilabel(
    y_true: np.ndarray, prob: np.ndarray, class_names: list[str], thresholds: np.ndarray
) -> dict[str, Any]:
    """Per-label, macro and per-group AUROC / AUPRC / F1 at ``thresholds`` (chosen on
    validation), the loss and, for the 2021 classes, the challenge score."""
    from ecgzoo.metrics.multilabel import multilabel_metrics

    result = multilabel_metrics(y_true, prob, class_names, thresholds, label_groups(class_names))
    result["loss"] = binary_cross_entropy(prob, y_true)
    scoring = challenge_scoring_for(list(class_names))
    if scoring is not None:
        pred = np.asarray(prob) >= np.asarray(thresholds)[None, :]
        result["challenge"] = {"challenge_score": scoring.score(np.asarray(y_true) > 0, pred)}
    result["positives"] = {
        c: int(v) for c, v in zip(class_names, np.asarray(y_true).sum(axis=0), strict=True)
    }
    return result
