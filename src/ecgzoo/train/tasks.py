"""What is being learnt: the loss, how logits become probabilities, and the per-epoch metrics.

The engine knows nothing about labels beyond this object; a multi-label task adds one class
here (sigmoid probabilities, a BCE-style loss, its own epoch metrics) and a case in
:func:`make_task`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ecgzoo.config import TrainConfig
from ecgzoo.errors import ConfigError
from ecgzoo.metrics.names import (
    MULTILABEL_KEYS,
    VAL_KEYS,
    class_metric,
)  # the one list of metric names
from ecgzoo.train.evaluate import AAMI_CLASSES, score_predictions
from ecgzoo.train.losses import make_loss


def class_powers(tc: TrainConfig, class_names: list[str]) -> np.ndarray:
    """Each class's weight power: ``train.class_weight_power``, or its own from
    ``train.class_weight_power_of``; a name that is not a class is a one-line error."""
    unknown = sorted(set(tc.class_weight_power_of) - set(class_names))
    if unknown:
        raise ConfigError(
            f"train.class_weight_power_of: {', '.join(unknown)} not among the classes "
            f"({', '.join(class_names)})"
        )
    return np.array([tc.class_weight_power_of.get(c, tc.class_weight_power) for c in class_names])


class SingleLabelTask:
    """One class per example: softmax probabilities, CE/weighted/focal loss, P/R/F1 per class."""

    def __init__(self, tc: TrainConfig, y_train: np.ndarray, class_names: list[str]):
        self.class_names = list(class_names)
        self.loss = make_loss(
            tc.loss,
            y_train,
            len(class_names),
            tc.focal_gamma,
            class_powers(tc, self.class_names),
            tc.class_weight_cap,
            tc.label_smoothing,
        )

    @staticmethod
    def probabilities(logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits.float(), dim=1)

    def epoch_metrics(self, y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
        """The ``val_*`` columns of ``history.csv`` for one epoch."""
        val: dict[str, Any] = score_predictions(y, prob, self.class_names)
        row = {"val_loss": float(val["loss"])}
        row.update({f"val_{k}": float(val[k]) for k in VAL_KEYS})
        for cls, stats in val["per_class"].items():
            row[class_metric(cls)] = float(stats["f1"])
        if self.class_names == AAMI_CLASSES:  # the inter-patient figure of merit, as EC57
            rows = {r["class"]: r for r in val["aami"]}  # counts it (metrics.aami)
            row["val_sv_f1"] = ((rows["S"]["F1"] or 0.0) + (rows["V"]["F1"] or 0.0)) / 2
        if "challenge" in val:
            row["val_challenge_f1"] = float(val["challenge"]["challenge_f1"])
        return row


class MultiLabelTask:
    """Several labels per example: one sigmoid each, BCE (optionally positive-weighted), and
    macro AUROC / AUPRC / F1 (at 0.5: thresholds are chosen once, after training) per epoch;
    the 2021 challenge score when the labels are the 2021 scored classes."""

    def __init__(self, tc: TrainConfig, y_train: np.ndarray, class_names: list[str]):
        from ecgzoo.train.multilabel import challenge_scoring_for, multilabel_loss

        if tc.class_weight_power_of:
            raise ConfigError("train.class_weight_power_of: single-label tasks only")
        self.class_names = list(class_names)
        self.loss = multilabel_loss(
            np.asarray(y_train),
            pos_weight=tc.loss == "weighted_bce",
            power=tc.class_weight_power,
            max_weight=tc.pos_weight_max,
        )
        self.scoring = challenge_scoring_for(self.class_names)

    @staticmethod
    def probabilities(logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits.float())

    def epoch_metrics(self, y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
        """The ``val_*`` columns of ``history.csv`` for one epoch (NaN where undefined)."""
        from ecgzoo.metrics.multilabel import multilabel_metrics
        from ecgzoo.train.multilabel import binary_cross_entropy

        m = multilabel_metrics(y, prob, self.class_names, groups=None)
        row = {"val_loss": binary_cross_entropy(prob, y)}
        for key in MULTILABEL_KEYS:
            row[f"val_{key}"] = float("nan") if m[key] is None else float(m[key])
        if self.scoring is not None:
            row["val_challenge_score"] = self.scoring.score(y > 0, prob >= 0.5)
        return row


Task = SingleLabelTask | MultiLabelTask


def class_weights_of(task: Task) -> dict[str, float] | None:
    """The loss's class weights by class name (``None`` for an unweighted loss): what the
    inverse-frequency weights came to, as ``metrics.json`` records them."""
    weight = getattr(task.loss, "weight", None)
    if not isinstance(task, SingleLabelTask) or weight is None:
        return None
    return {c: float(w) for c, w in zip(task.class_names, weight.tolist(), strict=True)}


def make_task(tc: TrainConfig, y_train: np.ndarray, class_names: list[str]) -> Task:
    """The task of a run: multi-label when the targets are multi-hot ``(n, n_labels)``."""
    if np.asarray(y_train).ndim == 2:
        return MultiLabelTask(tc, y_train, class_names)
    return SingleLabelTask(tc, y_train, class_names)
