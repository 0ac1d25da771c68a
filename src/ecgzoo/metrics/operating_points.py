"""Operating points of a single-label classifier: per-class decision weights chosen on validation.

A softmax classifier predicts ``argmax(p)``. Multiplying the probabilities by a per-class
weight first, ``argmax(p * w)``, moves its operating point (trading a frequent class's
precision for a rare class's recall) without retraining. The weights are CHOSEN on the
validation split (:func:`choose_weights`) and then APPLIED unchanged to any other split
(:func:`apply_weights`); nothing here reads a test split.

Operating points (:data:`OPERATING_POINTS`):

* ``argmax``: every weight 1, the model's plain prediction.
* ``accuracy``: the highest validation macro F1 whose validation accuracy is at least
  argmax's: the F1 of the rare classes rises without giving accuracy away.
* ``recall``: the highest validation macro recall whose validation accuracy is at least a
  floor (``accuracy_floor``, e.g. 0.969 to match the operating point of the CNN-vs-RNN study).
* ``sv_f1`` (AAMI beat classes): the highest mean of the S and V F1 (SVEB and VEB) as EC57
  counts them (:mod:`ecgzoo.metrics.aami`: reference beats outside N, S, V, F left out, F beats
  called V not counted for V), no accuracy floor: the inter-patient beat goal (issue 19). Only
  the S and V weights move (N, F, Q stay 1): two degrees of freedom for a two-class objective.

The search is a deterministic coordinate ascent over log-spaced weights (the first class's
weight stays 1: ``argmax(p * w)`` does not change when every weight is scaled alike). Each
step scores every candidate weight of one class at once from vectorised confusion matrices,
whose accuracy, macro recall and macro F1 follow scikit-learn's conventions
(:func:`ecgzoo.metrics.classification.classification_metrics`: macro averages over the
classes present in the reference or the prediction, undefined ratios count as 0). Among
candidates that tie, the middle one is kept, away from the edge where the metric drops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "OPERATING_POINTS",
    "OperatingPoint",
    "apply_weights",
    "choose_weights",
    "confusion_scores",
]

OPERATING_POINTS = ("argmax", "accuracy", "recall", "sv_f1")
#: The accuracy of the CNN-vs-RNN study's headline operating point (macro recall 0.965).
DEFAULT_ACCURACY_FLOOR = 0.969
#: Candidate weights of one class: 10**-3 .. 10**3, 121 log-spaced values (1 among them).
WEIGHT_GRID = 10.0 ** np.linspace(-3.0, 3.0, 121)
MAX_ROUNDS = 8


@dataclass
class OperatingPoint:
    """Decision weights and what they scored on the split they were chosen on."""

    name: str
    weights: list[float]
    class_names: list[str]
    accuracy_floor: float | None = None
    floor_met: bool = True
    chosen_on: str = "val"
    chosen_scores: dict[str, float] = field(default_factory=dict)
    argmax_scores: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: weights keyed by class name, the scores on the choosing split."""
        out = asdict(self)
        out["weights"] = dict(zip(self.class_names, self.weights, strict=True))
        del out["class_names"]
        return out


def apply_weights(prob: np.ndarray, weights: np.ndarray | list[float] | None) -> np.ndarray:
    """Predicted classes ``argmax(prob * weights)`` (plain argmax when ``weights`` is None)."""
    prob = np.asarray(prob)
    if weights is None:
        return prob.argmax(axis=1)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (prob.shape[1],) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"weights must be {prob.shape[1]} positive numbers, got {w.tolist()}")
    return (prob * w).argmax(axis=1)


class SvColumns(NamedTuple):
    """Where ``sv_f1`` reads a confusion matrix: the S and V columns, the reference rows EC57
    scores (N, S, V, F) and the F row, whose beats called V are not counted for V."""

    s: int
    v: int
    scored: list[int]
    fusion: int


def confusion_scores(
    y: np.ndarray, preds: np.ndarray, n_classes: int, pair: SvColumns | None = None
) -> dict[str, np.ndarray]:
    """Accuracy, macro recall and macro F1 of each row of ``preds`` ``(g, n)`` against ``y``
    (and ``sv_f1``, the mean EC57 F1 of S and V, when ``pair`` is given).

    One ``bincount`` builds all ``g`` confusion matrices; the averages follow scikit-learn's
    ``precision_recall_fscore_support(labels=present, average="macro", zero_division=0)``.
    """
    y = np.asarray(y, dtype=np.int64)
    preds = np.atleast_2d(np.asarray(preds, dtype=np.int64))
    g, k = preds.shape[0], n_classes
    flat = (np.arange(g)[:, None] * k * k + y[None, :] * k + preds).ravel()
    cm = np.bincount(flat, minlength=g * k * k).reshape(g, k, k).astype(np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    present = (support > 0) | (predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    n_present = np.maximum(present.sum(axis=1), 1)
    out = {
        "accuracy": tp.sum(axis=1) / max(len(y), 1),
        "macro_recall": (recall * present).sum(axis=1) / n_present,
        "macro_f1": (f1 * present).sum(axis=1) / n_present,
    }
    if pair is not None:
        out["sv_f1"] = (_ec57_f1(cm, pair.s, pair) + _ec57_f1(cm, pair.v, pair)) / 2
    return out


def _ec57_f1(cm: np.ndarray, c: int, sv: SvColumns) -> np.ndarray:
    """F1 of class ``c`` in each confusion matrix of ``cm`` ``(g, k, k)`` as
    :func:`ecgzoo.metrics.aami.aami_table` counts it (0 where undefined)."""
    tp = cm[:, c, c]
    fn = cm[:, c, :].sum(axis=1) - tp
    fp = cm[:, sv.scored, c].sum(axis=1) - tp
    if c == sv.v:
        fp = fp - cm[:, sv.fusion, c]
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def _objective(scores: dict[str, np.ndarray], target: str, floor: float) -> np.ndarray:
    """Feasible candidates rank by ``target`` above 1; infeasible ones by accuracy below 1."""
    feasible = scores["accuracy"] >= floor - 1e-12
    return np.where(feasible, 1.0 + scores[target], scores["accuracy"])


def _scores_at(
    prob: np.ndarray, y: np.ndarray, w: np.ndarray, pair: tuple[int, int] | None = None
) -> dict[str, float]:
    s = confusion_scores(y, apply_weights(prob, w)[None, :], prob.shape[1], pair)
    return {key: float(v[0]) for key, v in s.items()}


def _sv_pair(point: str, class_names: list[str]) -> SvColumns | None:
    """Where the ``sv_f1`` point reads its confusion matrices (``None`` for the other points)."""
    from ecgzoo.metrics.aami import AAMI_SCORED, UNCOUNTED

    if point != "sv_f1":
        return None
    if any(c not in class_names for c in AAMI_SCORED):
        raise ValueError(f"operating point sv_f1: needs classes N, S, V and F (got {class_names})")
    index = class_names.index
    return SvColumns(index("S"), index("V"), [index(c) for c in AAMI_SCORED], index(UNCOUNTED["V"]))


def choose_weights(
    prob: np.ndarray,
    y: np.ndarray,
    point: str,
    class_names: list[str],
    accuracy_floor: float = DEFAULT_ACCURACY_FLOOR,
) -> OperatingPoint:
    """Choose the decision weights of operating point ``point`` on ``(prob, y)`` (validation).

    Deterministic: same inputs, same weights. Each accepted step strictly raises the
    objective, so the chosen point scores at least as well as argmax on ``(prob, y)``.
    """
    prob = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    k = prob.shape[1]
    if point not in OPERATING_POINTS:
        raise ValueError(f"unknown operating point {point!r} ({', '.join(OPERATING_POINTS)})")
    if prob.ndim != 2 or len(prob) != len(y) or len(y) == 0 or len(class_names) != k:
        raise ValueError(f"prob {prob.shape}, labels {y.shape} and classes {class_names} differ")
    w = np.ones(k)
    pair = _sv_pair(point, list(class_names))
    base = _scores_at(prob, y, w, pair)
    if point == "argmax":
        return OperatingPoint(point, w.tolist(), list(class_names), None, True, "val", base, base)
    target, floor = {
        "accuracy": ("macro_f1", base["accuracy"]),
        "recall": ("macro_recall", float(accuracy_floor)),
        "sv_f1": ("sv_f1", 0.0),  # no floor: the S and V F1 alone
    }[point]
    current = float(_objective({kk: np.array([v]) for kk, v in base.items()}, target, floor)[0])
    # class 0's weight stays 1 (only ratios matter); sv_f1 moves S's and V's alone
    movable = [pair.s, pair.v] if pair is not None else range(1, k)
    for _ in range(MAX_ROUNDS):
        improved = False
        for c in movable:
            cand = np.repeat(w[None, :], len(WEIGHT_GRID), axis=0)
            cand[:, c] = WEIGHT_GRID
            preds = (prob[None, :, :] * cand[:, None, :]).argmax(axis=2)
            obj = _objective(confusion_scores(y, preds, k, pair), target, floor)
            best = obj.max()
            if best > current + 1e-12:
                ties = np.flatnonzero(obj >= best - 1e-12)
                w[c] = WEIGHT_GRID[ties[len(ties) // 2]]
                current, improved = float(best), True
        if not improved:
            break
    chosen = _scores_at(prob, y, w, pair)
    return OperatingPoint(
        point,
        [float(v) for v in w],
        list(class_names),
        floor,
        chosen["accuracy"] >= floor - 1e-12,
        "val",
        chosen,
        base,
    )
