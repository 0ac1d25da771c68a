"""An exported ONNX file says what it is (class names, the input it expects, the side-feature
standardisation) and is written with normal permissions (issue 22)."""

from __future__ import annotations

import json
import os
import shutil
import stat

import numpy as np
import pytest


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_beat_model_onnx_carries_classes_input_and_standardisation(mitdb_dir, tmp_path, umask_022):
    import onnxruntime as ort

    from ecgzoo.apply.model import load_model
    from ecgzoo.export.onnx import export_run, real_examples

    out = tmp_path / "inter.onnx"
    export_run("pretrained:mitbih-inter", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["ecgzoo.class_names"]) == ["N", "S", "V", "F", "Q"]
    described = json.loads(meta["ecgzoo.input"])
    # the shipped ensemble: beat and beat minus median beat, 0.7 s at 128 Hz, 6 log RR ratios
    assert described["x"] == ["batch", 2, 90] and described["sampling_rate_hz"] == 128.0
    assert described["window_s"] == pytest.approx(0.7, abs=0.01)
    assert described["spec"]["segmentation"] == "centered"  # the InputSpec, as trained
    assert described["spec"]["fiducial"] == "qrs_extremum" and described["spec"]["kind"] == "beats"
    assert described["spec"]["median_channel"] is True
    spec = json.loads(meta["ecgzoo.model_json"])
    assert described["feature_mean"] == spec["feature_mean"] and len(spec["feature_std"]) == 6
    assert "rr_log_ratios" in described["features"][2]
    # a user with only the file: standardise the side features as it says, get ecgzoo's answer
    applied = load_model("pretrained:mitbih-inter")
    x, standardised = real_examples(applied, n=64)
    raw = standardised * np.asarray(spec["feature_std"]) + np.asarray(spec["feature_mean"])
    mine = (raw - np.asarray(described["feature_mean"])) / np.asarray(described["feature_std"])
    prob = session.run(None, {"x": x, "features": mine.astype(np.float32)})[0]
    expected = applied.proba(x, raw.astype(np.float32))
    assert np.max(np.abs(prob - expected)) <= 1e-4


@pytest.mark.slow
def test_recording_model_onnx_describes_its_crop(cinc2017_dir, tmp_path, umask_022):
    import onnx

    from ecgzoo.export.onnx import export_run

    out = tmp_path / "cinc.onnx"
    export_run("pretrained:cinc2017", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["ecgzoo.class_names"]) == ["N", "A", "O", "~"]
    described = json.loads(meta["ecgzoo.input"])
    assert described["x"] == ["batch", 1, 4500] and described["window_s"] == 30.0
    assert described["trained_length_samples"] == 9000 and "features" not in described


def test_a_graph_exported_from_other_weights_is_refused(tmp_path, umask_022):
    """A newer ``pretrained:NAME`` or a retrained run never runs an older model's graph."""
    from safetensors.torch import load_file, save_file

    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.onnx_runtime import onnx_path_for, weights_digest
    from ecgzoo.errors import ConfigError
    from ecgzoo.export.onnx import export_run
    from ecgzoo.runs.runfolder import PRETRAINED_DIR

    shipped = PRETRAINED_DIR / "mitbih-inter"
    cached = onnx_path_for(shipped)
    assert cached.parent.name == f"mitbih-inter-{weights_digest(shipped)[:12]}"

    first = tmp_path / "first"
    shutil.copytree(PRETRAINED_DIR / "mitbih-inter-2026-11", first)
    export_run(first)  # a run folder's graph sits beside its weights
    applied = load_model(first, engine="onnx")
    # the batches spread over threads sharing the session: the very same probabilities
    from ecgzoo.apply.onnx_runtime import run_session
    from ecgzoo.export.onnx import real_examples

    x, feats = real_examples(load_model(first), n=200)
    one = run_session(applied.onnx_session, x, feats, batch_size=16, workers=1)
    assert one.shape == (len(x), 5)
    for workers in (2, 3):  # same batches, computed on other threads: bit for bit
        got = run_session(applied.onnx_session, x, feats, batch_size=16, workers=workers)
        np.testing.assert_array_equal(got, one)
    # one batch is cut into a part per worker (other batch sizes: equal to float precision)
    got = run_session(applied.onnx_session, x, feats, batch_size=4096, workers=2)
    np.testing.assert_allclose(got, one, rtol=0, atol=1e-6)
    second = tmp_path / "second"
    shutil.copytree(first, second)
    weights = load_file(str(second / "model.safetensors"))
    key = next(k for k, v in weights.items() if v.is_floating_point())
    weights[key] = weights[key] + 0.01
    save_file(weights, str(second / "model.safetensors"))
    with pytest.raises(ConfigError, match="not exported from the weights of") as err:
        load_model(second, engine="onnx")
    assert "ecgzoo export" in str(err.value) and "\n" not in str(err.value)
