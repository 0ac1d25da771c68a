"""AAMI EC57 per-class beat statistics (N, S, V, F) from a confusion matrix.

Convention (the one commonly used with de Chazal et al. 2004 inter-patient results):

* The confusion matrix has rows = reference (annotated) class and columns = predicted class,
  in ``class_names`` order. ``class_names`` must contain ``N``, ``S``, ``V`` and ``F``; any
  other class (normally ``Q``, unclassifiable/paced beats) is an *excluded* class.
* Reference beats of an excluded class (the ``Q`` row) are not scored at all: they add to no
  TP, FN, FP or TN, as EC57 leaves reference Q beats out of the N/S/V/F statistics.
* A scored beat (reference N, S, V or F) that the classifier labels ``Q`` stays in the count:
  it is a false negative for its reference class (a missed beat) and a true negative for the
  other three classes. Predicting ``Q`` is therefore never free.
* For a class ``c``: TP = beats of ``c`` predicted ``c``; FN = other predictions for beats of
  ``c``; FP = scored beats of another class predicted ``c``; TN = the remaining scored beats.
  Se = TP/(TP+FN), +P = TP/(TP+FP), FPR = FP/(FP+TN), Sp = TN/(TN+FP),
  F1 = 2TP/(2TP+FP+FN), Acc = (TP+TN)/(TP+FN+FP+TN).
* EC57's fusion rule (:data:`UNCOUNTED`), as the standard's reference comparator computes it
  (WFDB ``bxb``: ``VFP = Nv + Sv + Ov + Xv``): a reference F beat predicted ``V`` is neither a
  false positive nor a true negative for V (the row's ``uncounted``; ``FP + uncounted`` is the
  stricter count). It stays a false negative for F. An F beat predicted ``S`` is an S false
  positive, as in ``bxb``.
* End to end (beats found by a QRS detector, :func:`with_detection`), the matrix gains the
  pseudo-class ``O`` as ``bxb`` has it: the ``O`` column holds reference beats no detection
  matched (a false negative for their class: ``SFN = ... + So``, ``VFN = ... + Vo``), the ``O``
  row detections no reference beat matched (a false positive for the class they were given:
  ``SFP = ... + Os``, ``VFP = ... + Ov``, else a true negative). Undetected beats are no true
  negative of another class (``bxb``'s ``VTN`` leaves out ``No``).
* Ratios with a zero denominator are ``None`` (rendered ``n/a``), not 0.

Statistics are fractions in [0, 1]; the markdown rendering shows percentages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ecgzoo.examples.beats import AAMI_CLASSES

__all__ = [
    "AAMI_SCORED",
    "NOT_MATCHED",
    "UNCOUNTED",
    "aami_markdown",
    "aami_summary",
    "aami_table",
    "sv_counts",
    "with_detection",
]

#: Classes that receive per-class statistics, in reporting order.
AAMI_SCORED: tuple[str, ...] = ("N", "S", "V", "F")

_STATS = ("Se", "+P", "FPR", "Sp", "F1", "Acc")

#: EC57 (``bxb``): the reference class whose beats predicted as the key class are not counted
#: for that class (neither FP nor TN): fusion beats called ventricular.
UNCOUNTED: dict[str, str] = {"V": "F"}


#: ``bxb``'s pseudo-class for a beat on one side only: a reference beat no detection matched
#: (its column) or a detection no reference beat matched (its row).
NOT_MATCHED = "O"


def with_detection(
    confusion: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    missed: Sequence[int],
    extra: Sequence[int],
) -> tuple[np.ndarray, list[str]]:
    """The matched beats' confusion grown by the :data:`NOT_MATCHED` row and column:
    ``missed[i]`` reference beats of class i that no detection matched, ``extra[j]``
    detections with no reference beat that were given class j. Score the result with
    :func:`aami_table` or :func:`sv_counts` and the class names returned."""
    cm = np.asarray(confusion, dtype=np.int64)
    k = len(class_names)
    missed, extra = np.asarray(missed, dtype=np.int64), np.asarray(extra, dtype=np.int64)
    if cm.shape != (k, k) or missed.shape != (k,) or extra.shape != (k,):
        raise ValueError(f"with_detection: expected a {k}x{k} matrix and two {k}-vectors")
    out = np.zeros((k + 1, k + 1), dtype=np.int64)
    out[:k, :k], out[:k, k], out[k, :k] = cm, missed, extra
    return out, [*map(str, class_names), NOT_MATCHED]


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den > 0 else None


def aami_table(
    confusion: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str] = AAMI_CLASSES,
) -> list[dict[str, Any]]:
    """Per-class EC57 statistics for N, S, V and F (see the module docstring for conventions).

    Returns a list of four dicts, one per class in N, S, V, F order, each with keys
    ``class`` (str), ``support`` (reference beats of the class), ``TP``, ``FN``, ``FP``,
    ``TN`` (int), and ``Se``, ``+P``, ``FPR``, ``Sp``, ``F1``, ``Acc`` (float in [0, 1] or
    ``None`` when undefined). ``pandas.DataFrame(aami_table(...))`` gives a frame.
    """
    cm = np.asarray(confusion)
    names = [str(c) for c in class_names]
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(names):
        raise ValueError(
            f"confusion must be a square {len(names)}x{len(names)} matrix for classes "
            f"{names}, got shape {cm.shape}"
        )
    if np.any(cm < 0):
        raise ValueError("confusion matrix counts must be non-negative")
    missing = [c for c in AAMI_SCORED if c not in names]
    if missing:
        raise ValueError(f"class_names {names} lack the AAMI classes {missing}")

    scored_rows = [names.index(c) for c in AAMI_SCORED]
    if NOT_MATCHED in names:  # detections with no reference beat: FP for the class given
        scored_rows.append(names.index(NOT_MATCHED))
    scored = cm[scored_rows, :].astype(np.int64)  # reference N,S,V,F(,O); all predicted columns
    total = int(scored.sum())
    # undetected beats (the O column) are FN for their class, never TN for another
    undetected = scored[:, names.index(NOT_MATCHED)] if NOT_MATCHED in names else None

    table: list[dict[str, Any]] = []
    for i, name in enumerate(AAMI_SCORED):
        col = names.index(name)
        tp = int(scored[i, col])
        fn = int(scored[i, :].sum()) - tp
        other = UNCOUNTED.get(name)
        uncounted = int(scored[AAMI_SCORED.index(other), col]) if other else 0
        fp = int(scored[:, col].sum()) - tp - uncounted
        tn = total - tp - fn - fp - uncounted
        if undetected is not None:
            tn -= int(undetected.sum()) - int(undetected[i])
        table.append(
            {
                "class": name,
                "support": tp + fn,
                "TP": tp,
                "FN": fn,
                "FP": fp,
                "TN": tn,
                "uncounted": uncounted,
                "Se": _ratio(tp, tp + fn),
                "+P": _ratio(tp, tp + fp),
                "FPR": _ratio(fp, fp + tn),
                "Sp": _ratio(tn, tn + fp),
                "F1": _ratio(2 * tp, 2 * tp + fp + fn),
                "Acc": _ratio(tp + tn, tp + fn + fp + tn),
            }
        )
    return table


def sv_counts(
    confusion: Sequence[Sequence[int]] | np.ndarray, class_names: Sequence[str] = AAMI_CLASSES
) -> dict[str, int]:
    """The S and V counts that pool over records and folds into EC57 figures: reference beats
    (``S``, ``V``), true positives (``S_tp``, ``V_tp``) and false positives as
    :func:`aami_table` counts them (``S_fp``, ``V_fp``), the F beats called V that EC57 leaves
    out (``V_uncounted``), plus every beat (``n``) and the beats predicted right (``correct``),
    Q included, for the accuracy: of matched beats only when the matrix has the
    :data:`NOT_MATCHED` pseudo-class (:func:`with_detection`)."""
    cm = np.asarray(confusion)
    rows = {r["class"]: r for r in aami_table(cm, class_names)}
    names = [str(c) for c in class_names]
    if NOT_MATCHED in names:
        keep = [i for i, c in enumerate(names) if c != NOT_MATCHED]
        cm = cm[np.ix_(keep, keep)]
    out: dict[str, int] = {}
    for name in ("S", "V"):
        out[name] = int(rows[name]["support"])
        out[f"{name}_tp"] = int(rows[name]["TP"])
        out[f"{name}_fp"] = int(rows[name]["FP"])
    out["V_uncounted"] = int(rows["V"]["uncounted"])
    out["n"], out["correct"] = int(cm.sum()), int(np.trace(cm))
    return out


def aami_markdown(table: list[dict[str, Any]], digits: int = 2) -> str:
    """Render an :func:`aami_table` result as a markdown pipe table with percentages."""
    header = ["Class", "Support", "TP", "FN", "FP", "TN"] + [f"{s} (%)" for s in _STATS]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for row in table:
        cells = [str(row["class"])] + [str(row[k]) for k in ("support", "TP", "FN", "FP", "TN")]
        for stat in _STATS:
            value = row[stat]
            cells.append("n/a" if value is None else f"{100.0 * value:.{digits}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def aami_summary(
    confusion: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str] = AAMI_CLASSES,
    prefix: str = "aami_",
) -> dict[str, float]:
    """Flat ``{prefix}{class}_{stat}`` floats (``aami_S_Se``, ``aami_V_+P``) for loggers.

    Undefined statistics are left out.
    """
    flat: dict[str, float] = {}
    for row in aami_table(confusion, class_names):
        for stat in _STATS:
            if row[stat] is not None:
                flat[f"{prefix}{row['class']}_{stat}"] = float(row[stat])
    return flat
