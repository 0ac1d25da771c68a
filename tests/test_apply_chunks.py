"""``annotate``'s chunk stage in forked worker processes (``apply.chunks``)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ecgzoo.errors import DataError


def _task(path, quality=True):
    from ecgzoo.apply.chunks import ChunkTask
    from ecgzoo.apply.detect import DEFAULT_METHOD, detect_qrs
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.signals import open_source

    model = load_model("pretrained:mitbih-inter")
    source = open_source(path)
    lead = source.lead_index(None, model.input.leads)
    return ChunkTask(source, lead, model.input, DEFAULT_METHOD, quality, detect_qrs)


def test_chunks_in_two_worker_processes_equal_chunks_here(mitdb_two):
    from ecgzoo.apply.chunks import chunk_beats

    task = _task(mitdb_two / "208")
    here = list(chunk_beats(task, chunk_s=300.0, workers=1))
    there = list(chunk_beats(task, chunk_s=300.0, workers=2))
    assert len(here) == len(there) == 7  # 30:06 in 5-minute chunks
    for a, b in zip(here, there, strict=True):
        assert np.array_equal(a.peaks, b.peaks) and np.array_equal(a.kept, b.kept)
        assert np.array_equal(a.x, b.x) and a.flat == b.flat
        for got, want in zip(a.quality, b.quality, strict=True):
            assert np.array_equal(got, want)
    peaks = np.concatenate([c.peaks for c in there])
    assert 2_900 <= len(peaks) <= 3_100 and np.all(np.diff(peaks) > 0)  # 208: 2,955 beats


def test_a_bad_stretch_read_in_a_worker_is_one_line_naming_the_file(
    mitdb_two, tmp_path, monkeypatch
):
    """Samples stored as WFDB's invalid value (NaN) at minute 16, read by a worker process (the
    record is two chunks): its DataError reaches the caller as the same one line naming the
    file and the time, not a pool traceback."""
    import ecgzoo

    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_two / f"100.{ext}", tmp_path / f"100.{ext}")
    dat = bytearray((tmp_path / "100.dat").read_bytes())
    at = 3 * (16 * 60 * 360)  # format 212: 3 bytes per sample pair; minute 16
    dat[at : at + 300] = bytes([0x00, 0x88, 0x00]) * 100  # -2048 in both leads: invalid
    (tmp_path / "100.dat").write_bytes(bytes(dat))
    monkeypatch.setenv("ECGZOO_THREADS", "2")
    model = ecgzoo.load_model("pretrained:mitbih-inter")
    with pytest.raises(
        DataError, match=r"100: lead MLII has invalid \(NaN\) samples near 960.0 s$"
    ):
        ecgzoo.annotate(tmp_path / "100", model, write=False)


def test_the_lightgbm_model_annotates_as_evaluate_scores_it(mitdb_two, tmp_path):
    """A tree context model through the apply path (InputSpec context rows, its boosters):
    on reference peaks it gives record 208 the S/V counts ``evaluate --data`` gives it."""
    import ecgzoo
    from ecgzoo.examples.beats import aami_labels
    from ecgzoo.readers.mitdb import MitdbReader
    from ecgzoo.runs.runfolder import read_run_config, resolve_run
    from ecgzoo.train.external_beats import evaluate_beat_folder

    folder = tmp_path / "one"
    folder.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_two / f"208.{ext}", folder / f"208.{ext}")
    run = resolve_run("pretrained:mitbih-inter-lightgbm")
    want = evaluate_beat_folder(run, read_run_config(run), folder)["per_record"]
    model = ecgzoo.load_model("pretrained:mitbih-inter-lightgbm")
    rec = MitdbReader(folder).read("208")
    peaks, labels = aami_labels(rec.beat_samples, rec.beat_symbols)
    prob = model.predict_beats(rec.signal[rec.lead_names.index("MLII")], rec.fs, peaks)
    ok = np.isfinite(prob).all(axis=1)
    pred, y = prob[ok].argmax(axis=1), labels[ok]
    got = {
        "S": int((y == 1).sum()),
        "S_tp": int(((y == 1) & (pred == 1)).sum()),
        "S_fp": int(((y != 1) & (pred == 1)).sum()),
        "V": int((y == 2).sum()),
        "V_tp": int(((y == 2) & (pred == 2)).sum()),
        "V_fp": int(((y != 2) & (pred == 2)).sum()),
    }
    assert got == {k: want["one/208"][k] for k in got}
    assert got["V_tp"] > 900  # 208 holds 992 V beats


def test_a_lightgbm_model_refuses_onnx_and_neural_adaptation_in_one_line(mitdb_two):
    import ecgzoo
    from ecgzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="onnx is not supported for the LightGBM run"):
        ecgzoo.load_model("pretrained:mitbih-inter-lightgbm", engine="onnx")
    model = ecgzoo.load_model("pretrained:mitbih-inter-lightgbm")
    with pytest.raises(ConfigError, match="--adapt self_train: .* is a LightGBM model"):
        ecgzoo.annotate(mitdb_two / "100", model, adapt="self_train", write=False)
