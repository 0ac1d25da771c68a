"""The command line, end to end on real data, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# Each test starts the CLI in a subprocess (seconds of imports apiece): the full tier only.
pytestmark = pytest.mark.slow


def ecgzoo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecgzoo", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "160"},
        timeout=600,
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["data", "info", "nosuchdb"], "unknown database 'nosuchdb'"),
        (["train", "configs/demo.yaml", "train.lrr=1"], "train.lrr"),
        (["train", "missing.yaml"], "missing.yaml"),
        (["evaluate", "runs/no-such-run"], "not a run folder"),
        (["evaluate", "pretrained:nope"], "unknown pretrained model 'nope'"),
    ],
)
def test_expected_mistakes_get_one_line_and_no_traceback(args, needle):
    result = ecgzoo(*args, cwd=REPO)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_models_list_names_every_model():
    result = ecgzoo("models", "list")
    assert result.returncode == 0, result.stderr
    for name in ("fc", "cnn2d", "rnn", "cblstm", "hadln", "resnet1d", "spectrogram_cnn"):
        assert name in result.stdout


def test_data_info_writes_table_and_pngs(tmp_path, mitdb_dir):
    result = ecgzoo("data", "info", "mitdb", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout and "test" in result.stdout
    for png in ("mitdb_class_distribution.png", "mitdb_example_beats.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_evaluate_compare(tmp_path, mitdb_dir):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "cli-tiny",
                "output_dir": str(tmp_path / "runs"),
                "data": {"dataset": "mitbih", "mitbih": {"records": ["100", "208", "232"]}},
                "model": {
                    "name": "resnet1d",
                    "params": {"n_blocks": 2, "width": 8, "kernel": 5, "stem_stride": 4},
                },
                "train": {"epochs": 2, "max_steps_per_epoch": 10, "batch_size": 128},
            }
        )
    )
    result = ecgzoo("train", str(config), "--quiet")
    assert result.returncode == 0, result.stderr
    run = tmp_path / "runs" / "cli-tiny"
    assert "AAMI" in result.stdout

    result = ecgzoo("evaluate", str(run), "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    saved = json.loads((run / "metrics.json").read_text())["test"]
    assert metrics["accuracy"] == pytest.approx(saved["accuracy"])
    assert metrics["confusion_matrix"] == saved["confusion_matrix"]

    out = tmp_path / "table"
    result = ecgzoo("compare", str(run), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "resnet1d" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "table.csv").read_text().count("\n") == 2
