"""Multi-label training end to end on real data: the 2021 records (smoke scale: 149 records)
and the MIT-BIH rhythm windows."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from ecgzoo.datasets.rhythm_windows_options import RhythmWindowsOptions
from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config

TINY = {"n_blocks": 1, "width": 8, "kernel": 5, "stem_stride": 4, "stem_kernel": 7}


def smoke_config(tmp_path, name: str, **train):
    """Fold 0 of 3 over the 149 real 2021 records, 100 Hz, 4 leads, a tiny ResNet, 2 steps."""
    return build_config(
        {
            "name": name,
            "output_dir": str(tmp_path),
            "data": {
                "dataset": "cinc2021",
                "cinc2021": {
                    "fs": 100,
                    "length_s": 10,
                    "normalise": True,
                    "leads": ["I", "II", "V1", "V5"],
                    "n_folds": 3,
                    "fold": 0,
                },
            },
            "model": {"name": "resnet1d", "params": TINY},
            "train": {
                "epochs": 1,
                "batch_size": 16,
                "max_steps_per_epoch": 2,
                "loss": "weighted_bce",
                "monitor": "val_macro_auroc",
                "device": "cpu",
                **train,
            },
        }
    )


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, cinc2021_dirs):
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.train.engine import train_run

    tmp = tmp_path_factory.mktemp("ml")
    config = smoke_config(tmp, "fold0")
    data = load_data(config.data)
    result = train_run(config, data=data, progress=False)
    return config, data, result


def test_multilabel_training_on_real_2021_records_writes_the_run_folder(smoke_run):
    config, data, result = smoke_run
    assert data.meta["multilabel"] and data.train.y.ndim == 2
    assert data.n_leads == 4 and len(data.class_names) == 26
    # k-fold: fold 0 of 3 tests about a third of the 149 records
    assert 45 <= len(data.test) <= 55 and len(data.train) + len(data.val) + len(data.test) == 149
    assert (data.train.y.sum(axis=1) > 1).any()  # records with several labels
    folder = result.run_dir
    for name in ("model.json", "model.safetensors", "history.csv", "metrics.json"):
        assert (folder / name).is_file(), name
    spec = json.loads((folder / "model.json").read_text())
    assert spec["multilabel"] is True and len(spec["thresholds"]) == 26
    metrics = json.loads((folder / "metrics.json").read_text())
    test = metrics["test"]
    assert set(test["per_label"]) == set(data.class_names)
    assert test["thresholds"] == spec["thresholds"]
    assert "arrhythmias" in test["groups"] and "challenge_score" in test["challenge"]
    assert test["n"] == len(data.test)
    header = (folder / "history.csv").read_text().splitlines()[0].split(",")
    assert {"val_macro_auroc", "val_macro_auprc", "val_challenge_score"} <= set(header)


def test_thresholds_come_from_validation_only(smoke_run, tmp_path):
    """Changing the TEST data changes no threshold; changing the validation data does."""
    from ecgzoo.train.engine import train_run

    config, data, result = smoke_run
    first = json.loads((result.run_dir / "model.json").read_text())["thresholds"]
    rng = np.random.default_rng(1)
    other_test = dataclasses.replace(
        data.test,
        x=rng.standard_normal(data.test.x.shape).astype(np.float32),
        y=rng.integers(0, 2, data.test.y.shape).astype(np.float32),
    )
    changed = dataclasses.replace(data, test=other_test)
    again = train_run(config, tmp_path / "same", data=changed, progress=False)
    assert json.loads((again.run_dir / "model.json").read_text())["thresholds"] == first
    # ...while the thresholds do follow the validation split
    other_val = dataclasses.replace(data.val, y=np.roll(data.val.y, 1, axis=0))
    moved = train_run(
        config, tmp_path / "val", data=dataclasses.replace(data, val=other_val), progress=False
    )
    assert json.loads((moved.run_dir / "model.json").read_text())["thresholds"] != first


def test_evaluate_a_multilabel_run(smoke_run):
    from typer.testing import CliRunner

    from ecgzoo.cli import app

    _, data, result = smoke_run
    out = CliRunner().invoke(app, ["evaluate", str(result.run_dir), "--json"])
    assert out.exit_code == 0, out.output
    scored = json.loads(out.output)
    saved = json.loads((result.run_dir / "metrics.json").read_text())["test"]
    assert scored["macro_auroc"] == pytest.approx(saved["macro_auroc"])
    assert scored["challenge"]["challenge_score"] == pytest.approx(
        saved["challenge"]["challenge_score"]
    )
    table = CliRunner().invoke(app, ["evaluate", str(result.run_dir), "--split", "val"])
    assert table.exit_code == 0 and "per label group" in table.output


def test_multilabel_configs_name_their_metrics_and_losses():
    ok = build_config(
        {"data": {"dataset": "rhythm_windows"}},
        ["train.loss=bce", "train.monitor=val_macro_auprc"],
    )
    assert ok.train.loss == "bce"
    with pytest.raises(ConfigError, match="val_challenge_score"):  # 2021 classes only
        build_config(
            {"data": {"dataset": "rhythm_windows"}},
            ["train.loss=bce", "train.monitor=val_challenge_score"],
        )
    with pytest.raises(ConfigError, match="multi-label: use bce"):
        build_config({"data": {"dataset": "cinc2021"}}, ["train.monitor=val_macro_auroc"])
    with pytest.raises(ConfigError, match="single-label"):
        build_config({}, ["train.loss=bce"])


def test_every_multi_lead_model_takes_12_and_the_2021_subsets():
    from ecgzoo.models.registry import available_models, build_model

    built = 0
    for info in available_models():
        # beat models (cnn2d's 16 x 12 grid) take a beat, the others a 10 s record at 100 Hz
        n_samples = 187 if info.name == "cnn2d" else 1000
        for n_leads in (12, 6, 4, 3, 2):
            model = build_model(info.name, n_leads, n_samples, 26, 0).eval()
            with torch.no_grad():
                out = model(torch.randn(2, n_leads, n_samples))
            assert out.shape == (2, 26), (info.name, n_leads)
        built += 1
    assert built == len(available_models()) >= 5


def test_rhythm_windows_counts_match_the_annotations(mitdb_dir):
    """Windows of MIT-BIH 203 and 201/202 labelled from their own rhythm and beat annotations,
    checked against an independent count from ``wfdb.rdann``."""
    import wfdb

    from ecgzoo.datasets.rhythm_windows import load_rhythm_windows, prepare

    options = RhythmWindowsOptions(
        records=["mitdb/100", "mitdb/201", "mitdb/202", "mitdb/203"],
        test_fraction=0.34,
        val_fraction=0.5,
    )
    arrays = prepare(options)
    y, record = np.asarray(arrays["y"]), np.asarray(arrays["record"])
    labels = list(options.labels)
    assert arrays["x"].shape[1:] == (2, 1280) and len(y) == 4 * 180  # 30 min / 10 s each
    ann = wfdb.rdann(str(mitdb_dir / "203"), "atr")
    length = 10 * 360  # windows in 360 Hz samples
    marks = zip(ann.sample, ann.aux_note, ann.symbol, strict=True)
    rhythm = [(s, a.strip("\x00")) for s, a, sym in marks if sym == "+"]
    expected = {name: 0 for name in labels}
    for w in range(180):
        lo, hi = w * length, (w + 1) * length
        in_force = {a.lstrip("(") for k, (s, a) in enumerate(rhythm)
                    if s < hi and (k + 1 == len(rhythm) or rhythm[k + 1][0] > lo)}  # fmt: skip
        for code in in_force:
            expected[code if code in labels else "other"] += 1
        beats = [sym for s, sym in zip(ann.sample, ann.symbol, strict=True) if lo <= s < hi]
        expected["S_beat"] += any(b in "AaJS" for b in beats)
        expected["V_beat"] += any(b in "VE" for b in beats)
    got = y[record == "mitdb/203"].sum(axis=0)
    # 360 -> 128 Hz moves a boundary by at most one sample: allow one window per label
    for k, name in enumerate(labels):
        assert abs(got[k] - expected[name]) <= 1, (name, got[k], expected[name])
    assert expected["AFL"] > 0 and expected["VT"] > 0 and expected["V_beat"] > 100
    data = load_rhythm_windows(options)
    sides = {k: set(v) for k, v in data.meta["records"].items()}
    assert {"mitdb/201", "mitdb/202"} <= max(sides.values(), key=lambda s: "mitdb/201" in s)
    assert sum(len(v) for v in sides.values()) == 4  # each record on one side only
    with pytest.raises(Exception, match="unknown record"):
        prepare(RhythmWindowsOptions(records=["mitdb/999"]))
