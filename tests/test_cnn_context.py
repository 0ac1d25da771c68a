"""Torch beat models with the label-free RR context (issue 12): the side features a run trains
on are the ones annotate, evaluate --data and ONNX export compute from R peaks, on real records."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ecgzoo.datasets import mitbih
from ecgzoo.datasets.contextset import SIDE_FEATURE_NAMES, features_of_set, side_features
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config

RECORDS = ["100", "232"]  # 232: the DS2 record whose S beats the trees miss
TINY = {
    "name": "ctx",
    "data": {
        "dataset": "mitbih",
        "mitbih": {
            "segmentation": "centered",
            "records": RECORDS,
            "rr_context": True,
            "max_beats_per_class": 150,
        },
    },
    "model": {"name": "resnet1d", "params": {"n_blocks": 1, "width": 8, "stem_stride": 4}},
    "train": {"epochs": 1, "batch_size": 64, "max_steps_per_epoch": 4, "num_threads": 1},
}


@pytest.fixture(scope="module")
def ctx_run(tmp_path_factory, mitdb_dir):
    from ecgzoo.train.engine import train_run

    cfg = build_config(TINY, [f"output_dir={tmp_path_factory.mktemp('ctx')}"])
    return train_run(cfg, progress=False).run_dir


@pytest.fixture(scope="module")
def training_arrays(mitdb_dir):
    options = MitbihOptions(segmentation="centered", records=RECORDS, rr_context=True)
    arrays = mitbih.prepare_beats(mitdb_dir, options)
    return arrays, side_features(arrays)


def test_model_json_names_its_side_features(ctx_run):
    from ecgzoo.apply.model import load_model

    spec = json.loads((ctx_run / "model.json").read_text())
    assert spec["side_features"] == "rr_context" and spec["n_features"] == len(SIDE_FEATURE_NAMES)
    # training wrote what the model eats, checked against config.yaml when loaded
    assert spec["input"]["kind"] == "beats" and spec["input"]["side_features"] == "rr_context"
    applied = load_model(ctx_run)
    assert applied.side_feature_set == "rr_context"
    # a run written before model.json named its set: its config says which (derived once,
    # when the folder is loaded: ecgzoo.datasets.input_specs.input_spec_for)
    from ecgzoo.datasets.input_specs import input_spec_for

    bare = dataclasses.replace(applied.spec, side_features=None, input=None)
    assert input_spec_for(applied.config.data, bare).side_features == "rr_context"
    data = applied.config.data
    old = data.model_copy(update={"mitbih": data.mitbih.model_copy(update={"rr_context": False})})
    applied.input = input_spec_for(old, bare)
    assert applied.side_feature_set == "rr_features"
    peaks = np.array([100, 460, 800, 1190, 1500])
    np.testing.assert_array_equal(
        applied.side_features(peaks, 360.0), features_of_set("rr_features", peaks, 360.0)
    )


def test_annotate_feeds_the_training_side_features(
    ctx_run, training_arrays, mitdb_dir, tmp_path, monkeypatch
):
    """Given the reference R peaks, annotate computes exactly the features the run trained on."""
    from ecgzoo.apply import annotate as ann
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.signals import open_source

    arrays, train_feats = training_arrays
    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_dir / f"232.{ext}", tmp_path / f"232.{ext}")
    reference = mitbih.read_record(mitdb_dir, "232").samples
    monkeypatch.setattr(ann, "detect_qrs", lambda signal, fs, method=None: reference)
    model = load_model(ctx_run)
    seen = {}
    proba = model.proba

    def spy(x, features=None):
        seen["features"] = features
        return proba(x, features)

    monkeypatch.setattr(model, "proba", spy)
    source = open_source(tmp_path / "232")
    out = ann.annotate_source(source, model, chunk_s=source.duration_s + 1.0)  # one chunk
    kept = np.all(np.isfinite(out.prob), axis=1)
    got = dict(zip(out.samples[kept].tolist(), seen["features"], strict=True))
    rows = np.flatnonzero(np.asarray(arrays["record"]) == 232)
    shared = [i for i in rows if int(arrays["sample"][i]) in got]
    assert len(shared) > 0.99 * len(rows)
    np.testing.assert_allclose(
        np.stack([got[int(arrays["sample"][i])] for i in shared]),
        train_feats[shared],
        rtol=1e-6,
        atol=1e-7,
    )


def test_rr_context_model_exports_to_onnx_with_parity(ctx_run, mitdb_dir):
    from ecgzoo.apply.model import load_model
    from ecgzoo.export.onnx import PARITY_TOL, export_run

    out = export_run(ctx_run)
    assert out["max_abs_diff"] <= PARITY_TOL and out["n_examples"] > 100
    rec = mitbih.read_record(mitdb_dir, "232")
    peaks = rec.samples[:400]
    torch_prob = load_model(ctx_run).predict_beats(rec.signal, rec.fs, peaks)
    onnx_prob = load_model(ctx_run, engine="onnx").predict_beats(rec.signal, rec.fs, peaks)
    ok = np.isfinite(torch_prob).all(axis=1)
    assert ok.sum() > 390
    np.testing.assert_allclose(onnx_prob[ok], torch_prob[ok], atol=PARITY_TOL)


@pytest.mark.slow
def test_evaluate_data_folder_with_an_rr_context_model(
    ctx_run, training_arrays, mitdb_dir, tmp_path
):
    from ecgzoo.train.evaluate import load_trained_model, predict_proba, standardise_features

    folder = tmp_path / "mydb"
    folder.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_dir / f"232.{ext}", folder / f"232.{ext}")
    result = subprocess.run(
        [sys.executable, "-m", "ecgzoo", "evaluate", str(ctx_run), "--data", str(folder)]
        + ["--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # the same beats and side features as the run's own pipeline give the same predictions
    arrays, feats = training_arrays
    rows = np.flatnonzero(np.asarray(arrays["record"]) == 232)
    model, spec = load_trained_model(ctx_run)
    x = np.ascontiguousarray(arrays["x"][rows])[:, None, :]
    prob = predict_proba(model, x, standardise_features(feats[rows], spec))
    y = np.asarray(arrays["y"])[rows]
    expected = np.zeros((5, 5), dtype=np.int64)
    np.add.at(expected, (y, prob.argmax(1)), 1)
    assert out["confusion_matrix"] == expected.tolist()


@pytest.fixture
def svdb_two(svdb_dir, monkeypatch):
    """SVDB as records 802 and 803 only, wherever MIT-BIH options reach for SVDB (small)."""
    from ecgzoo.datasets import svdb

    real = svdb.prepare_beats

    def two_records(db_dir, options, cache_dir=None, workers=None):  # keep the test small
        return real(svdb_dir, options.model_copy(update={"records": ["802", "803"]}), cache_dir)

    monkeypatch.setattr(svdb, "prepare_beats", two_records)


def _two_databases(**options) -> MitbihOptions:
    """Centred beats with RR context of three DS1 and two DS2 records, inter-patient."""
    records = ["101", "106", "119", "100", "232"]
    return MitbihOptions(
        segmentation="centered", split="inter", records=records, rr_context=True, **options
    )


def test_extra_databases_join_training_only(mitdb_dir, svdb_two):
    options = _two_databases(extra_databases=["svdb"])
    data = mitbih.load_mitbih(options, seed=1, db_dir=mitdb_dir)
    assert {802, 803} <= set(data.train.groups.tolist())
    held_out = set(data.val.groups.tolist()) | set(data.test.groups.tolist())
    assert not {802, 803} & held_out
    assert set(data.test.groups.tolist()) == {100, 232}
    assert data.meta["extra_training_records"] == ["svdb/802", "svdb/803"]
    assert np.isfinite(data.train.features).all()
    with pytest.raises(ConfigError, match="split: inter"):
        mitbih.load_mitbih(options.model_copy(update={"split": "intra"}), db_dir=mitdb_dir)


def test_test_database_svdb_trains_on_every_mitbih_record_and_tests_on_svdb_only(
    mitdb_dir, svdb_two
):
    """MIT-BIH -> SVDB: DS1 and DS2 both train; SVDB is the test part and nothing else."""
    options = _two_databases(inter_validation="none", test_database="svdb")
    data = mitbih.load_mitbih(options, seed=1, db_dir=mitdb_dir)
    assert set(data.train.groups.tolist()) == {101, 106, 119, 100, 232}  # DS1 and DS2
    assert set(data.test.groups.tolist()) == {802, 803}
    assert data.meta["test_records"] == ["svdb/802", "svdb/803"]
    assert "extra_training_records" not in data.meta
    assert np.isfinite(data.test.features).all()
    both = options.model_copy(update={"extra_databases": ["svdb"]})
    with pytest.raises(ConfigError, match="svdb is the test database"):
        mitbih.load_mitbih(both, db_dir=mitdb_dir)


def test_rr_ratios_set_is_the_context_without_irregularity(training_arrays, mitdb_dir):
    from ecgzoo.datasets.contextset import CONTEXT_SETS

    arrays, full = training_arrays
    ratios = side_features(arrays, "rr_ratios")
    assert ratios.shape[1] == len(CONTEXT_SETS["rr_ratios"]) == 6
    np.testing.assert_array_equal(ratios, full[:, :6])  # same columns, in the same order
    peaks = mitbih.read_record(mitdb_dir, "232").samples
    np.testing.assert_array_equal(
        features_of_set("rr_ratios", peaks, 360.0),
        features_of_set("rr_context", peaks, 360.0)[:, :6],
    )
    options = MitbihOptions(
        segmentation="centered", records=RECORDS, rr_context=True, rr_context_irregularity=False
    )
    data = mitbih.load_mitbih(options, db_dir=mitdb_dir)
    assert data.meta["side_features"] == "rr_ratios" and data.train.features.shape[1] == 6


def test_extra_test_fold_tests_unseen_svdb_records_and_leaves_ds2_out(mitdb_dir, svdb_two):
    """One record-wise fold of SVDB is the test part; the other fold trains with DS1; DS2 is
    in no part; the fold is the one ``splits.record_fold`` deals (the tree path's too)."""
    from ecgzoo.datasets.splits import record_fold

    options = _two_databases(
        inter_validation="none", extra_databases=["svdb"], extra_test_fold=0, extra_n_folds=2
    )
    data = mitbih.load_mitbih(options, seed=1, db_dir=mitdb_dir)
    (held,) = record_fold(["802", "803"], 2, 0, options.extra_fold_seed)
    (other,) = {"802", "803"} - {held}
    assert set(data.test.groups.tolist()) == {int(held)}
    assert set(data.train.groups.tolist()) == {101, 106, 119, int(other)}  # no DS2 record
    assert data.meta["test_records"] == [f"svdb/{held}"]
    assert data.meta["extra_training_records"] == [f"svdb/{other}"]
    assert len(data.test.y) > 1000 and np.isfinite(data.test.features).all()
    for bad, message in (
        ({"extra_databases": []}, "needs split: inter and extra_databases"),
        ({"extra_test_fold": 2}, r"must be in 0\.\.1"),
    ):
        with pytest.raises(ValueError, match=message):
            MitbihOptions(**{**options.model_dump(), **bad})
