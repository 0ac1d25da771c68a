"""Every zoo model exports to ONNX and ONNX Runtime agrees with PyTorch on real beats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgzoo.models.registry import available_models, build_model

SMALL = {"rnn": {"hidden": 32, "n_heads": 2}}  # smaller, same operators: a quicker export


@pytest.fixture(scope="module")
def real_beats(mitdb_dir):
    from ecgzoo.datasets.mitbih import read_record
    from ecgzoo.examples.input_spec import InputSpec

    rec = read_record(mitdb_dir, "208")  # N, V and F beats
    kachuee = InputSpec(kind="beats", fs=125.0, length=187, segmentation="kachuee")
    x = kachuee.prepare(rec.signal, rec.fs, rec.samples).x
    return np.ascontiguousarray(x[:48])


@pytest.mark.slow
@pytest.mark.parametrize("name", [m.name for m in available_models()])
def test_zoo_model_exports_with_parity(name, real_beats, tmp_path):
    from ecgzoo.export.onnx import PARITY_TOL, export_model, open_session, parity

    x, params = real_beats, dict(SMALL.get(name, {}))
    if name == "spectrogram_cnn":  # a recording model: 10 s at 300 Hz of the same real ECG
        params["pretrained"] = False
        x = np.ascontiguousarray(np.tile(real_beats[:8], (1, 1, 17))[..., :3000])
    torch.manual_seed(0)
    model = build_model(name, 1, x.shape[-1], 5, **params).eval()
    path = tmp_path / f"{name}.onnx"
    export_model(model, path, x, None)
    diff = parity(model, open_session(path), x, None)
    assert diff <= PARITY_TOL
