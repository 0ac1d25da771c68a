"""LightGBM context models and blends of beat models on the apply path (``apply.blend``)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest


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
    assert got == {k: want["208"][k] for k in got}
    assert got["V_tp"] > 900  # 208 holds 992 V beats


def test_a_lightgbm_model_refuses_onnx_and_neural_adaptation_in_one_line(mitdb_two):
    import ecgzoo
    from ecgzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="onnx is not supported for the LightGBM run"):
        ecgzoo.load_model("pretrained:mitbih-inter-lightgbm", engine="onnx")
    model = ecgzoo.load_model("pretrained:mitbih-inter-lightgbm")
    with pytest.raises(ConfigError, match="--adapt self_train: .* is a LightGBM model"):
        ecgzoo.annotate(mitdb_two / "100", model, adapt="self_train", write=False)


def test_a_blend_with_a_tree_runs_its_network_through_onnx(mitdb_two, monkeypatch):
    """``--engine onnx`` with a LightGBM member: the network goes through ONNX Runtime, the
    tree (no graph) through LightGBM; the same beats and classes as with torch. Alone, the
    tree still refuses onnx (test above)."""
    import ecgzoo
    from ecgzoo.apply.model import AppliedModel

    ecgzoo.export_onnx("pretrained:mitbih-inter")
    refs = ["pretrained:mitbih-inter", "pretrained:mitbih-inter-lightgbm"]
    calls = []
    through_onnx = AppliedModel._proba_onnx

    def counted(self, *args):
        calls.append(self.ref)
        return through_onnx(self, *args)

    monkeypatch.setattr(AppliedModel, "_proba_onnx", counted)
    onnx = ecgzoo.annotate(mitdb_two / "208", refs, engine="onnx", write=False)[0].annotation
    assert set(calls) == {"pretrained:mitbih-inter"}
    torch_ = ecgzoo.annotate(mitdb_two / "208", refs, write=False)[0].annotation
    assert np.array_equal(onnx.samples, torch_.samples)
    assert np.array_equal(onnx.labels, torch_.labels) and len(onnx.labels) > 2900
    np.testing.assert_allclose(onnx.prob, torch_.prob, atol=1e-4)


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``ecgzoo ARGS`` in this process through the real entry point: code, stdout, stderr."""
    import sys

    from ecgzoo.cli import main

    monkeypatch.setattr(sys, "argv", ["ecgzoo", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    code = exit_info.value.code
    out, err = capsys.readouterr()
    return (0 if code is None else int(code)), out, err


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
    code, _, err = _cli(
        monkeypatch, capsys, "annotate", str(mitdb_two / "100"), *both, "--adapt", "self_train"
    )
    assert code == 2 and err.strip().endswith("a blend of models takes none or prior_em")
    assert len(err.strip().splitlines()) == 1
    rhythm = ["--model", "pretrained:mitbih-inter", "--model", "pretrained:cinc2017"]
    code, _, err = _cli(monkeypatch, capsys, "annotate", str(mitdb_two / "100"), *rhythm)
    assert code == 2 and "only beat models can be averaged" in err
    assert len(err.strip().splitlines()) == 1


def test_evaluate_blend_scores_the_average_on_reference_beats(
    mitdb_two, tmp_path, monkeypatch, capsys
):
    """``evaluate RUN --data FOLDER --blend OTHER``: the two models' mean on the reference beats
    both keep, each prepared by its own InputSpec (``predict_beats``), record 208's counts."""
    import json

    import ecgzoo
    from ecgzoo.examples.beats import aami_labels
    from ecgzoo.readers.mitdb import MitdbReader

    folder = tmp_path / "one"
    folder.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_two / f"208.{ext}", folder / f"208.{ext}")
    refs = ["pretrained:mitbih-inter", "pretrained:mitbih-inter-lightgbm"]
    rec = MitdbReader(folder).read("208")
    peaks, labels = aami_labels(rec.beat_samples, rec.beat_symbols)
    signal = rec.signal[rec.lead_names.index("MLII")]
    probs = [ecgzoo.load_model(r).predict_beats(signal, rec.fs, peaks) for r in refs]
    both = np.isfinite(probs[0]).all(1) & np.isfinite(probs[1]).all(1)
    pred, y = ((probs[0][both] + probs[1][both]) / 2).argmax(1), labels[both]
    args = ["evaluate", refs[0], "--data", str(folder), "--blend", refs[1], "--json"]
    code, out, _ = _cli(monkeypatch, capsys, *args)
    assert code == 0
    got = json.loads(out)["per_record"]["208"]  # keyed by record name, as for every kind
    assert got["V_tp"] == int(((y == 2) & (pred == 2)).sum()) > 900
    assert got["S_tp"] == int(((y == 1) & (pred == 1)).sum())
    # EC57 (bxb): reference F (3) and Q (4) beats called V are not V false positives
    assert got["V_fp"] == int((np.isin(y, [0, 1]) & (pred == 2)).sum())

    code, _, err = _cli(monkeypatch, capsys, "evaluate", refs[0], "--blend", refs[1])
    assert code == 2 and err.strip().endswith("--blend: averages beat models on --data FOLDER")
