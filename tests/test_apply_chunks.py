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

    cnn = load_model("pretrained:mitbih-inter")
    tree = load_model("pretrained:mitbih-inter-lightgbm")
    source = open_source(path)
    lead = source.lead_index(None, cnn.input.leads)
    specs = (cnn.input, tree.input)  # two fiducials and cuts from one detection
    return ChunkTask(source, lead, specs, DEFAULT_METHOD, quality, detect_qrs)


def test_chunks_in_two_worker_processes_equal_chunks_here(mitdb_two):
    from ecgzoo.apply.chunks import chunk_beats

    task = _task(mitdb_two / "208")
    here = list(chunk_beats(task, chunk_s=300.0, workers=1))
    there = list(chunk_beats(task, chunk_s=300.0, workers=2))
    assert len(here) == len(there) == 7  # 30:06 in 5-minute chunks
    for a, b in zip(here, there, strict=True):
        for k in range(2):
            assert np.array_equal(a.peaks[k], b.peaks[k]) and np.array_equal(a.kept[k], b.kept[k])
            assert np.array_equal(a.x[k], b.x[k])
        assert a.flat == b.flat
        for got, want in zip(a.quality, b.quality, strict=True):
            assert np.array_equal(got, want)
    aligned, at_r = (np.concatenate([c.peaks[k] for c in there]) for k in range(2))
    assert 2_900 <= len(aligned) == len(at_r) <= 3_100  # 208: 2,955 beats, one detection
    assert np.all(np.diff(at_r) > 0) and np.median(np.abs(aligned - at_r)) <= 18  # +-50 ms


def test_a_bad_stretch_read_in_a_worker_is_one_line_naming_the_file(
    mitdb_two, tmp_path, monkeypatch
):
    """Samples stored as WFDB's invalid value (NaN) at minute 16, read by a worker process
    (10-minute chunks, two workers): its DataError reaches the caller as the same one line
    naming the file and the time, not a pool traceback."""
    import ecgzoo
    from ecgzoo.apply.annotate import annotate_source
    from ecgzoo.apply.signals import open_source

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
        annotate_source(open_source(tmp_path / "100"), model, chunk_s=600.0)


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


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """``ecgzoo ARGS`` in this process through the real entry point: exit code and stderr."""
    import sys

    from ecgzoo.cli import main

    monkeypatch.setattr(sys, "argv", ["ecgzoo", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    code = exit_info.value.code
    return (0 if code is None else int(code)), capsys.readouterr().err


def test_a_blend_averages_its_models_on_the_same_detected_beats(
    mitdb_two, tmp_path, monkeypatch, capsys
):
    """``annotate --model CNN --model LIGHTGBM``: each model fed by its own InputSpec from one
    detection; the blend's probabilities are the mean of each model's own annotation."""
    import json

    import ecgzoo

    cnn = ecgzoo.load_model("pretrained:mitbih-inter")
    tree = ecgzoo.load_model("pretrained:mitbih-inter-lightgbm")
    record = mitdb_two / "208"
    alone = [ecgzoo.annotate(record, m, write=False)[0].annotation for m in (cnn, tree)]
    blend = ecgzoo.annotate(record, [cnn, tree], write=False)[0].annotation
    assert np.array_equal(blend.samples, alone[0].samples)  # the first model's fiducial
    both = np.isfinite(alone[0].prob).all(1) & np.isfinite(alone[1].prob).all(1)
    assert np.array_equal(np.isfinite(blend.prob).all(1), both) and both.sum() > 2_900
    np.testing.assert_allclose(
        blend.prob[both], (alone[0].prob[both] + alone[1].prob[both]) / 2, atol=1e-6
    )
    args = ["annotate", str(record), "--model", "pretrained:mitbih-inter"]
    args += ["--model", "pretrained:mitbih-inter-lightgbm", "--out", str(tmp_path), "--no-plots"]
    assert _cli(monkeypatch, capsys, *args)[0] == 0
    summary = json.loads((tmp_path / "208.ecgzoo.json").read_text())
    assert summary["model"] == "pretrained:mitbih-inter + pretrained:mitbih-inter-lightgbm"


def test_a_blend_refuses_what_it_cannot_average_in_one_line(mitdb_two, monkeypatch, capsys):
    both = ["--model", "pretrained:mitbih-inter", "--model", "pretrained:mitbih-inter-lightgbm"]
    code, err = _cli(
        monkeypatch, capsys, "annotate", str(mitdb_two / "100"), *both, "--adapt", "self_train"
    )
    assert code == 2 and err.strip().endswith("a blend of models takes none or prior_em")
    assert len(err.strip().splitlines()) == 1
    rhythm = ["--model", "pretrained:mitbih-inter", "--model", "pretrained:cinc2017"]
    code, err = _cli(monkeypatch, capsys, "annotate", str(mitdb_two / "100"), *rhythm)
    assert code == 2 and "only beat models can be averaged" in err
    assert len(err.strip().splitlines()) == 1
