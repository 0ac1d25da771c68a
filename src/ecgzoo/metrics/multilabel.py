"""Multi-label metrics: per-label and macro AUROC, AUPRC and F1, per label group, thresholds.

A multi-label model outputs one independent probability per label (a sigmoid each). Binary
decisions need one threshold per label; :func:`choose_thresholds` picks, on the VALIDATION
split, the threshold maximising each label's F1, and those thresholds are then applied
unchanged to the test split (:func:`multilabel_metrics` takes them as an argument and never
chooses any itself).

Label groups follow the grouping of Lee, Jo and Kwon ("Optimizing neural network scale for ECG
classification") of the 26 scored classes of the 2021 challenge into arrhythmias, conduction
disorders, axis deviations and prolonged intervals; the waveform findings that fit none of
those four form a fifth group. :data:`LABEL_GROUPS` is written with the abbreviations of
``weights_abbreviations.csv``:

* arrhythmias (rhythm and ectopy): AF, AFL, Brady, NSR, PAC|SVPB, PR (pacing rhythm), PVC|VPB,
  SA, SB, STach;
* conduction disorders: BBB, CLBBB|LBBB, CRBBB|RBBB, IAVB (first-degree AV block, a conduction
  delay), IRBBB, LAnFB, NSIVCB;
* axis deviations: LAD, RAD;
* prolonged intervals: LPR (prolonged PR), LQT (prolonged QT);
* waveform abnormalities: LQRSV, PRWP, QAb, TAb, TInv.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

__all__ = [
    "LABEL_GROUPS",
    "choose_thresholds",
    "group_of",
    "groups_for",
    "multilabel_metrics",
]

LABEL_GROUPS: dict[str, tuple[str, ...]] = {
    "arrhythmias": ("AF", "AFL", "Brady", "NSR", "PAC|SVPB", "PR", "PVC|VPB", "SA", "SB", "STach"),
    "conduction disorders": (
        "BBB",
        "CLBBB|LBBB",
        "CRBBB|RBBB",
        "IAVB",
        "IRBBB",
        "LAnFB",
        "NSIVCB",
    ),
    "axis deviations": ("LAD", "RAD"),
    "prolonged intervals": ("LPR", "LQT"),
    "waveform abnormalities": ("LQRSV", "PRWP", "QAb", "TAb", "TInv"),
}
#: The threshold of a label with no positive (or no negative) validation example.
DEFAULT_THRESHOLD = 0.5


def group_of(label: str, groups: Mapping[str, Sequence[str]] = LABEL_GROUPS) -> str | None:
    """The group holding ``label`` (an abbreviation; any ``|``-part of a merged class counts)."""
    parts = set(label.split("|"))
    for group, members in groups.items():
        for member in members:
            if member == label or parts & set(member.split("|")):
                return group
    return None


def groups_for(
    labels: Sequence[str], groups: Mapping[str, Sequence[str]] = LABEL_GROUPS
) -> dict[str, list[int]]:
    """``{group: [label indices]}`` for the labels of a task (groups without labels left out)."""
    out: dict[str, list[int]] = {}
    for k, label in enumerate(labels):
        group = group_of(label, groups)
        if group is not None:
            out.setdefault(group, []).append(k)
    return out


def _check(y_true: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(prob, dtype=np.float64)
    if y.ndim != 2 or p.shape != y.shape:
        raise ValueError(
            f"expected targets and probabilities of the same shape (n, n_labels), "
            f"got {y.shape} and {p.shape}"
        )
    if len(y) == 0:
        raise ValueError("cannot compute metrics on zero examples")
    return y.astype(bool), p


def choose_thresholds(val_prob: np.ndarray, val_targets: np.ndarray) -> np.ndarray:
    """Per-label thresholds maximising F1 on the validation split (``prob >= t`` is positive).

    Each label's candidates are its distinct validation scores (scikit-learn's
    ``precision_recall_curve``); a tie in F1 keeps the highest threshold (fewest positives).
    Labels without both positive and negative validation examples get 0.5.
    """
    y, p = _check(val_targets, val_prob)
    thresholds = np.full(y.shape[1], DEFAULT_THRESHOLD)
    for k in range(y.shape[1]):
        if y[:, k].all() or not y[:, k].any():
            continue
        precision, recall, cuts = precision_recall_curve(y[:, k], p[:, k])
        precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
        denom = precision + recall
        f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
        best = np.flatnonzero(f1 == f1.max())
        thresholds[k] = float(cuts[best[-1]])
    return thresholds


def _label_stats(y: np.ndarray, p: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    both = bool(y.any() and not y.all())
    return {
        "support": int(y.sum()),
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "auprc": float(average_precision_score(y, p)) if y.any() else None,
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
    }


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _summary(per_label: dict[str, dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Macro means over the labels with at least one positive example (the scored ones)."""
    scored = [n for n in names if per_label[n]["support"] > 0]
    return {
        "macro_auroc": _mean([per_label[n]["auroc"] for n in scored]),
        "macro_auprc": _mean([per_label[n]["auprc"] for n in scored]),
        "macro_f1": _mean([per_label[n]["f1"] for n in scored]),
        "n_labels_scored": len(scored),
    }


def multilabel_metrics(
    y_true: np.ndarray,
    prob: np.ndarray,
    label_names: Sequence[str],
    thresholds: np.ndarray | Sequence[float] | float = DEFAULT_THRESHOLD,
    groups: Mapping[str, Sequence[str]] | None = LABEL_GROUPS,
) -> dict[str, Any]:
    """Per-label, macro and per-group AUROC, AUPRC and F1 of multi-label probabilities.

    ``y_true`` and ``prob`` are ``(n, n_labels)``; ``thresholds`` (one per label, or one for
    all; chosen on validation by :func:`choose_thresholds`) turn probabilities into decisions.
    Macro means average over the labels with at least one positive example; AUROC also
    needs a negative one (``None`` otherwise, left out of the mean). Returned keys:
    ``macro_auroc``, ``macro_auprc``, ``macro_f1``, ``micro_f1``, ``n_labels_scored``,
    ``subset_accuracy`` (every label right), ``per_label`` (``{name: {support, auroc, auprc,
    f1, precision, recall, threshold}}``), ``groups`` (``{group: {macro_*, labels}}``) and
    ``thresholds``.
    """
    y, p = _check(y_true, prob)
    names = [str(n) for n in label_names]
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} label names for {y.shape[1]} labels")
    t = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (y.shape[1],))
    pred = p >= t[None, :]
    per_label = {}
    for k, name in enumerate(names):
        per_label[name] = _label_stats(y[:, k], p[:, k], pred[:, k])
        per_label[name]["threshold"] = float(t[k])
    result: dict[str, Any] = _summary(per_label, names)
    result["micro_f1"] = float(f1_score(y, pred, average="micro", zero_division=0))
    result["subset_accuracy"] = float(np.mean(np.all(y == pred, axis=1)))
    result["n"] = int(len(y))
    result["per_label"] = per_label
    result["groups"] = {}
    if groups:
        for group, idx in groups_for(names, groups).items():
            members = [names[k] for k in idx]
            result["groups"][group] = {**_summary(per_label, members), "labels": members}
    result["thresholds"] = [float(v) for v in t]
    return result
