"""What a finished run writes: its best weights scored on validation and test, the final
training loss on a seeded subset (the overfitting gap), per-label thresholds for multi-label
runs (chosen on validation), and the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ecgzoo.datasets.arrays import ArraySplit, PreparedData
from ecgzoo.runs.runfolder import ModelSpec
from ecgzoo.train.evaluate import (
    cross_entropy,
    evaluate_split,
    predict_split,
    score_predictions,
)

TRAIN_LOSS_SUBSET = 20_000


def train_loss_rows(n_train: int, n: int = TRAIN_LOSS_SUBSET) -> np.ndarray | None:
    """The rows of the training split the final train loss (the overfitting gap) is measured
    on: at most ``n`` (``train.train_loss_examples``), a seeded random subset, sorted; None for
    all of them."""
    if n_train <= n:
        return None
    return np.sort(np.random.default_rng(0).choice(n_train, n, replace=False))


def train_loss_subset(train: ArraySplit, n: int = TRAIN_LOSS_SUBSET) -> ArraySplit:
    """:func:`train_loss_rows` of ``train`` as a split of its own (read into memory)."""
    rows = train_loss_rows(len(train), n)
    return train if rows is None else train.subset(rows)


def train_loss(
    model: nn.Module,
    spec: ModelSpec,
    train: ArraySplit,
    n: int,
    device: torch.device | None = None,
) -> float | None:
    """Loss on a seeded subset of at most ``n`` training examples; None when ``n`` is 0.

    Scoring the training split costs as much as scoring test (five crops per record for crop
    models): a sweep point on long records spends most of its final scoring here, so sweeps
    ask for a smaller subset, or none."""
    if n == 0:
        return None
    from ecgzoo.train.multilabel import binary_cross_entropy

    # the rows are scored a chunk at a time from the (memory-mapped) split, never gathered
    # whole: 20,000 12 x 1000 ECGs would be 915 MiB (measured at 88,000 ECGs, notes/ptbxl.md)
    rows = train_loss_rows(len(train), n)
    prob = predict_split(model, spec, train, device, rows=rows)
    score = binary_cross_entropy if spec.multilabel else cross_entropy
    return score(prob, np.asarray(train.y if rows is None else train.y[rows]))


def _gap(test_loss: Any, train_loss: float | None) -> float | None:
    return None if train_loss is None else test_loss - train_loss


def score_run(
    model: nn.Module,
    spec: ModelSpec,
    data: PreparedData,
    run_dir: Path,
    history: list[dict[str, Any]],
    device: torch.device | None = None,
    train_examples: int = TRAIN_LOSS_SUBSET,
    monitor: tuple[str, str] = ("val_loss", "min"),
) -> dict[str, Any]:
    """Score a run's best weights on val and test, measure the overfitting gap (on at most
    ``train_examples`` training examples; 0 skips it), draw its plots (the learning curves
    star the best ``monitor = (metric, mode)``, the checkpoint kept).

    The gap is ``test_loss - final_train_loss``, both the same plain cross-entropy of the same
    weights in eval mode (never the weighted or focal training criterion)."""
    from ecgzoo.report import plots

    if spec.multilabel:
        return score_multilabel_run(
            model, spec, data, run_dir, history, device, train_examples, monitor
        )
    test, test_prob = evaluate_split(model, spec, data.test, device)
    val, _ = evaluate_split(model, spec, data.val, device)
    loss = train_loss(model, spec, data.train, train_examples, device)
    if history:
        plots.plot_learning_curves(
            history, run_dir / "learning_curves.png", monitor=monitor[0], mode=monitor[1]
        )
    plots.plot_confusion_matrix(
        np.asarray(test["confusion_matrix"]), spec.class_names, run_dir / "confusion_matrix.png"
    )
    plots.plot_roc_curves(data.test.y, test_prob, spec.class_names, run_dir / "roc_curves.png")
    return {
        "test": test,
        "val": val,
        "final_train_loss": loss,
        "test_loss": test["loss"],
        "overfit_gap": _gap(test["loss"], loss),
    }


def score_multilabel_run(
    model: nn.Module,
    spec: ModelSpec,
    data: PreparedData,
    run_dir: Path,
    history: list[dict[str, Any]],
    device: torch.device | None = None,
    train_examples: int = TRAIN_LOSS_SUBSET,
    monitor: tuple[str, str] = ("val_loss", "min"),
) -> dict[str, Any]:
    """A multi-label run: per-label thresholds chosen on VALIDATION (F1-optimal), written into
    ``model.json``, then val and test scored with them. The test split never sees a choice."""
    from ecgzoo.metrics.multilabel import choose_thresholds
    from ecgzoo.report import plots
    from ecgzoo.runs.runfolder import write_spec

    val_prob = predict_split(model, spec, data.val, device)
    spec.thresholds = [float(t) for t in choose_thresholds(val_prob, np.asarray(data.val.y))]
    write_spec(run_dir, spec)
    # the thresholds apply to the probabilities already computed: no second pass over val
    val = score_predictions(data.val.y, val_prob, spec.class_names, spec.thresholds)
    test, _ = evaluate_split(model, spec, data.test, device)
    loss = train_loss(model, spec, data.train, train_examples, device)
    if history:
        plots.plot_learning_curves(
            history, run_dir / "learning_curves.png", monitor=monitor[0], mode=monitor[1]
        )
    return {
        "test": test,
        "val": val,
        "thresholds": dict(zip(spec.class_names, spec.thresholds, strict=True)),
        "final_train_loss": loss,
        "test_loss": test["loss"],
        "overfit_gap": _gap(test["loss"], loss),
    }


def final_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline test figures, for the experiment loggers."""
    test = metrics.get("test", {})
    keys = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1")
    keys += ("macro_auroc", "macro_auprc", "micro_f1")  # multi-label runs
    out = {f"test_{k}": float(test[k]) for k in keys if isinstance(test.get(k), int | float)}
    if isinstance(metrics.get("test_loss"), float) and np.isfinite(metrics["test_loss"]):
        out["test_loss"] = metrics["test_loss"]
    return out
