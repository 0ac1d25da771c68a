"""Label-free beat context (issue 12) and the LightGBM inter-patient baseline, on real records."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from ecgzoo.datasets.contextset import feature_matrix, load_table, record_table
from ecgzoo.datasets.splits import DS1, DS2
from ecgzoo.errors import ConfigError
from ecgzoo.examples import beat_context as bc
from ecgzoo.experiment import build_config
from ecgzoo.readers.mitdb import MitdbReader

REPO = Path(__file__).resolve().parents[1]
TRAIN = ["106", "119", "209", "223"]  # DS1 records with S and V beats
TEST = ["100", "232"]


@pytest.fixture(scope="module")
def record_208(mitdb_dir):
    return MitdbReader(mitdb_dir).read("208")


def test_context_features_use_no_label(mitdb_dir, record_208, monkeypatch):
    reader = MitdbReader(mitdb_dir)
    plain = record_table(reader, "208", "mitdb/208")
    shuffled = record_208
    rng = np.random.default_rng(0)
    shuffled.beat_symbols = rng.permutation(shuffled.beat_symbols)
    monkeypatch.setattr(reader, "read", lambda name: shuffled)
    other = record_table(reader, "208", "mitdb/208")
    assert not np.array_equal(plain["y"], other["y"])  # the labels did change
    np.testing.assert_array_equal(plain["rr"], other["rr"])
    np.testing.assert_array_equal(plain["x"], other["x"])
    groups = bc.FEATURE_GROUPS
    for normalise in (True, False):
        a = bc.morphology_features(plain["x"], normalise, groups, 32)
        b = bc.morphology_features(other["x"], normalise, groups, 32)
        np.testing.assert_array_equal(a, b)


def test_rr_context_reads_only_its_documented_window(record_208):
    peaks = record_208.beat_samples.astype(np.int64)
    fs = record_208.fs
    base = bc.rr_context(peaks, fs)
    i = 1000
    rng = np.random.default_rng(1)
    for j, name in enumerate(bc.RR_CONTEXT_NAMES):
        window = bc.RR_WINDOWS[name]
        if window is None:  # documented as whole-record (the record's mean RR)
            continue
        before, after = window
        moved = peaks.copy()
        # jitter every beat outside [i - before, i + after] (order kept: small shifts)
        outside = np.r_[0 : i - before, i + after + 1 : len(peaks)]
        moved[outside] += rng.integers(-20, 21, size=len(outside))
        moved = np.sort(moved)
        assert bc.rr_context(moved, fs)[i, j] == pytest.approx(base[i, j], rel=1e-12), name
        inside = peaks.copy()  # jittering the beats inside the window does change it
        near = np.r_[i - before : i, i + 1 : i + after + 1]
        inside[near] += rng.choice([-15, -9, 9, 15], size=len(near))
        assert bc.rr_context(inside, fs)[i, j] != pytest.approx(base[i, j], rel=1e-9), name


def test_irregularity_is_high_in_atrial_fibrillation(mitdb_dir):
    reader = MitdbReader(mitdb_dir)
    af = bc.rr_context(reader.read("201").beat_samples, 360.0)  # AF episodes
    sinus = bc.rr_context(reader.read("100").beat_samples, 360.0)
    col = bc.RR_CONTEXT_NAMES.index("irregularity_wide")
    assert np.median(af[:, col]) > 2 * np.median(sinus[:, col])


def test_feature_groups_are_checked():
    with pytest.raises(ConfigError, match="unknown feature group"):
        bc.check_groups(["rr_normalised", "nope"], "data.mitbih.context_groups")


def _tiny_config(tmp_path: Path, **mitbih) -> dict:
    return {
        "name": "tiny-trees",
        "output_dir": str(tmp_path / "runs"),
        "data": {
            "dataset": "mitbih",
            "mitbih": {"split": "inter", "records": TRAIN + TEST, **mitbih},
        },
        "model": {
            "name": "lightgbm",
            "params": {"folds": 2, "n_estimators": 30, "n_jobs": 1, "min_child_samples": 20},
        },
    }


@pytest.fixture(scope="module")
def tree_run(tmp_path_factory, mitdb_dir):
    from ecgzoo.train.trees import train_trees

    tmp = tmp_path_factory.mktemp("trees")
    cfg = build_config(_tiny_config(tmp))
    return train_trees(cfg)


@pytest.mark.slow
def test_no_ds2_record_reaches_training_validation_or_priors(tree_run):
    m = tree_run.metrics
    trained = {g.split("/")[1] for g in m["train_records"]}
    assert trained == set(TRAIN) and not trained & set(DS2)
    for records in m["fold_records"].values():  # validation folds (early stopping, priors)
        assert {g.split("/")[1] for g in records} <= set(DS1)
    assert {g.split("/")[1] for g in m["test_records"]} == set(TEST)
    assert m["test"]["n"] > 0 and "aami" in m["test"] and "without_232" in m["test"]
    assert set(m["test"]["per_record"]) == {"mitdb/100", "mitdb/232"}


@pytest.mark.slow
def test_train_cli_trains_a_tree_model_and_prints_its_table(tmp_path, mitdb_dir):
    """``ecgzoo train`` on a LightGBM config (it once ended in an AttributeError after the run
    was written)."""
    config = tmp_path / "trees.yaml"
    config.write_text(yaml.safe_dump(_tiny_config(tmp_path)))
    result = subprocess.run(
        [sys.executable, "-m", "ecgzoo", "train", str(config), "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "tiny-trees: test split" in result.stdout and "run folder:" in result.stdout
    assert (tmp_path / "runs" / "tiny-trees" / "fold_1.txt").is_file()


@pytest.mark.slow
def test_tree_run_folder_is_text_and_reproduces_its_metrics(tree_run):
    from ecgzoo.train.trees import evaluate_tree_table, protocol_tables

    folder = tree_run.run_dir
    for k in range(2):
        assert (folder / f"fold_{k}.txt").read_text().startswith("tree")
    assert not list(folder.glob("*.pkl"))
    cfg = build_config(yaml.safe_load((folder / "config.yaml").read_text()))
    _, test = protocol_tables(cfg.data.mitbih)
    again = evaluate_tree_table(folder, cfg.data.mitbih, test)
    assert again["confusion_matrix"] == tree_run.metrics["test"]["confusion_matrix"]


def test_tree_models_refuse_a_non_inter_split(tmp_path, mitdb_dir):
    from ecgzoo.train.trees import train_trees

    cfg = build_config(_tiny_config(tmp_path, split="intra"))
    with pytest.raises(ConfigError, match="inter-patient"):
        train_trees(cfg)


def test_feature_matrix_skips_beats_without_an_aami_class(mitdb_dir):
    table = load_table("mitdb", ["232"])
    X, y, group, names = feature_matrix(table, bc.FEATURE_GROUPS)
    assert len(names) == X.shape[1] and (y >= 0).all() and len(y) <= len(table["y"])
    assert set(group) == {"mitdb/232"}


@pytest.mark.slow
def test_evaluate_data_folder_cli(tree_run, mitdb_dir, tmp_path):
    folder = tmp_path / "mydb"
    folder.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_dir / f"232.{ext}", folder / f"232.{ext}")
    result = subprocess.run(
        [sys.executable, "-m", "ecgzoo", "evaluate", str(tree_run.run_dir), "--data", str(folder)]
        + ["--json", "--lead", "MLII"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    ref = tree_run.metrics["test"]["per_record"]["mitdb/232"]
    assert out["per_record"]["232"] == ref  # same beats, same predictions as the split
    assert [r["class"] for r in out["aami"]] == ["N", "S", "V", "F"]
    bad = subprocess.run(
        [sys.executable, "-m", "ecgzoo", "evaluate", str(tree_run.run_dir), "--data", str(folder)]
        + ["--lead", "V9"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "no lead named 'V9'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_rr_context_side_input_for_every_model(mitdb_dir):
    from ecgzoo.datasets.contextset import SIDE_FEATURE_NAMES
    from ecgzoo.datasets.mitbih import load_mitbih
    from ecgzoo.datasets.mitbih_options import MitbihOptions

    options = MitbihOptions(
        segmentation="centered", split="group", records=["100", "201", "232"], rr_context=True
    )
    data = load_mitbih(options, db_dir=mitdb_dir)
    assert data.meta["feature_names"] == SIDE_FEATURE_NAMES
    for part in (data.train, data.val, data.test):
        assert part.features.shape == (len(part.y), len(SIDE_FEATURE_NAMES))
        assert np.isfinite(part.features).all()


@pytest.mark.parametrize("extra, test_db", [([], "mitdb"), (["svdb"], "mitdb"), ([], "svdb")])
def test_protocol_never_trains_on_ds2(extra, test_db):
    from ecgzoo.datasets.mitbih_options import MitbihOptions
    from ecgzoo.datasets.splits import PACED
    from ecgzoo.train.trees import protocol_records

    options = MitbihOptions(split="inter", extra_databases=extra, test_database=test_db)
    train, test = protocol_records(options)
    assert not set(train) & set(PACED)
    if test_db == "mitdb":
        assert set(train) == set(DS1) and set(test) == set(DS2)
    else:  # MIT-BIH -> SVDB: every non-paced MIT-BIH record trains, SVDB is the test set
        assert set(train) == set(DS1) | set(DS2) and test is None


def _past_median_per_beat(d: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """The per-beat loop ``rr_context`` used before it was vectorised (the reference)."""
    past = np.empty(len(pre))
    for k in range(len(pre)):
        window = d[max(0, k - 1 - bc.PAST_N) : max(0, k - 1)]
        past[k] = np.median(window) if len(window) else pre[k]
    return past


@pytest.mark.parametrize("name", ["201", "207", "208"])
def test_vectorised_past_median_equals_the_per_beat_loop(mitdb_dir, name):
    t = MitdbReader(mitdb_dir).read(name).beat_samples / 360.0
    for peaks in (t, t[:1], t[:2], t[:5], t[: bc.PAST_N + 2], t[: bc.PAST_N + 3]):
        d = np.maximum(np.diff(peaks), 1e-3) if len(peaks) > 1 else np.array([1.0])
        pre = np.concatenate([d[:1], d]) if len(peaks) > 1 else d.copy()
        np.testing.assert_array_equal(bc._past_median(d, pre), _past_median_per_beat(d, pre))


def test_not_early_reference_is_the_beats_after_the_long_intervals():
    from ecgzoo.examples.beat_context import reference_beats, with_median_channel

    # bigeminy: short (0.5 s) then long (1.1 s) intervals at 360 Hz; the early beats end a short one
    peaks = np.cumsum(np.r_[360, np.tile([180, 396], 20)])
    ref = reference_beats(peaks, "not_early")
    assert ref[2::2].all() and not ref[1::2].any()  # beats after a long interval, not the early
    assert reference_beats(peaks, "all") is None
    assert reference_beats(peaks[:8], "not_early") is None  # under 8 not-early beats: all
    with pytest.raises(ConfigError, match="median_of"):
        reference_beats(peaks, "sinus")
    beats = np.where(np.arange(len(peaks))[:, None] % 2 == 1, 5.0, 1.0) * np.ones((1, 10))
    out = with_median_channel(beats, ref)
    assert np.allclose(out[ref, 1], 0) and np.allclose(out[1::2, 1], 4)  # early: 5 - 1
    assert np.array_equal(with_median_channel(beats), with_median_channel(beats, None))


def test_slow_reference_is_the_slower_half_of_each_span():
    from ecgzoo.examples.beat_context import reference_beats

    # 30 beats at 1 s, then a run of 50 at 0.45 s (a tachycardia holding most of the record)
    peaks = np.cumsum(np.r_[0, np.full(30, 360), np.full(50, 162)])
    ref = reference_beats(peaks, "slow")
    assert ref[:30].all() and not ref[41:].any()  # the 30 slow beats, then the run's first
    assert ref.sum() == (len(peaks) + 1) // 2  # half the beats (41 of 81), ties by position
    # two spans of 80 beats each: each span's slower half, not the record's
    two = np.concatenate([peaks, peaks[-1] + 720 + peaks[::-1][0] - peaks[::-1]])
    span = float(two[-1] - two[0]) / 2
    by_span = reference_beats(two, "slow", span)
    assert by_span[:30].all() and by_span[-30:].all()
    assert by_span[:81].sum() == by_span[81:].sum() == 41  # half of each span's 81 beats
    assert reference_beats(peaks[:12], "slow") is None  # under 8 slow beats: all


def test_median_of_needs_the_median_channel():
    from pydantic import ValidationError

    from ecgzoo.datasets.mitbih_options import MitbihOptions

    with pytest.raises(ValidationError, match="median_of: needs median_beat_channel"):
        MitbihOptions(segmentation="centered", median_of="not_early")
