"""Signal quality (``ecgzoo.apply.quality``): noisy and flat stretches marked and not counted."""

from __future__ import annotations

import csv
import shutil
import warnings

import numpy as np
import pytest

from ecgzoo.apply import quality
from ecgzoo.examples.qrs_vote import detect_vote_scored


def _assess(signal: np.ndarray, fs: float) -> quality.Quality:
    _, cand, scores = detect_vote_scored(signal, fs)
    return quality.assess(cand, scores, fs, len(signal), quality.flat_windows(signal, fs, 0))


@pytest.fixture(scope="module")
def beat_model():
    from ecgzoo.apply.model import load_model

    return load_model("pretrained:mitbih-inter")


def test_clean_record_has_no_unusable_window(mitdb_dir):
    from ecgzoo.datasets.mitbih import read_record

    rec = read_record(mitdb_dir, "100")
    q = _assess(rec.signal, rec.fs)
    assert q.usable.all() and q.spans == []


def test_added_noise_is_marked_and_clean_windows_are_not(mitdb_dir):
    """Record 100 with 5 minutes of record 105's worst artefact added at -6 dB SNR."""
    from scipy.signal import butter, sosfiltfilt

    from ecgzoo.datasets.mitbih import read_record

    clean, noisy = read_record(mitdb_dir, "100"), read_record(mitdb_dir, "105")
    fs = clean.fs
    q105 = _assess(noisy.signal, fs)
    w = int(quality.WINDOW_S * fs)
    worst = int(np.argmax(np.convolve(np.nan_to_num(q105.index), np.ones(6), "valid"))) * w
    sos = butter(2, [0.5, 40], btype="bandpass", fs=fs, output="sos")
    noise = np.resize(sosfiltfilt(sos, noisy.signal[worst : worst + 6 * w]), 300 * int(fs))
    sig = clean.signal.copy()
    a = 600 * int(fs)
    scale = np.std(clean.signal) / np.std(noise) * 10 ** (6 / 20)  # -6 dB
    sig[a : a + len(noise)] += noise * scale
    q = _assess(sig, fs)
    win = np.arange(len(q.usable))
    inside = (win * w >= a) & ((win + 1) * w <= a + len(noise))
    assert np.mean(~q.usable[inside]) >= 0.4  # measured 60 %
    assert q.usable[~inside].all()


def test_flat_stretch_is_unusable(mitdb_dir):
    from ecgzoo.datasets.mitbih import read_record

    rec = read_record(mitdb_dir, "100")
    sig = rec.signal[: 120 * 360].copy()
    sig[36 * 360 : 72 * 360] = 0.0  # lead off for 36 s: windows 4, 5, 6 wholly flat
    q = _assess(sig, 360.0)
    assert not q.usable[4:7].any() and q.usable[[0, 1, 2, 8, 9, 10]].all()


def test_annotate_marks_noisy_stretches_of_108(mitdb_dir, beat_model, tmp_path):
    import wfdb

    from ecgzoo.api import annotate

    for p in mitdb_dir.glob("108.*"):
        shutil.copy(p, tmp_path / p.name)
    result = annotate(tmp_path / "108", beat_model, plots=False)[0]
    s, ann = result.summary, result.annotation
    assert s["quality"]["unusable_percent"] > 3  # record 108 is noisy (measured 8.8 %)
    assert 0 < s["counts"]["unusable"] < 0.2 * s["n_beats"]
    assert sum(s["counts"].values()) == s["n_beats"]
    assert s["n_beats_usable"] == s["n_beats"] - s["counts"]["unusable"]
    rows = list(csv.DictReader(result.files["csv"].open()))
    assert sum(r["usable"] == "0" for r in rows) == s["counts"]["unusable"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = wfdb.rdann(str(tmp_path / "108"), "ecgzoo")
    marks = back.sample[np.asarray(back.symbol) == "~"]
    assert len(marks) == 2 * len(ann.quality.spans)
    assert np.array_equal(back.sample[np.asarray(back.symbol) != "~"], ann.samples)
    off = annotate(tmp_path / "108", beat_model, plots=False, quality=False)[0]
    assert off.summary["quality"] is None and off.summary["counts"]["unusable"] == 0
    assert np.array_equal(off.annotation.samples, ann.samples)
