"""Split helpers over per-example labels and groups (records, patients).

Every function returns sorted ``int64`` index arrays into the arrays it was given, so the
caller can ``subset`` any number of aligned arrays with them. All randomness is seeded.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from ecgzoo.errors import ConfigError

# de Chazal, O'Dwyer, Reilly 2004 (IEEE TBME 51(7)): the inter-patient MIT-BIH split.
DS1: tuple[str, ...] = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)  # fmt: skip
DS2: tuple[str, ...] = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)  # fmt: skip
PACED: tuple[str, ...] = ("102", "104", "107", "217")  # left out of both, as AAMI recommends


def _sorted(index: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(index, dtype=np.int64))


def _check_fraction(name: str, fraction: float) -> None:
    if not 0.0 < float(fraction) < 1.0:
        raise ConfigError(f"{name}: must be between 0 and 1 (got {fraction})")


def _stratify_labels(y: np.ndarray) -> np.ndarray:
    """Labels usable for stratification: classes with fewer than 2 examples are merged into the
    most frequent class (sklearn cannot stratify a class of one), so they land on a random side.
    """
    y = np.asarray(y)
    values, counts = np.unique(y, return_counts=True)
    rare = values[counts < 2]
    if len(rare) == 0:
        return y
    out = y.copy()
    out[np.isin(y, rare)] = values[np.argmax(counts)]
    return out


def stratified_holdout(
    y: np.ndarray, test_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified random ``(train, test)`` index split: class proportions kept on both sides."""
    _check_fraction("test_fraction", test_fraction)
    y = np.asarray(y)
    if len(y) < 2:
        raise ConfigError(f"test_fraction: cannot split {len(y)} example(s)")
    index = np.arange(len(y))
    strat = _stratify_labels(y)
    try:
        train, test = train_test_split(
            index, test_size=test_fraction, random_state=seed, shuffle=True, stratify=strat
        )
    except ValueError:
        # Too few examples for one test slot per class: fall back to an unstratified split.
        train, test = train_test_split(
            index, test_size=test_fraction, random_state=seed, shuffle=True
        )
    return _sorted(train), _sorted(test)


def intra_patient_split(
    y: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified random ``(train, test)`` split by beat (the "intra-patient" protocol).

    Warning: beats of one patient (record) land on both sides, so a model can recognise the
    patient rather than the arrhythmia; scores from this split are optimistic and not
    comparable with the inter-patient protocol (:func:`inter_patient_split`). It is the
    protocol of the Kaggle "ECG Heartbeat Categorization" dataset and of Kachuee et al. 2018.
    """
    return stratified_holdout(y, test_fraction, seed)


def stratified_kfold(
    y: np.ndarray, n_folds: int, fold: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` indices of fold ``fold`` (0-based) of a shuffled stratified k-fold."""
    if n_folds < 2:
        raise ConfigError(f"n_folds: must be at least 2 (got {n_folds})")
    if not 0 <= fold < n_folds:
        raise ConfigError(f"fold: must be in 0..{n_folds - 1} (got {fold})")
    y = np.asarray(y)
    if len(y) < n_folds:
        raise ConfigError(f"n_folds: {n_folds} folds need at least {n_folds} examples")
    strat = _stratify_labels(y)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    # StratifiedKFold warns (does not fail) when a class has fewer members than folds.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for i, (train, test) in enumerate(skf.split(np.zeros(len(y)), strat)):
            if i == fold:
                return _sorted(train), _sorted(test)
    raise AssertionError("unreachable")


def _as_str(ids: np.ndarray | Sequence) -> np.ndarray:
    return np.asarray([str(v) for v in np.asarray(ids).tolist()]) if len(ids) else np.array([])


def inter_patient_split(records: np.ndarray | Sequence) -> tuple[np.ndarray, np.ndarray]:
    """de Chazal 2004 inter-patient split: ``(DS1 indices, DS2 indices)``.

    ``records`` holds the record id of every example (``100`` or ``"100"``). Examples of the
    paced records 102, 104, 107 and 217 (and of any record in neither set) are in neither
    output. DS1 is for training (and validation), DS2 for testing only.
    """
    ids = np.asarray(records)
    if ids.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    unique, inverse = np.unique(ids, return_inverse=True)
    names = _as_str(unique)
    ds1 = np.isin(names, DS1)[inverse]
    ds2 = np.isin(names, DS2)[inverse]
    return _sorted(np.flatnonzero(ds1)), _sorted(np.flatnonzero(ds2))


def validation_by_group(
    groups: np.ndarray,
    y: np.ndarray,
    fraction: float,
    seed: int = 0,
    n_trials: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` indices choosing whole groups (records) for validation.

    Draws ``n_trials`` seeded random orders of the groups; each takes groups in order until
    the validation part holds at least ``fraction`` of the examples (always leaving one group
    for training). The draw kept is the one whose validation part covers the most classes that
    occur in at least two groups (so that, for MIT-BIH DS1, validation holds S and V beats while
    training keeps them too); among those, the one whose share of each such class (and of all
    examples) is closest to ``fraction``, so that no rare class goes mostly to validation.
    """
    _check_fraction("val_fraction", fraction)
    groups = np.asarray(groups)
    y = np.asarray(y)
    if len(groups) != len(y):
        raise ValueError("groups and y differ in length")
    unique, g_index = np.unique(groups, return_inverse=True)
    if len(unique) < 2:
        raise ConfigError(
            f"val_fraction: need at least 2 groups (records) to hold some out, got {len(unique)}"
        )
    classes, c_index = np.unique(y, return_inverse=True)
    table = np.zeros((len(unique), len(classes)), dtype=np.int64)
    np.add.at(table, (g_index, c_index), 1)
    sizes = table.sum(axis=1)
    coverable = (table > 0).sum(axis=0) >= 2  # classes in at least two groups
    totals = table.sum(axis=0)
    target = fraction * len(y)
    rng = np.random.default_rng(seed)
    best: tuple[int, float] | None = None
    best_pick: np.ndarray | None = None
    for _ in range(n_trials):
        order = rng.permutation(len(unique))
        cum = np.cumsum(sizes[order])
        k = int(np.searchsorted(cum, target, side="left")) + 1
        k = min(max(k, 1), len(unique) - 1)
        pick = order[:k]
        in_val = table[pick].sum(axis=0) > 0
        in_train = np.delete(table, pick, axis=0).sum(axis=0) > 0
        covered = int(np.sum(in_val & in_train & coverable))
        share = table[pick].sum(axis=0)[coverable] / totals[coverable]
        spread = float(np.mean(np.abs(share - fraction))) if len(share) else 0.0
        score = (covered, -(spread + abs(cum[k - 1] - target) / len(y)))
        if best is None or score > best:
            best, best_pick = score, pick
    assert best_pick is not None
    val_mask = np.isin(g_index, best_pick)
    return _sorted(np.flatnonzero(~val_mask)), _sorted(np.flatnonzero(val_mask))
