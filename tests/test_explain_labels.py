"""`explain` names what fills a short recording, reports the probabilities `predict` reports,
and prints the attribution on the filler (issue 22), on the shipped CinC 2017 ensemble
(`fill: tile`, trained on 30 s crops of 60 s inputs)."""

from __future__ import annotations

import pytest

from ecgzoo.explain.overlay import _padding_label, filler_name


def test_the_filler_is_named_by_the_runs_fill():
    assert filler_name("zero") == "zero padding" and filler_name(None) == "zero padding"
    assert filler_name("tile") == "tiled repeat" and filler_name("reflect") == "mirrored repeat"
    label = _padding_label(2000, 9000, 150.0, 0.25, "tile")
    assert label == "tiled repeat (46.7 s)\n25% of attribution"


@pytest.mark.slow
def test_explain_matches_predict_and_names_the_tiled_repeat(tmp_path, cinc2017_dir):
    from ecgzoo.api import predict
    from ecgzoo.explain import explain_run

    records = ["A00005", "A00014"]  # 60 s, and 18.6 s: 41.4 s of its 60 s input are a repeat
    summary = explain_run("pretrained:cinc2017", records, tmp_path / "ex", root=cinc2017_dir)
    assert summary["fill"] == "tile" and summary["filler"] == "tiled repeat"
    assert summary["probability_rule"] == "5-crop vote (as predict/evaluate)"
    text = (tmp_path / "ex" / "summary.md").read_text()
    assert "Attribution on the tiled repeat vs on the signal" in text
    rows = {row["record"]: row for row in summary["records"]}
    assert rows["A00005"]["padding_share"] == 0.0
    assert rows["A00014"]["padding_share"] == pytest.approx(1 - 2785 / 9000, abs=1e-3)
    for record in records:
        [row] = predict(cinc2017_dir / "training2017" / record, "pretrained:cinc2017")
        for c, p in rows[record]["probabilities"].items():
            assert p == pytest.approx(row[f"p_{c}"], abs=1e-5), (record, c)
    # the maps explain one pass over the whole input, which differs from the vote
    assert rows["A00014"]["probabilities_one_pass"] != rows["A00014"]["probabilities"]


@pytest.mark.slow
def test_the_console_prints_the_attribution_on_the_filler(tmp_path, cinc2017_dir):
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.run(
        [sys.executable, "-m", "ecgzoo", "explain", "pretrained:cinc2017", "A00014"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": src, "COLUMNS": "80"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "on tiled repeat" in out and "tiled repeat share" in out and "69.1%" in out
    assert "mean over 1 map(s):" in out and "of the attribution on the tiled repeat" in out
    assert (tmp_path / "explain-cinc2017" / "summary.json").is_file()
