"""Split helpers: de Chazal DS1/DS2, stratified splits, record-level validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgzoo.datasets.mitbih import list_records, read_beat_annotations
from ecgzoo.datasets.splits import (
    DS1,
    DS2,
    PACED,
    check_disjoint,
    cross_database_split,
    group_holdout,
    group_kfold,
    inter_patient_split,
    intra_patient_split,
    parse_protocol,
    split_by_protocol,
    stratified_holdout,
    stratified_kfold,
    validation_by_group,
)
from ecgzoo.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def ds1_beats(mitdb_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(y, record)`` of every AAMI beat of the DS1 records."""
    ys, groups = [], []
    for name in DS1:
        _, labels = read_beat_annotations(mitdb_dir, name)
        ys.append(labels)
        groups.append(np.full(len(labels), int(name)))
    return np.concatenate(ys), np.concatenate(groups)


def _proportions(y: np.ndarray, n_classes: int = 5) -> np.ndarray:
    return np.bincount(y, minlength=n_classes) / len(y)


def test_de_chazal_sets(mitdb_dir: Path) -> None:
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert not (set(DS1) | set(DS2)) & set(PACED)
    assert set(PACED) == {"102", "104", "107", "217"}
    assert set(DS1) | set(DS2) | set(PACED) == set(list_records(mitdb_dir))


def test_inter_patient_split_indices() -> None:
    records = np.array([100, 101, 102, 101, 100, 217, 234, 999])
    ds1, ds2 = inter_patient_split(records)
    assert ds1.tolist() == [1, 3]
    assert ds2.tolist() == [0, 4, 6]
    assert ds1.dtype == ds2.dtype == np.int64
    ds1s, ds2s = inter_patient_split(records.astype(str))  # string ids work the same
    assert ds1s.tolist() == ds1.tolist() and ds2s.tolist() == ds2.tolist()
    empty1, empty2 = inter_patient_split(np.array([], dtype=np.int64))
    assert len(empty1) == len(empty2) == 0


def test_intra_split_is_stratified(ds1_beats) -> None:
    y, _ = ds1_beats
    train, test = intra_patient_split(y, 0.2, seed=0)
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == len(y)
    assert len(test) == pytest.approx(0.2 * len(y), abs=1)
    np.testing.assert_allclose(_proportions(y[test]), _proportions(y), atol=2e-4)
    np.testing.assert_allclose(_proportions(y[train]), _proportions(y), atol=2e-4)
    again, _ = intra_patient_split(y, 0.2, seed=0)
    np.testing.assert_array_equal(again, train)
    other, _ = intra_patient_split(y, 0.2, seed=1)
    assert not np.array_equal(other, train)
    assert "both sides" in intra_patient_split.__doc__


def test_stratified_holdout_with_a_single_member_class() -> None:
    y = np.array([0] * 50 + [1] * 10 + [2])
    train, test = stratified_holdout(y, 0.2, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(y)))
    assert np.sum(y[test] == 1) == 2
    with pytest.raises(ConfigError, match="test_fraction"):
        stratified_holdout(y, 1.5, seed=0)


def test_stratified_kfold_partitions(ds1_beats) -> None:
    y, _ = ds1_beats
    tests = []
    for fold in range(5):
        train, test = stratified_kfold(y, 5, fold, seed=0)
        assert len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == len(y)
        np.testing.assert_allclose(_proportions(y[test]), _proportions(y), atol=5e-4)
        tests.append(test)
    all_test = np.concatenate(tests)
    assert sorted(all_test.tolist()) == list(range(len(y)))
    with pytest.raises(ConfigError, match="fold"):
        stratified_kfold(y, 5, 5)
    with pytest.raises(ConfigError, match="n_folds"):
        stratified_kfold(y, 1, 0)


def test_validation_by_group_takes_whole_records(ds1_beats) -> None:
    y, groups = ds1_beats
    train, val = validation_by_group(groups, y, 0.1, seed=0)
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == len(y)
    assert not set(groups[train].tolist()) & set(groups[val].tolist())
    assert 0.05 < len(val) / len(y) < 0.25
    for cls in (1, 2):  # S and V beats on both sides
        assert np.any(y[val] == cls) and np.any(y[train] == cls)
    again, _ = validation_by_group(groups, y, 0.1, seed=0)
    np.testing.assert_array_equal(again, train)
    with pytest.raises(ConfigError, match="2 groups"):
        validation_by_group(np.zeros(10), np.zeros(10), 0.1)


# --------------------------------------------------------------------------- group-aware


def test_check_disjoint_names_the_leaking_groups() -> None:
    groups = np.array(["101", "101", "203", "208", "208"])
    check_disjoint(groups, train=np.array([0, 1]), test=np.array([2, 3, 4]))
    with pytest.raises(DataError, match=r"group\(s\) 208 have examples in both train and val"):
        check_disjoint(groups, train=np.array([0, 3]), val=np.array([4]), test=np.array([2]))


def test_group_kfold_keeps_records_whole(ds1_beats) -> None:
    y, groups = ds1_beats
    tests = []
    for fold in range(4):
        train, test = group_kfold(groups, y, 4, fold, seed=0)
        assert not set(groups[train].tolist()) & set(groups[test].tolist())
        assert len(train) + len(test) == len(y)
        tests.append(test)
    assert sorted(np.concatenate(tests).tolist()) == list(range(len(y)))
    again, _ = group_kfold(groups, y, 4, 0, seed=0)
    np.testing.assert_array_equal(again, group_kfold(groups, y, 4, 0, seed=0)[0])
    with pytest.raises(ConfigError, match="at least 30 groups, got 22"):
        group_kfold(groups, y, 30, 0)
    train, test = group_holdout(groups, y, 0.25, seed=1)
    assert not set(groups[train].tolist()) & set(groups[test].tolist())
    assert 0.1 < len(test) / len(y) < 0.45


@pytest.fixture(scope="module")
def svdb_records(test_home: Path, physionet_mirror: Path) -> list[str]:
    from ecgzoo.fetch.physionet import fetch

    root = fetch("svdb", home=test_home, mirror=str(physionet_mirror), progress=False)
    folder = root / "mit-bih-supraventricular-arrhythmia-database-1.0.0"
    return sorted(p.stem for p in folder.glob("*.hea"))


def test_cross_database_protocols_on_real_records(mitdb_dir: Path, svdb_records: list[str]) -> None:
    mit = list_records(mitdb_dir)
    assert len(mit) == 48 and len(svdb_records) == 52
    databases = np.array(["mitdb"] * len(mit) * 2 + ["svdb"] * len(svdb_records) * 2)
    records = np.array([r for r in mit for _ in range(2)] + [r for r in svdb_records for _ in "ab"])
    y = np.zeros(len(records), dtype=np.int64)

    train, test = split_by_protocol(
        "mitdb:DS1 + svdb -> mitdb:DS2", y, records, databases=databases
    )
    assert set(records[train]) == set(DS1) | set(svdb_records)
    assert set(records[test]) == set(DS2)
    train, test = cross_database_split(databases, records, ["mitdb"], ["svdb"])
    assert set(records[train]) == set(DS1) | set(DS2)  # paced records left out
    assert set(records[test]) == set(svdb_records)
    assert set(databases[test]) == {"svdb"}

    with pytest.raises(DataError, match="split leaks: group.*mitdb/101"):
        cross_database_split(databases, records, ["mitdb:DS1"], ["mitdb"])
    with pytest.raises(DataError, match="'incartdb'"):
        cross_database_split(databases, records, ["mitdb"], ["incartdb"])


def test_protocol_names_and_errors(ds1_beats) -> None:
    y, groups = ds1_beats
    assert parse_protocol("mitdb -> svdb") == (("mitdb",), ("svdb",))
    for bad in ("mitdb svdb", "-> svdb", "mitdb:DS3 -> svdb"):
        with pytest.raises(ConfigError, match="split protocol"):
            parse_protocol(bad)
    with pytest.raises(ConfigError, match="choose from intra, inter"):
        split_by_protocol("leave-one-out", y, groups)
    with pytest.raises(ConfigError, match="needs each example's database"):
        split_by_protocol("mitdb -> svdb", y, groups)
    train, test = split_by_protocol("kfold", y, groups, n_folds=3, fold=2)
    assert not set(groups[train].tolist()) & set(groups[test].tolist())


def test_record_fold_deals_every_record_once_and_is_seeded():
    from ecgzoo.datasets.splits import record_fold

    names = [str(800 + i) for i in range(52)]
    folds = [record_fold(names, 4, k, seed=1) for k in range(4)]
    assert [len(f) for f in folds] == [13, 13, 13, 13]
    assert sorted(sum(folds, [])) == sorted(names)
    assert record_fold(list(reversed(names)), 4, 2, seed=1) == folds[2]  # order-free
    assert record_fold(names, 4, 2, seed=2) != folds[2]
    with pytest.raises(ConfigError, match="fold: must be in 0..3"):
        record_fold(names, 4, 4, seed=1)
    with pytest.raises(ConfigError, match="need 4 records"):
        record_fold(names[:3], 4, 0, seed=1)


def test_tree_protocol_tests_the_same_svdb_fold_as_the_torch_path():
    from ecgzoo.datasets.mitbih_options import MitbihOptions
    from ecgzoo.datasets.splits import record_fold
    from ecgzoo.datasets.tree_protocol import extra_fold_tables

    names = [str(800 + i) for i in range(12)]
    group = np.repeat([f"svdb/{n}" for n in names], 3)
    table = {"group": group, "y": np.arange(len(group)), "skipped": [], "dropped_y": []}
    options = MitbihOptions(split="inter", extra_databases=["svdb"], extra_test_fold=1)
    test, train = extra_fold_tables(table, options)
    held = record_fold(names, 4, 1, options.extra_fold_seed)
    assert sorted({g.split("/")[1] for g in test["group"]}) == held
    assert not set(test["group"]) & set(train["group"])
    assert len(test["y"]) + len(train["y"]) == len(group)
