"""MIT-BIH beats from the real records: AAMI counts, both segmentations, RR features, cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb
from scipy.signal import butter, resample_poly, sosfiltfilt

from ecgzoo.datasets.mitbih import (
    CLASS_NAMES,
    RR_FEATURE_NAMES,
    SYMBOL_TO_CLASS,
    build_beats,
    class_counts,
    count_beats,
    list_records,
    load_mitbih,
    prepare_beats,
    read_beat_annotations,
    read_record,
    rr_features,
    split_class_counts,
)
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.datasets.splits import DS1, DS2, PACED
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.experiment import build_config

AAMI_TOTALS = {"N": 90_631, "S": 2_781, "V": 7_236, "F": 803, "Q": 8_043, "total": 109_494}
# kachuee: only the last beat of each record is dropped (48 beats: N 42, S 2, Q 4); the kept
# counts are those of the Kaggle mitbih_train.csv + mitbih_test.csv (87,554 + 21,892 rows).
KACHUEE_KEPT = {"N": 90_589, "S": 2_779, "V": 7_236, "F": 803, "Q": 8_039, "total": 109_446}
KACHUEE_TRUNCATED_RECORDS = [100, 113, 115, 116, 117, 210, 213]
# centered (0.25 s + 0.45 s at 360 Hz): 14 beats start too early, 28 end too late.
CENTERED_KEPT = {"N": 90_594, "S": 2_781, "V": 7_235, "F": 802, "Q": 8_040, "total": 109_452}
CENTERED_DROPPED = {"N": 37, "S": 0, "V": 1, "F": 1, "Q": 3, "total": 42}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prepared")


@pytest.fixture(scope="module")
def kachuee_all(mitdb_dir: Path, cache_dir: Path) -> dict[str, np.ndarray]:
    return prepare_beats(mitdb_dir, MitbihOptions(segmentation="kachuee"), cache_dir=cache_dir)


@pytest.fixture(scope="module")
def centered_all(mitdb_dir: Path, cache_dir: Path) -> dict[str, np.ndarray]:
    return prepare_beats(mitdb_dir, MitbihOptions(segmentation="centered"), cache_dir=cache_dir)


# ----------------------------------------------------------------- annotations and leads


def test_record_100_has_2273_beats(mitdb_two: Path) -> None:
    samples, labels = read_beat_annotations(mitdb_two, "100")
    assert len(samples) == len(labels) == 2_273
    assert np.all(np.diff(samples) > 0)


def test_aami_counts_over_all_48_records(mitdb_dir: Path) -> None:
    names = list_records(mitdb_dir)
    assert len(names) == 48
    table = count_beats(mitdb_dir)
    assert table["all"] == AAMI_TOTALS
    assert table["100"]["total"] == 2_273
    assert table["208"]["V"] == 992 and table["208"]["F"] == 373


def test_aami_mapping() -> None:
    assert CLASS_NAMES == ["N", "S", "V", "F", "Q"]
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in expected.items():
        for sym in symbols:
            assert CLASS_NAMES[SYMBOL_TO_CLASS[sym]] == cls
    assert len(SYMBOL_TO_CLASS) == 15
    for non_beat in '+~|!x"[]':
        assert non_beat not in SYMBOL_TO_CLASS


def test_lead_choice(mitdb_dir: Path) -> None:
    rec114 = read_record(mitdb_dir, "114")
    assert rec114.lead == "MLII"  # second signal of 114
    raw = wfdb.rdrecord(str(mitdb_dir / "114"), channels=[1])
    np.testing.assert_array_equal(rec114.signal, raw.p_signal[:, 0])
    assert read_record(mitdb_dir, "102").lead == "V5"  # no MLII in 102 and 104
    assert read_record(mitdb_dir, "104").lead == "V5"
    assert read_record(mitdb_dir, "100").lead == "MLII"


# ----------------------------------------------------------------- kachuee


def test_kachuee_full_database_counts(kachuee_all: dict[str, np.ndarray]) -> None:
    a = kachuee_all
    assert a["x"].shape == (109_446, 187) and a["x"].dtype == np.float32
    assert a["y"].dtype == np.int64 and a["record"].dtype == np.int64
    assert class_counts(a["y"]) == KACHUEE_KEPT
    assert a["x"].min() >= 0.0 and a["x"].max() <= 1.0
    # dropped: exactly the last beat of each record, nothing else
    assert set(a["dropped_reason"].tolist()) == {"last_beat_of_record"}
    assert sorted(a["dropped_record"].tolist()) == sorted(a["records"].tolist())
    assert class_counts(a["dropped_y"]) == {"N": 42, "S": 2, "V": 0, "F": 0, "Q": 4, "total": 48}
    for rec in (100, 208):
        kept = a["sample"][a["record"] == rec]
        assert a["dropped_sample"][a["dropped_record"] == rec][0] > kept.max()
    # 7 kept beats run past the record's end: cut there, not dropped
    assert sorted(a["record"][a["truncated"]].tolist()) == KACHUEE_TRUNCATED_RECORDS
    assert a["leads"][a["records"] == 102][0] == "V5"


def test_kachuee_matches_a_per_beat_reference(
    kachuee_all: dict[str, np.ndarray], mitdb_dir: Path
) -> None:
    """Record 100 rebuilt beat by beat with plain loops, window edges included."""
    raw = wfdb.rdrecord(str(mitdb_dir / "100"), channels=[0]).p_signal[:, 0]
    ann = wfdb.rdann(str(mitdb_dir / "100"), "atr")
    peaks = [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in SYMBOL_TO_CLASS]
    sig = resample_poly(raw, 25, 72)
    n, win = len(sig), 1250
    norm = np.empty(n)
    for start in range(0, n, win):
        seg = sig[start : start + win]
        norm[start : start + win] = (seg - seg.min()) / (seg.max() - seg.min())
    r = [int(np.rint(s * 125 / 360)) for s in peaks]
    period = {}
    for w in range(-(-n // win)):
        inside = [p for p in r if p // win == w]
        rr = np.diff(inside)
        period[w] = float(np.median(rr)) if len(rr) else None
    expected, crosses = [], 0
    for p in r[:-1]:  # the last beat of the record is dropped
        length = min(int(np.rint(1.2 * period[p // win])), 187, n - p)
        crosses += (p % win) + length > win
        beat = np.zeros(187)
        beat[:length] = norm[p : p + length]
        expected.append(beat)
    got = kachuee_all["x"][kachuee_all["record"] == 100]
    assert got.shape == (2_272, 187)
    assert crosses > 100  # beats spanning a window edge are compared too
    np.testing.assert_allclose(got, np.array(expected, dtype=np.float32), atol=1e-6)


def test_kachuee_pad_to(mitdb_two: Path, tmp_path: Path) -> None:
    a = build_beats(mitdb_two, MitbihOptions(records=["100"], pad_to=192))
    assert a["x"].shape == (2_272, 192)
    assert np.all(a["x"][:, 187:] == 0)
    with pytest.raises(ConfigError, match="pad_to"):  # refused when the config is loaded
        build_config({"data": {"mitbih": {"records": ["100"], "pad_to": 100}}})


# ----------------------------------------------------------------- centered


def test_centered_full_database_counts(centered_all: dict[str, np.ndarray]) -> None:
    a = centered_all
    assert a["x"].shape == (109_452, 252) and a["x"].dtype == np.float32
    assert class_counts(a["y"]) == CENTERED_KEPT
    reasons, counts = np.unique(a["dropped_reason"], return_counts=True)
    assert dict(zip(reasons.tolist(), counts.tolist(), strict=True)) == {
        "record_start": 14,
        "record_end": 28,
    }
    assert class_counts(a["dropped_y"]) == CENTERED_DROPPED
    start = a["dropped_reason"] == "record_start"
    assert np.all(a["dropped_sample"][start] < 90)
    assert np.all(a["dropped_sample"][~start] > 650_000 - 162)
    assert a["rr"].shape == (109_452, 8) and np.all(np.isfinite(a["rr"]))


def test_centered_windows_and_resampling(mitdb_two: Path) -> None:
    a = build_beats(mitdb_two, MitbihOptions(segmentation="centered", records=["100"]))
    raw = wfdb.rdrecord(str(mitdb_two / "100"), channels=[0]).p_signal[:, 0]
    sos = butter(2, 0.5, btype="highpass", fs=360.0, output="sos")
    clean = sosfiltfilt(sos, raw)
    for i in (0, 1000, len(a["y"]) - 1):
        r = int(a["sample"][i])
        np.testing.assert_allclose(a["x"][i], clean[r - 90 : r + 162], atol=1e-5)
    assert abs(float(np.median(a["x"][:, :20]))) < 0.2  # baseline removed (mV)
    b = build_beats(mitdb_two, MitbihOptions(segmentation="centered", records=["100"], fs=125))
    assert b["x"].shape[1] == 31 + 56
    # record 100: its first beat (sample 77) and last beat (649,991) are too near the edges
    assert len(b["y"]) == len(a["y"]) == 2_273 - 2
    assert sorted(a["dropped_reason"].tolist()) == ["record_end", "record_start"]


# ----------------------------------------------------------------- RR features


def test_rr_features_by_hand(mitdb_two: Path) -> None:
    samples, _ = read_beat_annotations(mitdb_two, "100")
    f = rr_features(samples, 360.0)
    assert f.shape == (2_273, len(RR_FEATURE_NAMES))
    t = samples / 360.0
    d = np.diff(t)
    assert f[0, 0] == f[0, 1] == pytest.approx(d[0])  # first beat: prev RR := next RR
    assert f[-1, 1] == f[-1, 0] == pytest.approx(d[-1])  # last beat: next RR := prev RR
    i = 500
    assert f[i, 0] == pytest.approx(t[i] - t[i - 1])
    assert f[i, 1] == pytest.approx(t[i + 1] - t[i])
    assert f[i, 2] == pytest.approx(np.mean(d[i - 5 : i + 5]))
    assert f[i, 3] == pytest.approx(np.mean(d))
    assert f[i, 4] == pytest.approx(f[i, 0] / f[i, 3])
    assert f[i, 5] == pytest.approx(f[i, 1] / f[i, 3])
    assert f[i, 6] == pytest.approx(f[i, 0] / f[i, 1])
    assert f[i, 7] == pytest.approx(f[i, 2] / f[i, 3])
    assert f[0, 2] == pytest.approx(np.mean(d[:5]))  # local window cut at the record start


# ----------------------------------------------------------------- cache and determinism


def test_same_parameters_give_byte_identical_arrays(mitdb_two: Path, tmp_path: Path) -> None:
    opts = MitbihOptions(segmentation="kachuee", records=["208", "100"])
    first = prepare_beats(mitdb_two, opts, cache_dir=tmp_path / "a")
    second = prepare_beats(mitdb_two, opts, cache_dir=tmp_path / "b")  # built again, cold
    hit = prepare_beats(mitdb_two, opts, cache_dir=tmp_path / "a")  # read from the cache
    assert len(list((tmp_path / "a" / "mitbih").glob("*/complete.json"))) == 1
    assert set(first) == set(second) == set(hit)
    for key in first:
        assert first[key].dtype == second[key].dtype == hit[key].dtype
        assert first[key].tobytes() == second[key].tobytes() == hit[key].tobytes(), key
    assert first["records"].tolist() == [100, 208]  # record order does not depend on the list
    other = prepare_beats(mitdb_two, opts.model_copy(update={"pad_to": 192}), tmp_path / "a")
    assert other["x"].shape[1] == 192
    assert len(list((tmp_path / "a" / "mitbih").glob("*/complete.json"))) == 2


def test_cache_goes_to_ecgzoo_home(
    mitdb_two: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECGZOO_HOME", str(tmp_path))
    data = load_mitbih(MitbihOptions(records=["100"]), db_dir=mitdb_two)
    assert len(list((tmp_path / "prepared" / "mitbih").glob("*/complete.json"))) == 1
    assert len(data.train) + len(data.val) + len(data.test) == 2_272


# ----------------------------------------------------------------- load_mitbih


def test_load_intra_with_rr_features(mitdb_dir: Path, tmp_path: Path) -> None:
    opts = MitbihOptions(records=["100", "208", "232"], rr_features=True, test_fraction=0.2)
    data = load_mitbih(opts, seed=3, db_dir=mitdb_dir, cache_dir=tmp_path)
    assert data.class_names == CLASS_NAMES
    assert data.sampling_rate == 125.0
    assert data.n_leads == 1 and data.n_samples == 187 and data.n_features == 8
    assert data.train.x.dtype == np.float32 and data.train.features.dtype == np.float32
    total = len(data.train) + len(data.val) + len(data.test)
    assert total == data.meta["n_beats"]
    assert len(data.test) == pytest.approx(0.2 * total, abs=2)
    counts = split_class_counts(data)
    assert counts["all"]["total"] == total
    assert data.meta["counts"] == counts
    assert data.meta["dropped"] == {"last_beat_of_record": 3}
    assert data.meta["feature_names"] == RR_FEATURE_NAMES
    assert set(np.unique(data.test.groups)) == {100, 208, 232}  # intra: records on all sides
    again = load_mitbih(opts, seed=3, db_dir=mitdb_dir, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.test.y, data.test.y)
    np.testing.assert_array_equal(again.train.features, data.train.features)


def test_load_inter_full_database(kachuee_all, mitdb_dir: Path, cache_dir: Path) -> None:
    data = load_mitbih(MitbihOptions(split="inter"), seed=0, db_dir=mitdb_dir, cache_dir=cache_dir)
    train, val, test = (
        set(np.unique(s.groups).tolist()) for s in (data.train, data.val, data.test)
    )
    assert not train & val and not train & test and not val & test
    assert {str(r) for r in train | val} == set(DS1)
    assert {str(r) for r in test} == set(DS2)
    assert not {str(r) for r in train | val | test} & set(PACED)
    counts = data.meta["counts"]
    assert counts["val"]["S"] > 0 and counts["val"]["V"] > 0
    assert counts["train"]["S"] > 0 and counts["train"]["V"] > 0
    assert counts["test"]["total"] == int(
        np.isin(kachuee_all["record"], [int(r) for r in DS2]).sum()
    )
    assert data.meta["val_records"] == sorted(val)


def test_max_beats_per_class(mitdb_dir: Path, tmp_path: Path) -> None:
    opts = MitbihOptions(records=["208"], max_beats_per_class=100)
    data = load_mitbih(opts, seed=1, db_dir=mitdb_dir, cache_dir=tmp_path)
    counts = class_counts(data.train.y)
    assert counts["N"] == counts["V"] == counts["F"] == 100
    assert counts["S"] <= 100
    full = load_mitbih(opts.model_copy(update={"max_beats_per_class": None}), seed=1,
                       db_dir=mitdb_dir, cache_dir=tmp_path)  # fmt: skip
    np.testing.assert_array_equal(data.test.y, full.test.y)  # only training is capped


def test_bad_options(mitdb_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mitbih.records.*999"):
        load_mitbih(MitbihOptions(records=["100", "999"]), db_dir=mitdb_dir, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="DS1 and DS2"):
        load_mitbih(
            MitbihOptions(records=["101"], split="inter"), db_dir=mitdb_dir, cache_dir=tmp_path
        )


# ----------------------------------------------------------------- broken files


def _copy_record(mitdb_dir: Path, target: Path, name: str = "100") -> Path:
    target.mkdir()
    for ext in (".hea", ".dat", ".atr"):
        shutil.copy(mitdb_dir / f"{name}{ext}", target / f"{name}{ext}")
    return target


def _one_line_error(folder: Path, expected_file: str) -> str:
    with pytest.raises(DataError) as info:
        build_beats(folder, MitbihOptions(records=["100"]))
    message = str(info.value)
    assert "\n" not in message
    assert str(folder / expected_file) in message
    return message


@pytest.mark.parametrize("ext", [".hea", ".dat", ".atr"])
def test_missing_record_file(mitdb_two: Path, tmp_path: Path, ext: str) -> None:
    folder = _copy_record(mitdb_two, tmp_path / "db")
    (folder / f"100{ext}").unlink()
    assert "not found" in _one_line_error(folder, f"100{ext}")


def test_corrupt_record_files(mitdb_two: Path, tmp_path: Path) -> None:
    folder = _copy_record(mitdb_two, tmp_path / "hea")
    (folder / "100.hea").write_text("this is not a WFDB header\n")
    _one_line_error(folder, "100.hea")

    folder = _copy_record(mitdb_two, tmp_path / "dat")
    data = (folder / "100.dat").read_bytes()
    (folder / "100.dat").write_bytes(data[: len(data) // 2])
    _one_line_error(folder, "100.dat")

    folder = _copy_record(mitdb_two, tmp_path / "atr")
    data = (folder / "100.atr").read_bytes()
    (folder / "100.atr").write_bytes(data[:-1])  # odd length: not 16-bit words
    _one_line_error(folder, "100.atr")


def test_missing_database_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        build_beats(tmp_path / "nowhere", MitbihOptions())
