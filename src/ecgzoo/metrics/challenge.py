"""PhysioNet/CinC Challenge 2017 scoring (AF classification from a single-lead ECG).

With the 4x4 confusion matrix over Normal ``N``, AF ``A``, Other ``O`` and Noisy ``~``
(rows = reference, columns = prediction), the per-class score is

    F1_c = 2 * cm[c, c] / (sum(cm[c, :]) + sum(cm[:, c]))

and the official final challenge score is the mean over the three rhythm classes,
``(F1_N + F1_A + F1_O) / 3`` (Clifford et al., CinC 2017). The noisy class' ``F1_~`` is
reported separately; ``f1_mean4`` is the four-class mean used during the unofficial phase.
A class with no reference and no predicted records has an undefined F1, reported as 0.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from ecgzoo.examples.classes import CHALLENGE_2017_CLASSES

__all__ = ["CHALLENGE_CLASSES", "challenge_f1_from_confusion", "challenge_scores"]

#: Class order of the challenge's reference files.
CHALLENGE_CLASSES: tuple[str, ...] = CHALLENGE_2017_CLASSES

_KEYS = {"N": "f1_N", "A": "f1_A", "O": "f1_O", "~": "f1_noisy"}


def challenge_f1_from_confusion(
    cm: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str] = CHALLENGE_CLASSES,
) -> dict[str, Any]:
    """Challenge 2017 F1 scores from a 4x4 confusion matrix (rows reference, cols predicted).

    ``class_names`` gives the order of the rows/columns and must be a permutation of
    ``N, A, O, ~``. Returns ``f1_N``, ``f1_A``, ``f1_O``, ``f1_noisy`` (per-class F1),
    ``challenge_f1`` (mean of N, A, O: the official score), ``f1_mean4`` (mean of all four),
    ``accuracy``, ``n_records`` and ``confusion_matrix`` (list of lists in N, A, O, ~ order).
    """
    m = np.asarray(cm, dtype=np.int64)
    names = [str(c) for c in class_names]
    if sorted(names) != sorted(CHALLENGE_CLASSES):
        raise ValueError(f"class_names must be a permutation of {CHALLENGE_CLASSES}, got {names}")
    if m.shape != (4, 4):
        raise ValueError(f"the challenge confusion matrix must be 4x4, got shape {m.shape}")
    if np.any(m < 0):
        raise ValueError("confusion matrix counts must be non-negative")
    order = [names.index(c) for c in CHALLENGE_CLASSES]
    m = m[np.ix_(order, order)]

    result: dict[str, Any] = {}
    for k, name in enumerate(CHALLENGE_CLASSES):
        den = int(m[k, :].sum() + m[:, k].sum())
        result[_KEYS[name]] = 2.0 * float(m[k, k]) / den if den > 0 else 0.0
    result["challenge_f1"] = (result["f1_N"] + result["f1_A"] + result["f1_O"]) / 3.0
    result["f1_mean4"] = (
        result["f1_N"] + result["f1_A"] + result["f1_O"] + result["f1_noisy"]
    ) / 4.0
    total = int(m.sum())
    result["accuracy"] = float(np.trace(m)) / total if total else 0.0
    result["n_records"] = total
    result["confusion_matrix"] = m.astype(int).tolist()
    return result


def challenge_scores(
    y_true: Sequence[Any] | np.ndarray,
    y_pred: Sequence[Any] | np.ndarray,
    class_names: Sequence[str] = CHALLENGE_CLASSES,
) -> dict[str, Any]:
    """Challenge 2017 scores from per-record labels.

    ``y_true``/``y_pred`` are either integer indices into ``class_names`` or the label strings
    themselves (``"N"``, ``"A"``, ``"O"``, ``"~"``). Returns the keys of
    :func:`challenge_f1_from_confusion`.
    """
    names = [str(c) for c in class_names]
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    if yt.shape != yp.shape or yt.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length: {yt.shape}, {yp.shape}")
    if yt.dtype.kind in "iu" and yp.dtype.kind in "iu":
        labels: list[Any] = list(range(len(names)))
    else:
        yt, yp = yt.astype(str), yp.astype(str)
        labels = names
    unknown = (set(yt.tolist()) | set(yp.tolist())) - set(labels)
    if unknown:
        raise ValueError(f"labels {sorted(map(str, unknown))} are not among {labels}")
    cm = confusion_matrix(yt, yp, labels=labels)
    return challenge_f1_from_confusion(cm, names)
