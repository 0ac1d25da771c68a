"""Splits, a stage of their own: per-example labels and groups (records, patients) in, sorted
``int64`` index arrays out, so the caller can ``subset`` any number of aligned arrays with them.
All randomness is seeded.

Protocols (:func:`split_by_protocol`): ``intra`` (beats of one record on both sides, by design),
``inter`` (de Chazal DS1 -> DS2), ``stratified`` (whole groups, class proportions kept),
``kfold`` (stratified k-fold by group) and cross-database ones such as ``mitdb:DS1+svdb ->
mitdb:DS2`` or ``mitdb -> svdb``. Every group-aware split checks with :func:`check_disjoint` that
no group (record or patient) is on both sides.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from ecgzoo.errors import ConfigError, DataError

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
    from sklearn.model_selection import train_test_split  # ~0.5 s to import: only when used

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
    from sklearn.model_selection import StratifiedKFold  # ~0.5 s to import: only when used

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
    ds1 = _sorted(np.flatnonzero(np.isin(names, DS1)[inverse]))
    ds2 = _sorted(np.flatnonzero(np.isin(names, DS2)[inverse]))
    check_disjoint(ids, train=ds1, test=ds2)
    return ds1, ds2


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
    train, val = _sorted(np.flatnonzero(~val_mask)), _sorted(np.flatnonzero(val_mask))
    check_disjoint(groups, train=train, val=val)
    return train, val


# --------------------------------------------------------------------------- group-aware


def check_disjoint(groups: np.ndarray | Sequence, **sides: np.ndarray) -> None:
    """Raise DataError when a group (record, patient) has examples on two of the ``sides``.

    ``check_disjoint(groups, train=tr, test=te)``: ``groups`` holds every example's group and
    each side is an index array into it.
    """
    groups = np.asarray(groups)
    seen: dict[str, set] = {}
    for name, index in sides.items():
        seen[name] = set(groups[np.asarray(index, dtype=np.int64)].tolist())
    names = list(seen)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = sorted(seen[a] & seen[b], key=str)
            if shared:
                shown = ", ".join(str(g) for g in shared[:5])
                more = f" and {len(shared) - 5} more" if len(shared) > 5 else ""
                raise DataError(
                    f"split leaks: group(s) {shown}{more} have examples in both {a} and {b}"
                )


def group_kfold(
    groups: np.ndarray | Sequence, y: np.ndarray, n_folds: int, fold: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` of fold ``fold`` of a shuffled stratified k-fold over whole groups
    (scikit-learn's ``StratifiedGroupKFold``)."""
    groups = np.asarray(groups)
    y = np.asarray(y)
    if n_folds < 2:
        raise ConfigError(f"n_folds: must be at least 2 (got {n_folds})")
    if not 0 <= fold < n_folds:
        raise ConfigError(f"fold: must be in 0..{n_folds - 1} (got {fold})")
    if len(groups) != len(y):
        raise ConfigError(f"groups ({len(groups)}) and labels ({len(y)}) differ in length")
    n_groups = len(np.unique(groups))
    if n_groups < n_folds:
        raise ConfigError(
            f"n_folds: {n_folds} folds need at least {n_folds} groups, got {n_groups}"
        )
    from sklearn.model_selection import StratifiedGroupKFold  # ~0.5 s to import: only when used

    sgkf = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # classes with fewer groups than folds: a warning only
        warnings.simplefilter("ignore", UserWarning)
        for i, (train, test) in enumerate(sgkf.split(np.zeros(len(y)), y, groups)):
            if i == fold:
                train, test = _sorted(train), _sorted(test)
                check_disjoint(groups, train=train, test=test)
                return train, test
    raise AssertionError("unreachable")


def record_fold(names: Sequence[str], n_folds: int, fold: int, seed: int) -> list[str]:
    """The records of fold ``fold`` of ``n_folds``: the sorted distinct ``names`` put in a
    ``seed``-ed random order and dealt round-robin (sorted in the result). Record-wise, so a
    patient is on one side only; the same for every model kind (torch and tree paths)."""
    distinct = sorted({str(n) for n in names})
    if n_folds < 2:
        raise ConfigError(f"n_folds: must be at least 2 (got {n_folds})")
    if not 0 <= fold < n_folds:
        raise ConfigError(f"fold: must be in 0..{n_folds - 1} (got {fold})")
    if len(distinct) < n_folds:
        raise ConfigError(f"n_folds: {n_folds} folds need {n_folds} records, got {len(distinct)}")
    order = np.random.default_rng(seed).permutation(len(distinct))
    return sorted(distinct[i] for i in order[fold::n_folds])


def group_holdout(
    groups: np.ndarray | Sequence, y: np.ndarray, test_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified ``(train, test)`` split over whole groups holding about ``test_fraction``:
    the first fold of a stratified group k-fold with ``round(1 / test_fraction)`` folds."""
    _check_fraction("test_fraction", test_fraction)
    n_folds = max(2, round(1 / float(test_fraction)))
    return group_kfold(groups, y, n_folds, 0, seed)


def _db_selection(spec: str) -> tuple[str, tuple[str, ...] | None]:
    """``"mitdb:DS1"`` -> ``("mitdb", DS1)``; ``"mitdb"`` -> DS1 + DS2 (paced records out)."""
    name, _, subset = spec.strip().partition(":")
    subsets = {"DS1": DS1, "DS2": DS2}
    if subset:
        if name != "mitdb" or subset not in subsets:
            raise ConfigError(
                f"split protocol: unknown subset {spec!r} (only mitdb:DS1 and mitdb:DS2)"
            )
        return name, subsets[subset]
    return name, (DS1 + DS2 if name == "mitdb" else None)


def cross_database_split(
    databases: np.ndarray | Sequence,
    records: np.ndarray | Sequence,
    train: Sequence[str],
    test: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` for training on some databases and testing on others.

    ``databases``/``records`` give each example's database and record; ``train`` and ``test``
    name databases, optionally narrowed to de Chazal's sets (``("mitdb:DS1", "svdb")`` ->
    ``("mitdb:DS2",)``, or ``("mitdb",)`` -> ``("svdb",)``; plain ``mitdb`` leaves the paced
    records out). Groups are ``database/record``, checked disjoint.
    """
    dbs = np.asarray([str(d) for d in np.asarray(databases).tolist()])
    recs = _as_str(records)
    if len(dbs) != len(recs):
        raise ConfigError(f"databases ({len(dbs)}) and records ({len(recs)}) differ in length")
    groups = np.char.add(np.char.add(dbs.astype(str), "/"), recs.astype(str)) if len(dbs) else dbs

    def pick(specs: Sequence[str], side: str) -> np.ndarray:
        if not specs:
            raise ConfigError(f"split protocol: no {side} database named")
        mask = np.zeros(len(dbs), dtype=bool)
        for spec in specs:
            name, subset = _db_selection(spec)
            here = dbs == name
            if not here.any():
                raise DataError(f"split protocol: no example comes from database {name!r}")
            mask |= here if subset is None else here & np.isin(recs, subset)
        return _sorted(np.flatnonzero(mask))

    tr, te = pick(train, "train"), pick(test, "test")
    check_disjoint(groups, train=tr, test=te)
    return tr, te


def parse_protocol(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"mitdb:DS1+svdb -> mitdb:DS2"`` -> ``(("mitdb:DS1", "svdb"), ("mitdb:DS2",))``."""
    left, arrow, right = text.partition("->")
    train = tuple(p.strip() for p in left.split("+") if p.strip())
    test = tuple(p.strip() for p in right.split("+") if p.strip())
    if not arrow or not train or not test:
        raise ConfigError(
            f"split protocol {text!r}: expected 'TRAIN[+TRAIN...] -> TEST', "
            "e.g. 'mitdb:DS1+svdb -> mitdb:DS2'"
        )
    for spec in train + test:
        _db_selection(spec)
    return train, test


PROTOCOLS = ("intra", "inter", "stratified", "kfold", "TRAIN -> TEST")


def split_by_protocol(
    protocol: str,
    y: np.ndarray,
    groups: np.ndarray | Sequence,
    *,
    databases: np.ndarray | Sequence | None = None,
    test_fraction: float = 0.2,
    n_folds: int = 5,
    fold: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` by protocol name (see the module docstring); ``groups`` are records
    or patients, ``databases`` each example's database (cross-database protocols)."""
    y = np.asarray(y)
    groups = np.asarray(groups)
    if len(groups) != len(y):
        raise ConfigError(f"groups ({len(groups)}) and labels ({len(y)}) differ in length")
    if protocol == "intra":
        return intra_patient_split(y, test_fraction, seed)
    if protocol == "inter":
        return inter_patient_split(groups)
    if protocol == "stratified":
        return group_holdout(groups, y, test_fraction, seed)
    if protocol == "kfold":
        return group_kfold(groups, y, n_folds, fold, seed)
    if "->" in protocol:
        if databases is None:
            raise ConfigError(f"split protocol {protocol!r} needs each example's database")
        train, test = parse_protocol(protocol)
        return cross_database_split(databases, groups, train, test)
    raise ConfigError(f"split protocol {protocol!r}: choose from {', '.join(PROTOCOLS)}")
