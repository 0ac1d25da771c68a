"""Report figures are real PNG files written atomically; tables round-trip through md and CSV."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecgzoo.report import (
    compare_table,
    format_value,
    plot_class_distribution,
    plot_confusion_matrix,
    plot_example_grid,
    plot_learning_curves,
    plot_length_distribution,
    plot_metric_vs_param,
    plot_roc_curves,
    to_markdown,
    write_table,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLASSES = ["N", "S", "V", "F", "Q"]


def _assert_png(path: Path, folder: Path, min_bytes: int = 5_000) -> None:
    assert path.is_file()
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > min_bytes
    # nothing but the finished PNGs in the folder: no temporary files left behind
    leftovers = [p.name for p in folder.iterdir() if not p.name.endswith(".png")]
    assert leftovers == []
    assert not any(p.name.startswith(".") for p in folder.iterdir())


def test_import_has_no_matplotlib_side_effect():
    code = "import sys, ecgzoo.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plot_learning_curves(tmp_path):
    history = [
        {
            "epoch": e,
            "train_loss": 1.0 / e,
            "val_loss": 1.2 / e + 0.02 * e,
            "val_macro_recall": 0.5 + 0.04 * e,
            "val_accuracy": 0.6 + 0.03 * e,
            "lr": 1e-3 * 0.5**e,
            "epoch_time_s": 3.0,
        }
        for e in range(1, 9)
    ]
    out = plot_learning_curves(history, tmp_path / "curves.png")
    _assert_png(out, tmp_path)
    # a DataFrame works too, and a missing lr column just drops that panel
    frame = pd.DataFrame(history).drop(columns=["lr"])
    _assert_png(plot_learning_curves(frame, tmp_path / "curves_df.png"), tmp_path)


def test_plot_confusion_matrix(tmp_path):
    cm = np.array(
        [
            [900, 20, 10, 5, 1],
            [30, 60, 5, 0, 0],
            [10, 3, 80, 7, 0],
            [2, 0, 6, 12, 0],
            [0, 0, 0, 0, 0],  # absent class: a blank row, no division warning
        ]
    )
    _assert_png(plot_confusion_matrix(cm, CLASSES, tmp_path / "cm.png"), tmp_path)
    out = plot_confusion_matrix(cm, CLASSES, tmp_path / "sub" / "cm_counts.png", normalize=False)
    _assert_png(out, tmp_path / "sub")
    with pytest.raises(ValueError):
        plot_confusion_matrix(cm[:3, :3], CLASSES, tmp_path / "bad.png")


def test_plot_roc_curves_with_absent_class(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=300)  # class Q (4) never occurs
    logits = rng.normal(size=(300, 5))
    logits[np.arange(300), y] += 1.5
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    _assert_png(plot_roc_curves(y, prob, CLASSES, tmp_path / "roc.png"), tmp_path)


def test_plot_class_distribution(tmp_path):
    counts = {
        "train": {"N": 45000, "S": 940, "V": 3780, "F": 410, "Q": 8},
        "val": {"N": 5000, "S": 100, "V": 400, "F": 40},
        "test": {"N": 44000, "S": 1830, "V": 3200, "F": 388, "Q": 7},
    }
    out = plot_class_distribution(counts, tmp_path / "dist.png", "MIT-BIH beats", log_scale=True)
    _assert_png(out, tmp_path)


def test_plot_example_grid(tmp_path):
    rng = np.random.default_rng(1)
    t = np.linspace(0, 1, 360)
    y = np.array([0] * 6 + [1] * 5 + [2] * 2)  # F and Q have no examples, V only two
    x = np.stack([np.sin(2 * np.pi * (k + 1) * t) + 0.1 * rng.normal(size=t.size) for k in y])
    out = plot_example_grid(x, y, CLASSES, tmp_path / "grid.png", per_class=4, fs=360.0)
    _assert_png(out, tmp_path)
    # (n, n_leads, n_samples) input, time in samples
    out = plot_example_grid(x[:, None, :], y, CLASSES, tmp_path / "grid3d.png", per_class=1)
    _assert_png(out, tmp_path)


def test_plot_length_distribution(tmp_path):
    rng = np.random.default_rng(2)
    names = ["N", "A", "O", "~"]
    labels = rng.integers(0, 4, size=400)
    lengths = np.clip(rng.normal(32, 8, size=400), 9, 61)
    out = plot_length_distribution(lengths, labels, names, tmp_path / "len.png")
    _assert_png(out, tmp_path)
    string_labels = np.array(names)[labels]
    out = plot_length_distribution(lengths, string_labels, names, tmp_path / "len_str.png")
    _assert_png(out, tmp_path)


def test_plot_metric_vs_param(tmp_path):
    rng = np.random.default_rng(3)
    trials = pd.DataFrame(
        {
            "lr": 10 ** rng.uniform(-5, -2, size=20),
            "dropout": rng.uniform(0, 0.5, size=20),
            "model": rng.choice(["cnn1d", "resnet1d", "lstm"], size=20),
            "use_rr": rng.choice([True, False], size=20),
            "val_macro_recall": rng.uniform(0.4, 0.9, size=20),
        }
    )
    trials.loc[3, "val_macro_recall"] = np.nan  # a failed trial is dropped
    params = ["lr", "dropout", "model", "use_rr"]
    out = plot_metric_vs_param(trials, "val_macro_recall", params, tmp_path / "hp.png")
    _assert_png(out, tmp_path)
    rows = trials.to_dict(orient="records")
    out = plot_metric_vs_param(rows, "val_macro_recall", ["lr"], tmp_path / "hp1.png")
    _assert_png(out, tmp_path)


# --------------------------------------------------------------------------- tables


def test_format_value():
    assert format_value(None) == ""
    assert format_value(3) == "3"
    assert format_value(np.int64(7)) == "7"
    assert format_value(0.123456) == "0.1235"
    assert format_value(np.float32(0.5)) == "0.5000"
    assert format_value(12.34567) == "12.346"
    assert format_value(1234.567) == "1234.6"
    assert format_value(2.5e-6) == "2.500e-06"
    assert format_value(float("nan")) == "nan"
    assert format_value(True) == "True"


def test_to_markdown_exact():
    rows = [
        {"model": "cnn1d", "F1": 0.81234, "parameters": 12345},
        {"model": "a|b", "F1": None, "parameters": 99, "note": "x"},
    ]
    md = to_markdown(rows)
    assert md == (
        "| model | F1 | parameters | note |\n"
        "|:---|---:|---:|:---|\n"
        "| cnn1d | 0.8123 | 12345 |  |\n"
        "| a\\|b |  | 99 | x |\n"
    )
    assert (
        to_markdown(rows, columns=["parameters"]) == "| parameters |\n|---:|\n| 12345 |\n| 99 |\n"
    )
    assert to_markdown([]) == ""


def _parse_markdown(text: str) -> list[dict[str, str]]:
    lines = [ln.strip() for ln in text.strip().splitlines()]

    def split(line: str) -> list[str]:
        return [c.strip() for c in line.strip("|").split(" | ")]

    header = split(lines[0])
    return [dict(zip(header, split(ln), strict=True)) for ln in lines[2:]]


def test_write_table_round_trip(tmp_path):
    rows = [
        {"model": "cnn1d", "macro_recall": 0.8123456789, "accuracy": 0.95, "parameters": 120_000},
        {"model": "resnet1d", "macro_recall": 0.7, "accuracy": 0.9312, "parameters": 850_000},
        {"model": "lstm", "macro_recall": 0.65, "accuracy": None, "parameters": 40_000},
    ]
    md_path, csv_path = write_table(rows, tmp_path / "out" / "compare.v1")
    assert md_path == tmp_path / "out" / "compare.v1.md"
    assert csv_path == tmp_path / "out" / "compare.v1.csv"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "compare.v1.csv",
        "compare.v1.md",
    ]

    parsed = _parse_markdown(md_path.read_text())
    assert [r["model"] for r in parsed] == ["cnn1d", "resnet1d", "lstm"]
    assert parsed[0]["macro_recall"] == "0.8123"
    assert parsed[1]["parameters"] == "850000"
    assert parsed[2]["accuracy"] == ""

    frame = pd.read_csv(csv_path)
    assert list(frame.columns) == ["model", "macro_recall", "accuracy", "parameters"]
    assert frame["model"].tolist() == ["cnn1d", "resnet1d", "lstm"]
    assert frame["macro_recall"].tolist() == pytest.approx([0.8123456789, 0.7, 0.65])  # full
    assert frame["parameters"].tolist() == [120_000, 850_000, 40_000]
    assert np.isnan(frame.loc[2, "accuracy"])
    # rewriting replaces the files in place
    write_table(rows[:1], tmp_path / "out" / "compare.v1")
    assert len(pd.read_csv(csv_path)) == 1
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_compare_table():
    summaries = [
        {
            "model": "cnn1d",
            "n_params": 120_000,
            "train_time_s": 35.2,
            "metrics": {
                "macro_precision": 0.6,
                "macro_recall": 0.7,
                "macro_f1": 0.62,
                "weighted_f1": 0.9,
                "accuracy": 0.91,
                "challenge_f1": 0.8,
            },
        },
        {"name": "resnet1d", "precision": 0.7, "recall": 0.75, "f1": 0.72, "accuracy": 0.93},
        {"model": "broken"},
    ]
    rows = compare_table(summaries, extra_columns={"challenge F1": "challenge_f1"})
    assert [r["model"] for r in rows] == ["resnet1d", "cnn1d", "broken"]  # by F1, missing last
    assert list(rows[0]) == [
        "model",
        "precision",
        "recall",
        "F1",
        "accuracy",
        "parameters",
        "train time (s)",
        "challenge F1",
    ]
    cnn = rows[1]
    assert cnn["precision"] == 0.6 and cnn["recall"] == 0.7 and cnn["F1"] == 0.62
    assert cnn["parameters"] == 120_000 and cnn["train time (s)"] == 35.2
    assert cnn["challenge F1"] == 0.8
    assert rows[0]["parameters"] is None
    weighted = compare_table(summaries[:1], average="weighted", sort_by=None)
    assert weighted[0]["F1"] == 0.9
    assert "| cnn1d |" in to_markdown(rows)
