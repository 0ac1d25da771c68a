"""Fiducial robustness, label-free adaptation and per-record counts (issue 19), on real records
with a small model trained by the recipe (tests/data/beats_recipe:
`configs/mitbih_inter_recipe.yaml`, seed 0, trained on MIT-BIH DS1 only; the records below are
DS2 records it never saw)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.datasets.mitbih import read_beat_annotations
from ecgzoo.examples.fiducial import (
    align_peaks,
    fiducial_description,
    shift_description,
)

MODEL = Path(__file__).parent / "data" / "beats_recipe"
RECORDS = ("232", "208")  # DS2: 232 many S beats, 208 many V and F beats


@pytest.fixture(scope="module")
def applied():
    from ecgzoo.apply.model import load_model

    return load_model(MODEL)


def _annotate_at(monkeypatch, applied, base: Path, peaks: np.ndarray, adapt: str = "none"):
    """``annotate_source`` with its QRS detector replaced by ``peaks`` (record samples)."""
    from ecgzoo.apply import annotate as ann
    from ecgzoo.apply.signals import open_source

    source = open_source(base, None)

    def fixed(signal, fs, method):  # the chunk is the whole record (30-minute chunks)
        return peaks[(peaks >= 0) & (peaks < len(signal))]

    monkeypatch.setattr(ann, "detect_qrs", fixed)
    return ann.annotate_source(source, applied, chunk_s=3600.0, adapt=adapt)


def test_descriptions_are_json_and_align_is_pure(mitdb_dir):
    import json

    import wfdb

    assert json.loads(json.dumps(fiducial_description("qrs_extremum")))["half_window_s"] == 0.05
    assert fiducial_description("none") is None and shift_description(0, 128.0) is None
    assert shift_description(3, 128.0)["max_ms"] == pytest.approx(23.4375)
    with pytest.raises(ValueError, match="unknown fiducial"):
        align_peaks(np.zeros(100), 360.0, np.array([50]), "r_wave")
    sig = wfdb.rdrecord(str(mitdb_dir / "100"), channels=[0]).p_signal[:, 0]
    peaks, _ = read_beat_annotations(mitdb_dir, "100")
    before = peaks.copy()
    a = align_peaks(sig, 360.0, peaks)
    np.testing.assert_array_equal(peaks, before)  # the input is not changed
    np.testing.assert_array_equal(a, align_peaks(sig, 360.0, peaks))
    assert np.all(np.abs(a - peaks) <= 18)  # within +-50 ms at 360 Hz


# measured 2026-12-04: 232 and 100 align every beat to one sample from +-2 and +-5 samples off;
# 208 (wide V and F beats with two extrema of similar size) 95.6 % (+2) and 94.8 % (-2)
@pytest.mark.parametrize(("record", "least"), [("232", 0.99), ("208", 0.94)])
def test_shifted_reference_peaks_align_to_one_fiducial(mitdb_dir, record, least):
    import wfdb

    sig = wfdb.rdrecord(str(mitdb_dir / record), channels=[0]).p_signal[:, 0]
    peaks, _ = read_beat_annotations(mitdb_dir, record)
    a = align_peaks(sig, 360.0, peaks)
    for shift in (2, -2):
        assert np.mean(align_peaks(sig, 360.0, peaks + shift) == a) >= least


@pytest.mark.slow
@pytest.mark.parametrize("record", RECORDS)
def test_beats_cut_two_samples_later_keep_their_class(mitdb_dir, monkeypatch, applied, record):
    """The same beats, their peaks 2 samples later, get the same classes for >= 95 % of beats
    (the apply path: fiducial alignment, segmentation, median channel, RR context)."""
    peaks, labels = read_beat_annotations(mitdb_dir, record)
    base = mitdb_dir / record
    a = _annotate_at(monkeypatch, applied, base, peaks)
    b = _annotate_at(monkeypatch, applied, base, peaks + 2)
    ok = (a.labels >= 0) & (b.labels >= 0)
    assert np.mean(a.labels[ok] == b.labels[ok]) >= 0.95
    # not trivially so: the model calls the ectopic beats of these records
    assert np.mean(a.labels[ok] != 0) > 0.05
    # the training options reach annotate: the peaks reported are the aligned ones
    assert np.mean(np.abs(a.samples - peaks) <= 18) == 1.0
    assert applied.spec.n_leads == 2 and applied.side_feature_set == "rr_log_ratios"


def test_prior_correction_follows_the_record():
    from ecgzoo.models.adapt import prior_adjusted

    rng = np.random.default_rng(0)
    # a record of normal beats the model is unsure about: 30 % S probability each
    unsure = np.tile([0.7, 0.3, 0.0, 0.0, 0.0], (500, 1)) + rng.uniform(0, 0.01, (500, 5))
    unsure /= unsure.sum(1, keepdims=True)
    q = prior_adjusted(unsure)
    np.testing.assert_allclose(q.sum(1), 1.0, atol=1e-5)
    assert q[:, 1].mean() < 0.1 < unsure[:, 1].mean()  # few S in this record: S recedes
    # a record where half the beats are confidently S keeps them S
    mixed = np.vstack(
        [np.tile([0.95, 0.05, 0, 0, 0], (250, 1)), np.tile([0.2, 0.8, 0, 0, 0], (250, 1))]
    )
    assert np.mean(prior_adjusted(mixed).argmax(1) == 1) == 0.5
    assert prior_adjusted(np.zeros((0, 5))).shape == (0, 5)


def _copy_record(src: Path, name: str, dst: Path, atr: str) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for ext in (".hea", ".dat"):
        shutil.copy(src / f"{name}{ext}", dst / f"{name}{ext}")
    if atr == "poisoned":  # every beat called V, at other positions
        import wfdb

        ann = wfdb.rdann(str(src / name), "atr")
        samples = np.unique(np.clip(ann.sample + 37, 0, None))
        wfdb.wrann(name, "atr", samples, ["V"] * len(samples), write_dir=str(dst))
    return dst / name


@pytest.mark.slow
@pytest.mark.parametrize("adapt", ["adabn", "prior_em", "cluster", "self_train"])
def test_adaptation_reads_no_label(mitdb_dir, monkeypatch, applied, tmp_path, adapt):
    """Adaptation at annotation time: a record without .atr and one with a poisoned .atr give
    identical output; the adaptation changes the probabilities (it does something)."""
    peaks, _ = read_beat_annotations(mitdb_dir, "232")
    clean = _copy_record(mitdb_dir, "232", tmp_path / "none", atr="absent")
    poisoned = _copy_record(mitdb_dir, "232", tmp_path / "poisoned", atr="poisoned")
    a = _annotate_at(monkeypatch, applied, clean, peaks, adapt=adapt)
    b = _annotate_at(monkeypatch, applied, poisoned, peaks, adapt=adapt)
    np.testing.assert_array_equal(a.prob, b.prob)
    plain = _annotate_at(monkeypatch, applied, clean, peaks)
    assert not np.allclose(np.nan_to_num(a.prob), np.nan_to_num(plain.prob))
    # the loaded model is not changed by adapting a copy
    again = _annotate_at(monkeypatch, applied, clean, peaks)
    np.testing.assert_array_equal(np.nan_to_num(again.prob), np.nan_to_num(plain.prob))


@pytest.mark.slow
def test_evaluate_data_writes_per_record_for_torch_models(mitdb_dir, tmp_path):
    from ecgzoo.examples.beats import aami_labels
    from ecgzoo.runs.runfolder import read_run_config
    from ecgzoo.train.external_beats import adapted_predictions, cnn_beats, evaluate_beat_folder

    folder = tmp_path / "two"
    for name in RECORDS:
        _copy_record(mitdb_dir, name, folder, atr="absent")
        shutil.copy(mitdb_dir / f"{name}.atr", folder / f"{name}.atr")
    cfg = read_run_config(MODEL)
    metrics = evaluate_beat_folder(MODEL, cfg, folder)
    assert set(metrics["per_record"]) == set(RECORDS)
    for name in RECORDS:
        import wfdb

        ann = wfdb.rdann(str(folder / name), "atr")
        _, y = aami_labels(ann.sample, np.asarray(ann.symbol))
        row = metrics["per_record"][name]
        # every AAMI beat but the edge ones is scored
        assert abs(row["S"] - int(np.sum(y == 1))) <= 2 and abs(row["V"] - int(np.sum(y == 2))) <= 2
        assert 0 <= row["S_tp"] <= row["S"] and row["V_fp"] >= 0
    # adaptation per record: the labels of the split are not read
    from ecgzoo.train.evaluate import load_trained_model

    model, spec = load_trained_model(MODEL)
    from ecgzoo.runs.loaded import load_run

    split, _, _, _ = cnn_beats(folder, load_run(MODEL).input, None)
    p1 = adapted_predictions(model, spec, split)
    split.y = np.random.default_rng(0).integers(0, 5, len(split.y))
    np.testing.assert_array_equal(p1, adapted_predictions(model, spec, split))
    adapted = evaluate_beat_folder(MODEL, cfg, folder, adapt="adabn")
    assert adapted["adapt"] == "adabn" and set(adapted["per_record"]) == set(RECORDS)


def test_annotate_matches_beats_within_150_ms_inclusive():
    from ecgzoo.apply.scoring import match_beats

    # 128 Hz: 19 samples are 148.4 ms (a match), 20 are 156.3 ms (none); the old window (a
    # strict < on round(0.15 * 128) = 19) stopped at 18 samples, 140.6 ms
    ri, ti = match_beats(np.array([1000, 5000]), np.array([1019, 5020]), 128.0)
    assert ri.tolist() == [0] and ti.tolist() == [0]
    ri, _ = match_beats(np.array([1000]), np.array([1054]), 360.0)  # 150.0 ms at 360 Hz
    assert ri.tolist() == [0]


def test_training_beats_are_cut_at_the_aligned_fiducial(mitdb_dir):
    """The dataset's beats of an aligned recipe are the apply path's beats (InputSpec.prepare,
    which aligns the given peaks): training and use cut at the same fiducial."""
    import wfdb

    from ecgzoo.datasets import mitbih
    from ecgzoo.datasets.input_specs import beat_input
    from ecgzoo.datasets.mitbih_options import MitbihOptions

    options = MitbihOptions(
        segmentation="centered", split="inter", fs=128.0, records=["232"],
        align_fiducial="qrs_extremum",
    )  # fmt: skip
    arrays = mitbih.build_beats(mitdb_dir, options)
    sig = wfdb.rdrecord(str(mitdb_dir / "232"), channels=[0]).p_signal[:, 0]
    peaks, _ = read_beat_annotations(mitdb_dir, "232")
    aligned = align_peaks(sig, 360.0, peaks)
    assert np.mean(aligned != peaks) > 0.5  # alignment moves most of 232's reference peaks
    got = beat_input(options).prepare(sig, 360.0, peaks)
    np.testing.assert_array_equal(np.asarray(arrays["sample"]), aligned[got.kept])
    np.testing.assert_array_equal(np.asarray(arrays["x"]), got.x[:, 0])
