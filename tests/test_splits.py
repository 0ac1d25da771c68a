"""Split helpers: de Chazal DS1/DS2, stratified splits, record-level validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgzoo.data.mitbih import list_records, read_beat_annotations
from ecgzoo.data.splits import (
    DS1,
    DS2,
    PACED,
    inter_patient_split,
    intra_patient_split,
    stratified_holdout,
    stratified_kfold,
    validation_by_group,
)
from ecgzoo.errors import ConfigError


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
