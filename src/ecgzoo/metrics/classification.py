"""Multi-class classification metrics, computed with scikit-learn.

Every value returned is a plain Python ``int``, ``float``, ``str``, ``list``, ``dict`` or
``None``, so the result can go straight into ``json.dump`` or an experiment logger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

__all__ = ["classification_metrics", "flatten_metrics", "roc_auc_ovr"]


def _as_labels(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def roc_auc_ovr(
    y_true: Sequence[int] | np.ndarray,
    y_prob: np.ndarray,
    class_names: Sequence[str],
) -> dict[str, Any]:
    """One-vs-rest ROC AUC per class and their macro mean, tolerant of absent classes.

    A class's AUC is defined only when ``y_true`` holds at least one example of it and at
    least one example of another class. Classes without positives (or without negatives) are
    skipped and listed in ``skipped``; the macro AUC is the unweighted mean over the classes
    that could be scored. With every class present this equals
    ``sklearn.metrics.roc_auc_score(y_true, y_prob, multi_class="ovr", average="macro")``.

    Returns ``{"macro": float | None, "per_class": {name: float}, "skipped": [name, ...]}``;
    ``macro`` is ``None`` when no class could be scored (for example a single-class
    ``y_true``) or when the scores are not finite.
    """
    y = _as_labels(y_true, "y_true")
    prob = np.asarray(y_prob, dtype=np.float64)
    names = list(class_names)
    if prob.ndim != 2 or prob.shape != (len(y), len(names)):
        raise ValueError(
            f"y_prob must have shape (n_examples, n_classes) = ({len(y)}, {len(names)}), "
            f"got {prob.shape}"
        )
    per_class: dict[str, float] = {}
    skipped: list[str] = []
    finite = bool(np.all(np.isfinite(prob)))
    for k, name in enumerate(names):
        positives = y == k
        n_pos = int(positives.sum())
        if not finite or n_pos == 0 or n_pos == len(y):
            skipped.append(name)
            continue
        per_class[name] = float(roc_auc_score(positives.astype(np.int64), prob[:, k]))
    macro = float(np.mean(list(per_class.values()))) if per_class else None
    return {"macro": macro, "per_class": per_class, "skipped": skipped}


def classification_metrics(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    y_prob: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy, precision/recall/F1 (macro, weighted, per class), ROC AUC and confusion matrix.

    ``y_true`` and ``y_pred`` are integer class indices into ``class_names``; ``y_prob`` is an
    optional ``(n, n_classes)`` array of scores (softmax probabilities or logits; only their
    ranking matters for the AUC). Without ``class_names`` the classes are named ``"0"``,
    ``"1"``, ... up to the largest index seen (or ``y_prob``'s width).

    Conventions:

    * Undefined ratios (no prediction of a class, no example of a class) count as 0 and
      raise no warning (``zero_division=0``).
    * ``macro_*`` average over the classes present in ``y_true`` or ``y_pred`` (scikit-learn's
      default), so a class absent from an evaluation split does not drag the mean to 0;
      ``weighted_*`` weight by support. ``per_class`` lists every class in ``class_names``.
    * ``confusion_matrix`` has one row and column per class in ``class_names`` order even when
      a class is absent; rows are the reference, columns the prediction.
    * ``roc_auc_macro`` is the mean one-vs-rest AUC over the classes with both positives and
      negatives in ``y_true`` (``None`` without ``y_prob`` or when none qualifies);
      ``roc_auc_skipped`` names the classes left out.

    Returned keys: ``n_examples``, ``accuracy``, ``macro_precision``, ``macro_recall``,
    ``macro_f1``, ``weighted_precision``, ``weighted_recall``, ``weighted_f1``,
    ``roc_auc_macro``, ``roc_auc_per_class`` (``{name: auc}``), ``roc_auc_skipped``
    (``[name]``), ``per_class`` (``{name: {"precision", "recall", "f1", "support"}}``),
    ``confusion_matrix`` (list of lists of int), ``class_names``.
    """
    yt = _as_labels(y_true, "y_true")
    yp = _as_labels(y_pred, "y_pred")
    if len(yt) != len(yp):
        raise ValueError(f"y_true has {len(yt)} labels but y_pred has {len(yp)}")
    if len(yt) == 0:
        raise ValueError("cannot compute metrics on zero examples")

    if class_names is None:
        width = int(max(yt.max(), yp.max())) + 1
        if y_prob is not None:
            width = max(width, int(np.asarray(y_prob).shape[-1]))
        names = [str(k) for k in range(width)]
    else:
        names = [str(c) for c in class_names]
    n_classes = len(names)
    if yt.min() < 0 or yp.min() < 0 or yt.max() >= n_classes or yp.max() >= n_classes:
        raise ValueError(f"class indices must lie in [0, {n_classes}) for classes {names}")
    labels = list(range(n_classes))

    present = sorted(set(yt.tolist()) | set(yp.tolist()))
    result: dict[str, Any] = {
        "n_examples": len(yt),
        "accuracy": float(accuracy_score(yt, yp)),
    }
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            yt, yp, labels=present, average=average, zero_division=0
        )
        result[f"{average}_precision"] = float(p)
        result[f"{average}_recall"] = float(r)
        result[f"{average}_f1"] = float(f)

    if y_prob is not None:
        auc = roc_auc_ovr(yt, y_prob, names)
        result["roc_auc_macro"] = auc["macro"]
        result["roc_auc_per_class"] = auc["per_class"]
        result["roc_auc_skipped"] = auc["skipped"]
    else:
        result["roc_auc_macro"] = None
        result["roc_auc_per_class"] = {}
        result["roc_auc_skipped"] = list(names)

    p, r, f, s = precision_recall_fscore_support(
        yt, yp, labels=labels, average=None, zero_division=0
    )
    result["per_class"] = {
        name: {
            "precision": float(p[k]),
            "recall": float(r[k]),
            "f1": float(f[k]),
            "support": int(s[k]),
        }
        for k, name in enumerate(names)
    }
    result["confusion_matrix"] = confusion_matrix(yt, yp, labels=labels).astype(int).tolist()
    result["class_names"] = names
    return result


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric scalars of a :func:`classification_metrics` result, flat, for loggers.

    Top-level numbers keep their key (``accuracy`` -> ``{prefix}accuracy``); per-class values
    become ``{prefix}{stat}_{class}`` (``val_recall_S``), per-class AUCs
    ``{prefix}roc_auc_{class}``. ``None`` values and nested lists are left out.
    """
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float | np.integer | np.floating):
            flat[f"{prefix}{key}"] = float(value)
    for name, stats in metrics.get("per_class", {}).items():
        for stat, value in stats.items():
            flat[f"{prefix}{stat}_{name}"] = float(value)
    for name, value in metrics.get("roc_auc_per_class", {}).items():
        flat[f"{prefix}roc_auc_{name}"] = float(value)
    return flat
