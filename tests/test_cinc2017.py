"""Challenge-2017 loader on the real data (fixture ``cinc2017_dir``)."""

from __future__ import annotations

import shutil
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.datasets import cinc2017
from ecgzoo.datasets.cinc2017 import (
    CLASS_NAMES,
    load_cinc2017,
    load_external,
    load_recordings,
    read_reference,
    summary,
)
from ecgzoo.datasets.cinc2017_options import Cinc2017Options
from ecgzoo.errors import DataError

V3_COUNTS = {"N": 4458, "A": 651, "O": 2168, "~": 251}


@pytest.fixture(scope="module")
def subset(cinc2017_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """200 stratified real records, 30 s each, with their own cache folder."""
    cache = tmp_path_factory.mktemp("cinc-cache")
    options = Cinc2017Options(max_records=200, length_s=30.0)
    data = load_cinc2017(options, seed=0, root=cinc2017_dir, cache_dir=cache)
    return data, options, cache


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def _copy_records(cinc2017_dir: Path, dest: Path, records: list[str]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for r in records:
        for suffix in (".hea", ".mat"):
            shutil.copy(cinc2017_dir / "training2017" / f"{r}{suffix}", dest / f"{r}{suffix}")
    return dest


def test_v3_reference_counts(cinc2017_dir: Path) -> None:
    ref = read_reference(cinc2017_dir / "REFERENCE-v3.csv")
    assert len(ref) == 7528
    assert Counter(ref.values()) == V3_COUNTS
    records = (cinc2017_dir / "training2017" / "RECORDS").read_text().split()
    assert sorted(records) == sorted(ref)
    folder = cinc2017_dir / "training2017"
    assert {p.stem for p in folder.glob("*.mat")} >= set(ref)


def test_original_reference_same_records(cinc2017_dir: Path) -> None:
    v3 = read_reference(cinc2017_dir / "REFERENCE-v3.csv")
    orig = read_reference(cinc2017_dir / "training2017" / "REFERENCE.csv")
    assert set(orig) == set(v3)
    assert set(orig.values()) <= set(CLASS_NAMES)
    assert sum(orig[r] != v3[r] for r in v3) > 0  # v3 relabelled some recordings


def test_summary(cinc2017_dir: Path) -> None:
    info = summary(cinc2017_dir)
    assert info["n_records"] == 7528
    assert info["class_counts"] == V3_COUNTS
    lengths = info["length_s"]
    assert 9.0 <= lengths["min"] < 10.0 and 60.0 <= lengths["max"] <= 61.0
    assert lengths["median"] == pytest.approx(30.0)
    assert sum(info["length_histogram_s"].values()) == 7528


def test_split_sizes_and_stratification_full(cinc2017_dir: Path) -> None:
    ref = read_reference(cinc2017_dir / "REFERENCE-v3.csv")
    y = cinc2017.label_index([ref[r] for r in sorted(ref)])
    train, val, test = cinc2017.splits(y, Cinc2017Options(), seed=0)
    assert (len(train), len(val), len(test)) == (4516, 1506, 1506)  # 60/20/20
    assert len(np.intersect1d(train, val)) == len(np.intersect1d(train, test)) == 0
    assert len(np.intersect1d(val, test)) == 0
    overall = np.bincount(y, minlength=4) / len(y)
    for part in (train, val, test):
        assert np.allclose(np.bincount(y[part], minlength=4) / len(part), overall, atol=0.005)


def test_subset_loader(subset) -> None:
    data, options, _ = subset
    assert data.class_names == ["N", "A", "O", "~"]
    assert data.sampling_rate == 300.0
    assert len(data.train) + len(data.val) + len(data.test) == 200
    assert (len(data.train), len(data.val), len(data.test)) == (120, 40, 40)
    for name in ("train", "val", "test"):
        part = data.split(name)
        assert part.x.shape == (len(part), 1, 9000) and part.x.dtype == np.float32
        assert part.y.dtype == np.int64
        assert set(np.unique(part.y)) == {0, 1, 2, 3}  # every class in every split
        lengths = np.asarray(data.meta["lengths"][name])
        assert np.all((lengths > 0) & (lengths <= 9000))
        for row, n in zip(part.x[:, 0], lengths, strict=True):
            assert np.all(row[n:] == 0)  # padding is zeros
            assert row[:n].std() > 0.01  # real signal in mV
    groups = [set(data.split(n).groups) for n in ("train", "val", "test")]
    assert (
        not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    )
    assert sum(len(g) for g in groups) == 200
    # labels line up with the reference
    ref = read_reference(Path(data.meta["root"]) / "REFERENCE-v3.csv")
    for rec, label in zip(data.test.groups, data.test.y, strict=True):
        assert CLASS_NAMES[label] == ref[str(rec)]


def test_subset_cached(subset, cinc2017_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, options, cache = subset
    assert len(list((cache / "cinc2017").glob("*/complete.json"))) == 1
    built = []  # a cache hit reads no recording: the builder is never called
    monkeypatch.setattr(cinc2017, "stream_windows", lambda *a, **k: built.append(a) or iter(()))
    again = load_cinc2017(options, seed=0, root=cinc2017_dir, cache_dir=cache)
    assert built == []
    np.testing.assert_array_equal(again.test.x, data.test.x)
    np.testing.assert_array_equal(again.train.groups, data.train.groups)


def test_kfold_disjoint_and_covering(subset, cinc2017_dir: Path) -> None:
    _, options, cache = subset
    tests = []
    for fold in range(5):
        opts = options.model_copy(update={"fold": fold, "n_folds": 5})
        data = load_cinc2017(opts, seed=0, root=cinc2017_dir, cache_dir=cache)
        test, train, val = (set(data.split(n).groups) for n in ("test", "train", "val"))
        assert not (test & train) and not (test & val) and not (train & val)
        assert len(test) == 40 and len(val) == 40 and len(train) == 120
        tests.append(test)
    # folds share one cache entry
    assert len(list((cache / "cinc2017").glob("*/complete.json"))) == 1
    assert sum(len(t) for t in tests) == 200 and len(set().union(*tests)) == 200


def test_val_folds_share_the_test_split_and_cover_the_rest(subset, cinc2017_dir: Path) -> None:
    """k-fold ensemble members: one test split, validation folds that partition the rest."""
    _, options, cache = subset
    tests, vals = [], []
    for val_fold in range(4):
        opts = options.model_copy(update={"val_fold": val_fold, "n_val_folds": 4})
        data = load_cinc2017(opts, seed=0, root=cinc2017_dir, cache_dir=cache)
        test, train, val = (set(data.split(n).groups) for n in ("test", "train", "val"))
        assert not (test & train) and not (test & val) and not (train & val)
        assert len(test) == 40 and len(val) == 40 and len(train) == 120
        assert data.meta["split"] == f"holdout, val fold {val_fold}/4"
        tests.append(frozenset(test))
        vals.append(val)
    assert len(set(tests)) == 1
    assert sum(len(v) for v in vals) == 160 and len(set().union(*vals)) == 160
    with pytest.raises(ValueError, match="val_fold: must be in 0..3"):
        Cinc2017Options(val_fold=4, n_val_folds=4)


def test_spectrogram_and_scalogram_options(cinc2017_dir: Path, tmp_path: Path) -> None:
    spec = Cinc2017Options(max_records=12, length_s=10.0, transform="spectrogram")
    data = load_cinc2017(spec, root=cinc2017_dir, cache_dir=tmp_path)
    hop = spec.nperseg - spec.noverlap
    n_frames = (3000 - spec.nperseg) // hop + 1
    n_bins = int(np.sum(np.fft.rfftfreq(spec.nperseg, 1 / 300) <= spec.fmax))
    assert data.train.x.shape[1:] == (n_bins, n_frames)
    assert data.sampling_rate == pytest.approx(300 / hop)
    assert data.train.x.std() > 0.1
    scal = Cinc2017Options(max_records=12, length_s=10.0, transform="scalogram")
    data = load_cinc2017(scal, root=cinc2017_dir, cache_dir=tmp_path)
    assert data.train.x.shape[1:] == (scal.n_scales, 100)
    assert data.sampling_rate == pytest.approx(10.0)
    assert data.train.x.std() > 0


def test_malformed_reference(tmp_path: Path) -> None:
    bad = tmp_path / "REFERENCE.csv"
    bad.write_bytes(b"A00001,N\r\nA00002;N\r\n")
    with pytest.raises(DataError) as exc:
        read_reference(bad)
    assert str(bad) in _one_line(exc) and "line 2" in str(exc.value)
    bad.write_bytes(b"A00001,N\r\nA00002,X\r\n")
    with pytest.raises(DataError) as exc:
        read_reference(bad)
    assert "line 2" in _one_line(exc) and "'X'" in str(exc.value)
    with pytest.raises(DataError) as exc:
        read_reference(tmp_path / "nope.csv")
    assert "nope.csv" in _one_line(exc)


def test_record_missing_mat(cinc2017_dir: Path, tmp_path: Path) -> None:
    folder = _copy_records(cinc2017_dir, tmp_path / "recs", ["A00001", "A00003"])
    (folder / "A00003.mat").unlink()
    ref = tmp_path / "ref.csv"
    ref.write_text("A00001,N\nA00003,N\n")
    with pytest.raises(DataError) as exc:
        load_recordings(folder, ref)
    assert "A00003" in _one_line(exc) and "A00003.mat" in str(exc.value)


def test_header_with_other_sampling_rate(cinc2017_dir: Path, tmp_path: Path) -> None:
    folder = _copy_records(cinc2017_dir, tmp_path / "recs", ["A00001"])
    hea = folder / "A00001.hea"
    first, rest = hea.read_text().split("\n", 1)
    fields = first.split(" ")
    assert fields[2] == "300"
    fields[2] = "500"
    hea.write_text(" ".join(fields) + "\n" + rest)
    with pytest.raises(DataError) as exc:
        load_recordings(folder, {"A00001": "N"})
    msg = _one_line(exc)
    assert "A00001.hea" in msg and "500 Hz" in msg and "300 Hz" in msg
    signals, labels, ids = load_recordings(folder, {"A00001": "N"}, resample=True)
    assert ids == ["A00001"] and labels == ["N"]
    assert len(signals[0]) == pytest.approx(9000 * 300 / 500, abs=1)


def test_external_folder_and_zip(cinc2017_dir: Path, tmp_path: Path) -> None:
    records = ["A00001", "A00004", "A00008", "A00022"]
    folder = _copy_records(cinc2017_dir, tmp_path / "external" / "training2017", records)
    (folder / "REFERENCE.csv").write_text("A00001,N\r\nA00004,A\r\nA00008,O\r\nA00022,~\r\n")
    options = Cinc2017Options(length_s=20.0)
    from_folder = load_external(tmp_path / "external", None, options)
    assert from_folder.x.shape == (4, 1, 6000)
    assert list(from_folder.groups) == records and list(from_folder.y) == [0, 1, 2, 3]

    archive = tmp_path / "external.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"training2017/{path.name}")
        zf.writestr("../evil.hea", "not a record")  # never written outside the temp folder
    from_zip = load_external(archive, None, options)
    np.testing.assert_array_equal(from_zip.x, from_folder.x)
    np.testing.assert_array_equal(from_zip.y, from_folder.y)
    assert not (tmp_path.parent / "evil.hea").exists()

    with pytest.raises(DataError) as exc:
        load_external(archive, {"A00001": "N", "A09999": "N"}, options)
    assert "A09999" in _one_line(exc)
