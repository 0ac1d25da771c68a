"""One loader, one set of checks: a received model folder and a received record are trusted the
same way by every command (issue 23 items 6 and 7)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from ecgzoo.errors import DataError


def _copy_pretrained(name: str, dst: Path) -> Path:
    from ecgzoo.runs.runfolder import PRETRAINED_DIR

    shutil.copytree(PRETRAINED_DIR / name, dst)
    return dst


@pytest.fixture
def swapped(tmp_path) -> Path:
    """mitbih-inter with N and S swapped in model.json (and nowhere else)."""
    folder = _copy_pretrained("mitbih-inter", tmp_path / "swapped")
    tree = json.loads((folder / "model.json").read_text())
    names = tree["class_names"]
    names[0], names[1] = names[1], names[0]
    (folder / "model.json").write_text(json.dumps(tree))
    return folder


def _with_nan(folder: Path) -> Path:
    """``folder`` with a NaN in its first weight tensor."""
    weights = load_file(str(folder / "model.safetensors"))
    key = next(k for k, v in weights.items() if torch.is_floating_point(v))
    weights[key] = weights[key].clone()
    weights[key].view(-1)[0] = float("nan")
    save_file(weights, str(folder / "model.safetensors"))
    return folder


@pytest.fixture
def nan_weights(tmp_path) -> Path:
    """mitbih-inter (an ensemble) whose first weight tensor holds a NaN."""
    return _with_nan(_copy_pretrained("mitbih-inter", tmp_path / "nan"))


def _record(mitdb_dir: Path, dst: Path, name: str = "100") -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for ext in (".hea", ".dat", ".atr"):
        shutil.copy(mitdb_dir / f"{name}{ext}", dst / f"{name}{ext}")
    return dst / name


def _edit_header(base: Path, old: str, new: str) -> None:
    hea = base.with_suffix(".hea")
    text = hea.read_text()
    assert old in text
    hea.write_text(text.replace(old, new, 1))


# ------------------------------------------------------------------ model folders (item 6)


def test_swapped_classes_are_refused_by_annotate(swapped, mitdb_dir, tmp_path):
    from ecgzoo.api import annotate

    rec = _record(mitdb_dir, tmp_path / "rec")
    with pytest.raises(DataError, match="class_names"):
        annotate(rec, swapped, write=False, plots=False)


def test_swapped_classes_are_refused_by_explain(swapped, tmp_path):
    from ecgzoo.explain.runner import explain_run

    with pytest.raises(DataError, match="class_names"):
        explain_run(str(swapped), ["100"], tmp_path / "out")
    assert not (tmp_path / "out" / "summary.json").exists()


def test_swapped_classes_are_refused_by_evaluate_predict_and_export(swapped):
    from ecgzoo.apply.model import load_model
    from ecgzoo.export.onnx import export_run
    from ecgzoo.runs.loaded import load_run

    for call in (
        lambda: load_run(swapped),
        lambda: load_model(swapped),
        lambda: export_run(swapped),
    ):
        with pytest.raises(DataError, match="class_names"):
            call()


def test_a_class_subset_in_dataset_order_is_accepted(tmp_path):
    """AAMI without Q (a beat option) keeps the order: not refused by the order check."""
    from ecgzoo.runs.loaded import check_classes
    from ecgzoo.runs.runfolder import read_run_config, read_spec

    folder = _copy_pretrained("mitbih-inter", tmp_path / "noq")
    spec = read_spec(folder)
    spec.class_names, spec.n_classes = ["N", "S", "V", "F"], 4
    check_classes(folder, read_run_config(folder), spec)


def test_nan_weights_are_refused_by_evaluate(nan_weights, monkeypatch, capsys):
    from ecgzoo.cli import main

    monkeypatch.setattr("sys.argv", ["ecgzoo", "evaluate", str(nan_weights)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NaN or infinite" in err[0] and "model.safetensors" in err[0]


def test_nan_weights_are_refused_by_annotate(nan_weights, mitdb_dir, tmp_path):
    from ecgzoo.api import annotate

    rec = _record(mitdb_dir, tmp_path / "rec", "119")
    with pytest.raises(DataError, match="NaN or infinite"):
        annotate(rec, nan_weights, write=False, plots=False)


def test_nan_weights_are_refused_by_ensemble(tmp_path):
    from ecgzoo.train.ensemble import join_runs

    # single models (the shipped mitbih-inter is itself an ensemble, which join_runs refuses)
    good = _copy_pretrained("mitbih-inter-2026-11", tmp_path / "good")
    bad = _with_nan(_copy_pretrained("mitbih-inter-2026-11", tmp_path / "nan"))
    with pytest.raises(DataError, match="NaN or infinite"):
        join_runs([good, bad], tmp_path / "joined")
    assert not (tmp_path / "joined").exists()


def test_non_finite_weights_are_never_saved(tmp_path):
    from ecgzoo.runs.runfolder import save_weights

    state = {"w": torch.tensor([1.0, float("inf")])}
    with pytest.raises(DataError, match="NaN or infinite"):
        save_weights(tmp_path / "model.safetensors", state)
    assert list(tmp_path.iterdir()) == []


def test_non_finite_standardisation_in_model_json_is_refused(tmp_path):
    from ecgzoo.runs.loaded import load_run

    folder = _copy_pretrained("mitbih-inter", tmp_path / "run")
    text = (folder / "model.json").read_text()
    tree = json.loads(text)
    tree["feature_std"][0] = 1e400  # json.dumps writes Infinity
    (folder / "model.json").write_text(json.dumps(tree))
    with pytest.raises(DataError, match="feature_std"):
        load_run(folder, weights=False)


# ------------------------------------------------------------------ records (item 7)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("100 2 360 650000", "100 2 -1 650000", "sampling rate"),
        ("100 2 360 650000", "100 2", "sampling rate"),
        ("212 200 11", "212 -200 11", "gain"),
        ("212 200 11", "212 0/mV 11", "gain"),
        ("100 2 360 650000", "100 2 360 21600", "declares 21600 samples"),  # 60 s of 30 min
    ],
)
def test_annotate_applies_the_record_checks_of_evaluate(mitdb_dir, tmp_path, old, new, message):
    from ecgzoo.api import annotate
    from ecgzoo.readers.wfdb_io import read_wfdb

    rec = _record(mitdb_dir, tmp_path / "rec")
    _edit_header(rec, old, new)
    with pytest.raises(DataError, match=message):  # what evaluate --data's reader says
        read_wfdb(rec)
    with pytest.raises(DataError, match=message):
        annotate(rec, "pretrained:mitbih-inter", write=False, plots=False)


def test_evaluate_data_lists_such_a_record_as_skipped(mitdb_dir, tmp_path):
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.train.external_beats import cnn_beats

    _record(mitdb_dir, tmp_path / "data", "100")
    bad = _record(mitdb_dir, tmp_path / "data", "101")
    _edit_header(bad, "101 2 360 650000", "101 2 -1 650000")
    split, skipped, _, _ = cnn_beats(
        tmp_path / "data", load_run("pretrained:mitbih-inter").input, None
    )
    assert len(skipped) == 1 and "101.hea" in skipped[0] and "sampling rate" in skipped[0]
    assert len(split.y) > 2000  # record 100 scored


def test_complex_npy_is_refused(mitdb_dir, tmp_path):
    from ecgzoo.api import annotate
    from ecgzoo.datasets.mitbih import read_record

    signal = read_record(mitdb_dir, "100").signal[:36000]
    path = tmp_path / "lead.npy"
    np.save(path, signal + 1j * signal)
    with pytest.raises(DataError, match="real numbers"):
        annotate(path, "pretrained:mitbih-inter", fs=360.0, write=False, plots=False)


@pytest.mark.parametrize("fs", [50.0, 0.0, -360.0, float("nan"), float("inf"), None])
def test_model_predict_refuses_implausible_rates(mitdb_dir, fs):
    from ecgzoo.apply.model import load_model
    from ecgzoo.datasets.mitbih import read_record

    model = load_model("pretrained:mitbih-inter")
    signal = read_record(mitdb_dir, "100").signal[:36000]
    with pytest.raises(DataError, match="fs"):
        model.predict(signal, fs)


def test_model_predict_refuses_complex_or_nan_signals(mitdb_dir):
    from ecgzoo.apply.model import load_model
    from ecgzoo.datasets.mitbih import read_record

    model = load_model("pretrained:mitbih-inter")
    signal = read_record(mitdb_dir, "100").signal[:36000]
    with pytest.raises(DataError, match="real numbers"):
        model.predict(signal.astype(complex), 360.0)
    bad = signal.copy()
    bad[100] = np.nan
    with pytest.raises(DataError, match="NaN"):
        model.predict(bad, 360.0)
