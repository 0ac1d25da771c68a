"""The source studies' protocol options: ``compare --average``, the seed-faithful Conv-BiLSTM."""

from __future__ import annotations

import json

import pytest
import torch.nn as nn
from typer.testing import CliRunner

from ecgzoo.experiment import build_config
from ecgzoo.models.registry import build_model

TINY = {
    "name": "tiny-fc",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "232"], "max_beats_per_class": 80},
    },
    "model": {"name": "fc", "params": {"hidden": 16}},
    "train": {"epochs": 1, "batch_size": 32, "max_steps_per_epoch": 4, "train_loss_examples": 0},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, mitdb_dir):
    from ecgzoo.train.engine import train_run

    out = tmp_path_factory.mktemp("runs")
    return train_run(build_config(TINY, [f"output_dir={out}"]), progress=False).run_dir


@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_compare_reports_the_average_it_was_asked_for_and_says_so(tmp_path, tiny_run, average):
    from ecgzoo.cli import app

    out = tmp_path / "table"
    result = CliRunner().invoke(
        app, ["compare", str(tiny_run), "--average", average, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    test = json.loads((tiny_run / "metrics.json").read_text())["test"]
    header, row = (out.with_suffix(".csv")).read_text().splitlines()[:2]
    columns = dict(zip(header.split(","), row.split(","), strict=True))
    for short, key in (("P", "precision"), ("R", "recall"), ("F1", "f1")):
        assert float(columns[f"{average} {short}"]) == pytest.approx(
            test[f"{average}_{key}"], abs=1e-4
        )
    assert f"{average} averages" in result.output
    other = "macro" if average == "weighted" else "weighted"
    assert f"{other} F1" not in header


def test_compare_refuses_an_unknown_average(tiny_run):
    from ecgzoo.cli import app

    result = CliRunner().invoke(app, ["compare", str(tiny_run), "--average", "micro"])
    assert result.exit_code != 0
    assert "--average" in str(result.exception)  # main() prints it as one line


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory, mitdb_dir):
    """Two more seeds of TINY, and one run of another config (a group of its own)."""
    from ecgzoo.train.engine import train_run

    out = tmp_path_factory.mktemp("seeds")
    runs = [
        train_run(
            build_config(TINY, [f"output_dir={out}", f"name=s{seed}", f"train.seed={seed}"]),
            progress=False,
        ).run_dir
        for seed in (1, 2)
    ]
    other = train_run(
        build_config(TINY, [f"output_dir={out}", "name=wide", "model.params.hidden=24"]),
        progress=False,
    ).run_dir
    return runs, other


def test_compare_seeds_averages_runs_that_differ_only_in_their_seed(tmp_path, tiny_run, seed_runs):
    import numpy as np

    from ecgzoo.cli import app

    seeded, other = seed_runs
    folders = [tiny_run, *seeded, other]
    out = tmp_path / "table"
    result = CliRunner().invoke(
        app,
        ["compare", *map(str, folders), "--average", "weighted", "--seeds", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    lines = out.with_suffix(".csv").read_text().splitlines()
    rows = [dict(zip(lines[0].split(","), line.split(","), strict=True)) for line in lines[1:]]
    assert sorted(int(r["seeds"]) for r in rows) == [1, 3]
    three = next(r for r in rows if r["seeds"] == "3")
    assert sorted(three["run"].split()) == sorted(map(str, folders[:3]))
    f1 = [json.loads((f / "metrics.json").read_text())["test"]["weighted_f1"] for f in folders[:3]]
    assert float(three["weighted F1"]) == pytest.approx(np.mean(f1), abs=1e-4)
    assert float(three["weighted F1 sd"]) == pytest.approx(np.std(f1, ddof=1), abs=1e-4)
    one = next(r for r in rows if r["seeds"] == "1")
    assert one["run"] == str(other) and one["weighted F1 sd"] == ""  # no spread from one run


def test_mean_over_seeds_keeps_groups_apart_and_parameters_whole():
    from ecgzoo.report.tables import mean_over_seeds

    rows = [
        {"run": "a0", "F1": 0.5, "parameters": 10, "model": "fc"},
        {"run": "b0", "F1": 0.9, "parameters": 20, "model": "cnn"},
        {"run": "a1", "F1": 0.7, "parameters": 10, "model": "fc"},
    ]
    out = mean_over_seeds(rows, ["a", "b", "a"])
    assert [r["run"] for r in out] == ["a0 a1", "b0"]
    assert out[0]["F1"] == pytest.approx(0.6) and out[0]["F1 sd"] == pytest.approx(0.1414, abs=1e-4)
    assert out[0]["parameters"] == 10 and out[0]["model"] == "fc" and out[0]["seeds"] == 2
    assert out[1]["F1 sd"] is None and out[1]["seeds"] == 1
    with pytest.raises(ValueError, match="group keys"):
        mean_over_seeds(rows, ["a"])


def test_seed_faithful_cblstm_is_one_convolution_without_pooling():
    cfg = build_config(
        {"data": {"dataset": "mitbih"}, "model": {"name": "cblstm", "params": {}}},
        ["model.params.n_conv=1", "model.params.pool=1"],
    )
    model = build_model("cblstm", 1, 187, 5, 0, **cfg.model.params)
    convs = [m for m in model.conv if isinstance(m, nn.Conv1d)]
    assert len(convs) == 1
    assert not any(isinstance(m, nn.MaxPool1d) for m in model.modules())
    default = build_model("cblstm", 1, 187, 5, 0)
    assert sum(isinstance(m, nn.Conv1d) for m in default.conv) == 2  # the zoo's own default


def test_spectrogram_head_has_a_dense_layer_of_tunable_width_and_activation():
    from ecgzoo.errors import ConfigError

    model = build_model(
        "spectrogram_cnn", 1, 1500, 4, 0,
        pretrained=False, fs=150, nperseg=128, noverlap=96, image_size=64,
        dense=96, dense_activation="tanh",
    )  # fmt: skip
    linear, act = model.dense[0], model.dense[1]
    assert (linear.in_features, linear.out_features) == (1280, 96)
    assert isinstance(act, nn.Tanh)
    assert model.head.in_features == 96
    out = model(__import__("torch").randn(2, 1, 1500))
    assert out.shape == (2, 4)
    plain = build_model("spectrogram_cnn", 1, 1500, 4, 0, pretrained=False, image_size=64)
    assert plain.dense is None and plain.head.in_features == 1280  # old runs load unchanged
    with pytest.raises(ConfigError, match="activation"):
        build_model("spectrogram_cnn", 1, 1500, 4, 0, pretrained=False, dense_activation="swoosh")


def test_spectrogram_study_space_samples_valid_configs():
    from ecgzoo.experiment import load_config
    from ecgzoo.tune.space import load_space

    base = load_config("configs/cinc2017_spectrogram_finetune.yaml")
    space = load_space("configs/spaces/spectrogram.yaml")
    space.check(base, n_samples=12)


def test_study_configs_carry_the_papers_protocol():
    from pathlib import Path

    from ecgzoo.experiment import load_config

    root = Path(__file__).resolve().parents[1] / "configs" / "studies"
    for name in ("cnn2d", "gru"):  # inverse class weights, searched on macro recall
        cfg = load_config(root / "cnn_vs_rnn" / f"{name}.yaml")
        assert cfg.train.loss == "weighted_ce" and cfg.train.class_weight_power == 1.0
        assert cfg.train.monitor == "val_macro_recall"
    assert load_config(root / "cnn_vs_rnn" / "gru.yaml").model.params["chunk"] == 1
    for name in ("fc", "cblstm", "hadln"):  # one protocol for every row of the HADLN table
        tc = load_config(root / "hadln" / f"{name}.yaml").train
        assert (tc.loss, tc.focal_gamma, tc.optimizer, tc.lr) == ("focal", 2.0, "adam", 1e-3)
        assert (tc.batch_size, tc.epochs, tc.lr_patience, tc.lr_factor) == (32, 50, 5, 0.5)
    cblstm = load_config(root / "hadln" / "cblstm.yaml").model.params
    assert (cblstm["n_conv"], cblstm["pool"]) == (1, 1)
    spec = load_config(root / "cinc2017_spectrogram" / "spectrogram.yaml")
    assert spec.train.epochs == 10 and spec.train.monitor == "val_challenge_f1"
    assert spec.model.params["dense"] > 0
