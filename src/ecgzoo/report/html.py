"""One self-contained HTML page for a run, a comparison of runs, or an annotated record.

Everything is inline: images are PNG as base64 ``data:`` URIs, the style sheet is in the page,
there is no script and no network access, so the page opens anywhere (and in a test, in
headless Chromium). A run page holds the test metrics, the per-class table, the confusion
matrix, ROC and learning curves (and any Grad-CAM overlays found under the run folder); a
comparison adds one headline row per run; a record page (``NAME.ecgzoo.json`` written by
``ecgzoo annotate``) holds the summary, the heart-rate plot and an ECG strip viewer: 10-second
strips with every beat's label above it, the first strips and one around the first beat of
each ectopic class.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import DataError, EcgzooError
from ecgzoo.paths import atomic_write_text
from ecgzoo.report.html_parts import HEADLINE, duration_text, img, page, plot_png, table
from ecgzoo.report.html_record import (  # noqa: F401 (record_beside re-exported)
    record_beside,
    record_sections,
    record_summary,
    record_title,
)
from ecgzoo.safe_load import read_yaml


def trained_section(folder: Path, metrics: dict[str, Any]) -> str:
    """What was trained: model, dataset, split, epochs run of planned, why it stopped, time."""
    from ecgzoo.runs.runfolder import describe_model, stop_line

    try:
        config = read_yaml(folder / "config.yaml", "run config", mapping=True) or {}
    except DataError:
        config = {}
    data = config.get("data") or {}
    dataset = data.get("dataset")
    options = data.get(dataset) if isinstance(data.get(dataset), dict) else {}
    model = config.get("model") or {}
    label, params = describe_model(model)
    # runs trained before ecgzoo recorded the plan and the reason: the config has the plan
    planned = metrics.get("epochs_planned", (config.get("train") or {}).get("epochs"))
    if "stop_reason" not in metrics and metrics.get("stopped_early"):
        metrics = {**metrics, "stop_reason": "stopped early (reason not recorded)"}
    metrics = {**metrics, "epochs_planned": planned}
    run = metrics.get("epochs_run")
    row = {
        "model": label or metrics.get("model"),
        "parameters": metrics.get("n_parameters"),
        "dataset": dataset,
        "split": options.get("split"),
        "segmentation": options.get("segmentation"),
        "epochs": f"{run} of {planned}" if planned is not None else run,
        "best epoch": metrics.get("best_epoch"),
        "training time": duration_text(metrics.get("train_seconds")),
    }
    row = {k: v for k, v in row.items() if v is not None}
    note = stop_line(metrics)
    if params:
        note += f"; model settings: {params}"
    return "<h2>What was trained</h2>" + table([row]) + f"<p>{html.escape(note)}</p>"


def run_sections(folder: Path) -> list[str]:
    """Metric tables and figures of one run folder."""
    from ecgzoo.report import plots
    from ecgzoo.runs.runfolder import read_metrics

    metrics_path = folder / "metrics.json"
    if not metrics_path.is_file():
        raise DataError(f"{metrics_path}: not found (is {folder} a finished run?)")
    metrics = read_metrics(metrics_path)
    test = metrics.get("test", {})
    out = [trained_section(folder, metrics), f"<h2>Run {html.escape(folder.name)}: test split</h2>"]
    out.append(table([{k: test.get(k) for k in HEADLINE}]))
    per_class = test.get("aami") or test.get("per_class")
    if isinstance(per_class, dict):
        per_class = [{"class": k, **v} for k, v in per_class.items()]
    if per_class:
        out.append(
            table(
                [{k: v for k, v in r.items() if not isinstance(v, list | dict)} for r in per_class]
            )
        )
    figures = []
    cm = test.get("confusion_matrix")
    if (folder / "confusion_matrix.png").is_file():
        figures.append(((folder / "confusion_matrix.png").read_bytes(), "confusion matrix"))
    elif cm is not None:
        names = test.get("class_names") or [str(i) for i in range(len(cm))]
        figures.append(
            (plot_png(plots.plot_confusion_matrix, np.asarray(cm), names), "confusion matrix")
        )
    for name, alt in (("roc_curves.png", "ROC curves"), ("learning_curves.png", "learning")):
        if (folder / name).is_file():
            figures.append(((folder / name).read_bytes(), alt))
    if not (folder / "learning_curves.png").is_file() and (folder / "history.csv").is_file():
        import pandas as pd

        hist = pd.read_csv(folder / "history.csv")
        figures.append((plot_png(plots.plot_learning_curves, hist), "learning curves"))
    for png in sorted(folder.glob("explain*/*.png"))[:12]:
        figures.append((png.read_bytes(), f"Grad-CAM {png.stem}"))
    out += [
        f"<figure>{img(b, alt)}<figcaption>{html.escape(alt)}</figcaption></figure>"
        for b, alt in figures
    ]
    return out


def compare_section(folders: list[Path]) -> str:
    """One headline row per run."""
    from ecgzoo.runs.runfolder import read_metrics

    rows = []
    for f in folders:
        path = f / "metrics.json"
        if not path.is_file():
            raise DataError(f"{path}: not found")
        test = read_metrics(path).get("test", {})
        rows.append({"run": f.name, **{k: test.get(k) for k in HEADLINE}})
    return "<h2>Comparison (test split)</h2>" + table(rows)


def _is_run(target: Path) -> bool:
    return target.is_dir() and (target / "metrics.json").is_file()


def build_report(target: Path, compare: list[Path] | None = None) -> str:
    """The HTML text for a run folder (optionally compared with others) or an annotated
    record (its ``NAME.ecgzoo.json``, or the record path beside it)."""
    target = Path(target)
    if _is_run(target):
        sections = run_sections(target)
        if compare:
            sections.insert(0, compare_section([target, *compare]))
        return page(f"ecgzoo report: {target.name}", sections)
    summary = record_summary(target)
    if summary.is_file():
        return page(record_title(summary), record_sections(summary))
    raise EcgzooError(
        f"{target}: neither a run folder (metrics.json) nor an annotated record "
        f"(no {summary.name}; run `ecgzoo annotate` first)"
    )


def default_report_path(target: Path, compare: list[Path] | None = None) -> Path:
    """Where a report goes when the user names no file: inside the run folder
    (``report.html``, ``compare.html`` with ``--compare``), or beside the annotated record
    (``NAME.report.html``); never the current folder."""
    from ecgzoo.apply.outputs import EXTENSION

    target = Path(target)
    if _is_run(target):
        return target / ("compare.html" if compare else "report.html")
    summary = record_summary(target)
    name = summary.name.removesuffix(f".{EXTENSION}.json").removesuffix(".json")
    return summary.parent / f"{name}.report.html"


def write_report(
    target: Path,
    out: Path | None = None,
    compare: list[Path] | None = None,
    overwrite: bool = False,
) -> Path:
    """Build the page and write it atomically to ``out`` (default:
    :func:`default_report_path`); an existing file is replaced only with ``overwrite``."""
    path = Path(out) if out is not None else default_report_path(target, compare)
    if path.is_dir():
        raise EcgzooError(f"--out: {path} is a folder; name the HTML file to write")
    if path.exists() and not overwrite:
        raise EcgzooError(f"{path}: already exists (pass --overwrite to replace it, or --out)")
    atomic_write_text(path, build_report(target, compare))
    return path
