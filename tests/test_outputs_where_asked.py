"""Outputs go where the user asked (issue 22): `report` and `explain` write into the run folder
(or `--out`), never into the current folder and never over an existing file without
`--overwrite`; the run page says what was trained, the record page names record and model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecgzoo.report.html import default_report_path, duration_text, trained_section
from ecgzoo.runs.runfolder import PRETRAINED_DIR

SRC = str(Path(__file__).resolve().parents[1] / "src")


def ecgzoo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecgzoo", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "160", "PYTHONPATH": SRC},
        timeout=600,
    )


def one_line_error(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert len(result.stderr.strip().splitlines()) == 1 and needle in result.stderr, result.stderr


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(PRETRAINED_DIR / "mitbih-intra", folder)
    return folder


def test_report_goes_into_the_run_folder_and_keeps_existing_files(run, tmp_path):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    first = ecgzoo("report", str(run), cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    page = run / "report.html"
    assert page.is_file() and not any(elsewhere.iterdir())
    text = page.read_text()
    assert "What was trained" in text and "resnet1d" in text and "7 of 40" in text
    assert "16 min 39 s" in text  # train_seconds 999.4, not 999.3967
    page.write_text("keep me")
    one_line_error(ecgzoo("report", str(run), cwd=elsewhere), "--overwrite")
    assert page.read_text() == "keep me"
    again = ecgzoo("report", str(run), "--overwrite", cwd=elsewhere)
    assert again.returncode == 0, again.stderr and "What was trained" in page.read_text()
    named = tmp_path / "mine.html"
    assert ecgzoo("report", str(run), "--out", str(named), cwd=elsewhere).returncode == 0
    assert named.is_file()


def test_default_report_paths(run, tmp_path):
    assert default_report_path(run) == run / "report.html"
    assert default_report_path(run, [run]) == run / "compare.html"
    record = tmp_path / "rec" / "208.ecgzoo.json"
    assert default_report_path(record) == tmp_path / "rec" / "208.report.html"
    assert default_report_path(tmp_path / "rec" / "208.hea") == tmp_path / "rec" / "208.report.html"


def test_explain_refuses_a_folder_that_holds_files(run, tmp_path):
    out = run / "explain"
    out.mkdir()
    (out / "summary.md").write_text("keep me")
    one_line_error(ecgzoo("explain", str(run), "119:5000", cwd=tmp_path), "--overwrite")
    assert (out / "summary.md").read_text() == "keep me"


def test_what_was_trained_says_how_far_training_went(run):
    metrics = json.loads((run / "metrics.json").read_text())
    text = trained_section(run, metrics)
    assert "stopped after epoch 7 of 40: stopped early (reason not recorded)" in text
    metrics.update(epochs_planned=6, epochs_run=1, stop_reason="time budget 4 min")
    assert "stopped after epoch 1 of 6: time budget 4 min" in trained_section(run, metrics)
    assert "intra" in text and "centered" in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "n/a"), (0.4, "0 s"), (42.0, "42 s"), (185.2, "3 min 05 s"), (3725, "1 h 02 min")],
)
def test_durations_read_like_durations(seconds, text):
    assert duration_text(seconds) == text
