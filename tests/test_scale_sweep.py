"""`ecgzoo scale` on a tiny grid of real MIT-BIH beats: table, best scales, plots, resume.

One 2-point sweep (Ray local, 1 CPU per point) is shared by the tests of this module; Ray's
start and two trainings take about a minute on a shared 2-core box, so those tests are slow.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.experiment import build_config
from ecgzoo.study import load_grid, parse_grid, run_sweep

TINY = {
    "name": "scale-tiny",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "209"], "max_beats_per_class": 150},
    },
    "model": {"name": "resnet1d", "params": {"stem_stride": 2}},
    "train": {"epochs": 1, "batch_size": 64, "max_steps_per_epoch": 3},
}
GRID = {
    "depth": [1],
    "width": [8],
    "kernel": [3],
    "pooling": ["gap", "flatten"],
    "metric": "macro_f1",
    "overrides": {"train.epochs": 1},
}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, mitdb_dir):
    folder = tmp_path_factory.mktemp("scale") / "sweep"
    result = run_sweep(
        build_config(TINY), parse_grid(GRID), output=folder, cpus_per_trial=1, progress=False
    )
    return result


@pytest.mark.slow
def test_tiny_sweep_writes_table_best_and_plots(sweep):
    folder = sweep.sweep_dir
    assert sweep.new_points == 2
    assert [r["point"] for r in sweep.rows] == ["d1-c8-k3-gap", "d1-c8-k3-flatten"]
    for row in sweep.rows:
        assert row["status"] == "ok", row.get("error")
        assert row["params"] > 0 and row["macs"] > 0 and row["train_seconds"] > 0
        # the table's F1 is the run's: recomputed from its test confusion matrix, over the
        # classes present in the reference or the predictions (the metrics' convention)
        run_metrics = json.loads((folder / "runs" / row["point"] / "metrics.json").read_text())
        cm = np.asarray(run_metrics["test"]["confusion_matrix"])
        present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
        f1 = 2 * np.diag(cm) / np.maximum(cm.sum(axis=0) + cm.sum(axis=1), 1)
        assert row["test_macro_f1"] == pytest.approx(f1[present].mean()) and "test_f1_N" in row
        # stem k3 (max(kernel 3, stride 2)) s2: 3, jump 2; one block of two k3 convs: 3 + 4 + 4
        assert row["rf_samples"] == 11
        # a sweep scores the train loss (overfitting gap) on a small subset: cheap points
        run = folder / "runs" / row["point"]
        assert (
            yaml.safe_load((run / "config.yaml").read_text())["train"]["train_loss_examples"]
            == 2000
        )
        assert row["final_train_loss"] > 0
        assert row["overfit_gap"] == pytest.approx(row["test_loss"] - row["final_train_loss"])
    gap, flat = sweep.rows
    assert flat["params"] > gap["params"]
    header = (folder / "table.csv").read_text().splitlines()[0].split(",")
    for col in ("depth", "width", "kernel", "pooling", "params", "rf_seconds", "macs"):
        assert col in header
    assert "d1-c8-k3-flatten" in (folder / "table.md").read_text()
    best = (folder / "best.csv").read_text()
    assert best.startswith("task,point") and "f1_N" in best and "tied" in best
    for name in ("metric_vs_scale", "metric_vs_receptive_field", "gap_vs_flatten", "best_scales"):
        png = folder / "plots" / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["gap_flatten_pairs"] == 1 and summary["n_points"] == 2
    assert set(summary["axis_means"]["pooling"]) == {"gap", "flatten"}
    recorded = json.loads((folder / "results.json").read_text())["points"]
    assert set(recorded) == {"d1-c8-k3-gap", "d1-c8-k3-flatten"}


@pytest.mark.slow
def test_resume_skips_finished_points_and_refuses_other_grid(sweep):
    folder = sweep.sweep_dir
    with pytest.raises(ConfigError, match="--resume"):
        run_sweep(build_config(TINY), parse_grid(GRID), output=folder, progress=False)
    again = run_sweep(
        build_config(TINY), parse_grid(GRID), output=folder, resume=True, progress=False
    )
    assert again.new_points == 0
    report = run_sweep(
        build_config(TINY), parse_grid(GRID), output=folder, report_only=True, progress=False
    )
    assert report.new_points == 0 and len(report.rows) == 2
    assert [r["test_macro_f1"] for r in again.rows] == [r["test_macro_f1"] for r in sweep.rows]
    other = parse_grid({**GRID, "kernel": [5]})
    with pytest.raises(ConfigError, match="grid.yaml"):
        run_sweep(build_config(TINY), other, output=folder, resume=True, progress=False)


def test_bad_grids_are_one_line_errors(tmp_path):
    with pytest.raises(EcgzooError, match="no sweep"):
        run_sweep(build_config(TINY), parse_grid(GRID), output=tmp_path, report_only=True)
    with pytest.raises(ConfigError, match="pooling"):
        parse_grid({**GRID, "pooling": ["max"]})
    with pytest.raises(ConfigError, match="depth"):
        parse_grid({**GRID, "depth": []})
    with pytest.raises(ConfigError, match="model.params.width"):
        parse_grid({**GRID, "overrides": {"model.params.width": 3}})
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({**GRID, "colour": "red"}))
    with pytest.raises(ConfigError, match="g.yaml"):
        load_grid(path)
    with pytest.raises(EcgzooError, match="not found"):
        load_grid(tmp_path / "missing.yaml")


def test_shipped_grids_load():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[1] / "configs" / "scale").glob("*.yaml")):
        assert load_grid(path).points()


@pytest.mark.slow  # the CLI in subprocesses
def test_cli_mistakes_are_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**GRID, "pooling": ["avg"]}))
    for grid, needle in ((tmp_path / "nope.yaml", "nope.yaml"), (bad, "pooling")):
        result = subprocess.run(
            [sys.executable, "-m", "ecgzoo", "scale", "configs/demo.yaml", "--grid", str(grid)],
            capture_output=True,
            text=True,
            cwd=repo,
            env={**os.environ, "PYTHONPATH": str(repo / "src")},
            timeout=120,
        )
        assert result.returncode == 2 and needle in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_base_config_of_another_model_is_told_it_trains_resnet1d(tmp_path, monkeypatch, capsys):
    """``ecgzoo scale`` with a LightGBM (or any non-resnet1d) config trained resnet1d on its
    data without a word."""
    import sys

    from ecgzoo.cli import main

    args = ["scale", "configs/mitbih_inter_lightgbm.yaml", "--report-only", "--output"]
    monkeypatch.setattr(sys, "argv", ["ecgzoo", *args, str(tmp_path / "sweep")])
    with pytest.raises(SystemExit):
        main()  # --report-only on an empty folder: "no sweep" after the note
    out, err = capsys.readouterr()
    assert "trains resnet1d at every grid point" in out and "(lightgbm) is not used" in out
    assert "no sweep" in err
