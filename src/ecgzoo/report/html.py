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

import base64
import html
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import DataError, EcgzooError
from ecgzoo.paths import atomic_write_text
from ecgzoo.safe_load import read_json, read_yaml

STYLE = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #bbb;padding:4px 8px}
th{background:#e8eef7}td.num{text-align:right}img{max-width:100%;margin:6px 0}
.strips{max-height:900px;overflow-y:auto;border:1px solid #ddd;padding:4px}
"""
HEADLINE = ["accuracy", "macro_f1", "weighted_f1", "roc_auc_macro", "n_examples"]


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _cell(v: Any) -> str:
    if v is None:
        return "<td>n/a</td>"
    if isinstance(v, float):
        return f'<td class="num">{v:.4f}</td>'
    if isinstance(v, int):
        return f'<td class="num">{v:,}</td>'
    return f"<td>{html.escape(str(v))}</td>"


def table(rows: list[dict[str, Any]]) -> str:
    """An HTML table of dict rows sharing keys."""
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(_cell(v) for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(title: str, sections: list[str]) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>\n"
    )


def _plot_png(draw, *args: Any) -> bytes:
    """Run an ``ecgzoo.report.plots`` function into a temporary file; its PNG bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plot.png"
        draw(*args, path)
        return path.read_bytes()


def duration_text(seconds: float | None) -> str:
    """Seconds as a person reads them: ``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds is None:
        return "n/a"
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def trained_section(folder: Path, metrics: dict[str, Any]) -> str:
    """What was trained: model, dataset, split, epochs run of planned, why it stopped, time."""
    from ecgzoo.runs.runfolder import stop_line

    try:
        config = read_yaml(folder / "config.yaml", "run config", mapping=True) or {}
    except DataError:
        config = {}
    data = config.get("data") or {}
    dataset = data.get("dataset")
    options = data.get(dataset) if isinstance(data.get(dataset), dict) else {}
    model = config.get("model") or {}
    params = ", ".join(f"{k}={v}" for k, v in (model.get("params") or {}).items())
    # runs trained before ecgzoo recorded the plan and the reason: the config has the plan
    planned = metrics.get("epochs_planned", (config.get("train") or {}).get("epochs"))
    if "stop_reason" not in metrics and metrics.get("stopped_early"):
        metrics = {**metrics, "stop_reason": "stopped early (reason not recorded)"}
    metrics = {**metrics, "epochs_planned": planned}
    run = metrics.get("epochs_run")
    row = {
        "model": metrics.get("model") or model.get("name"),
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
            (_plot_png(plots.plot_confusion_matrix, np.asarray(cm), names), "confusion matrix")
        )
    for name, alt in (("roc_curves.png", "ROC curves"), ("learning_curves.png", "learning")):
        if (folder / name).is_file():
            figures.append(((folder / name).read_bytes(), alt))
    if not (folder / "learning_curves.png").is_file() and (folder / "history.csv").is_file():
        import pandas as pd

        hist = pd.read_csv(folder / "history.csv")
        figures.append((_plot_png(plots.plot_learning_curves, hist), "learning curves"))
    for png in sorted(folder.glob("explain*/*.png"))[:12]:
        figures.append((png.read_bytes(), f"Grad-CAM {png.stem}"))
    out += [
        f"<figure>{_img(b, alt)}<figcaption>{html.escape(alt)}</figcaption></figure>"
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


def strip_png(
    signal: np.ndarray, fs: float, t0: float, samples: np.ndarray, labels: list[str], title: str
) -> bytes:
    """A 10-second ECG strip with each beat's label above its R peak."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = t0 + np.arange(len(signal)) / fs
    fig, ax = plt.subplots(figsize=(12, 2.2))
    ax.plot(t, signal, lw=0.8, color="black")
    top = float(np.max(signal)) if len(signal) else 1.0
    colours = {"N": "tab:green", "S": "tab:orange", "V": "tab:red", "F": "tab:purple"}
    for s, lab in zip(samples, labels, strict=True):
        ax.text(
            s / fs,
            top,
            lab,
            ha="center",
            va="bottom",
            fontsize=9,
            color=colours.get(lab, "tab:blue"),
            fontweight="bold",
        )
    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(float(np.min(signal)) - 0.1, top + 0.5)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mV")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def record_sections(summary_json: Path, n_strips: int = 3, strip_s: float = 10.0) -> list[str]:
    """Summary tables, heart-rate plot and ECG strips of an annotated record."""
    import pandas as pd

    from ecgzoo.apply.signals import open_source

    summary = read_json(summary_json, "annotation summary")
    _check_summary(summary, summary_json)
    csv = summary_json.parent / (summary_json.name[: -len(".json")] + ".csv")
    try:
        beats = pd.read_csv(csv)
        if not {"class", "time_s", "sample"} <= set(beats.columns):
            raise ValueError("columns class, time_s, sample missing")
    except (OSError, ValueError) as exc:
        raise DataError(f"{csv}: cannot read the annotated beats ({exc})") from None
    out = [f"<h2>Record {html.escape(summary['record'])} ({html.escape(summary['lead'])})</h2>"]
    out.append(
        table(
            [
                {
                    "beats": summary["n_beats"],
                    "duration": duration_text(summary["duration_s"]),
                    "median HR (bpm)": _rounded(summary["mean_hr_bpm"], 0),
                    "ectopic burden (%)": _rounded(summary["ectopic_burden_total_percent"], 2),
                }
            ]
        )
    )
    out.append(
        table(
            [
                {
                    "class": c,
                    "beats": n,
                    "longest run": summary["longest_runs"].get(c, {}).get("beats"),
                }
                for c, n in summary["counts"].items()
            ]
        )
    )
    png = summary_json.parent / (summary_json.name[: -len(".json")] + ".png")
    if png.is_file():
        out.append(_img(png.read_bytes(), "heart rate and class counts"))
    record = record_beside(summary_json, summary)
    if record is None:
        out.append("<p>The record is not beside its annotation: no ECG strips.</p>")
        return out
    source = open_source(record, summary.get("fs"))
    lead = source.lead_index(summary["lead"])
    starts = [i * strip_s for i in range(n_strips)]
    for c in ("V", "S", "F"):
        hit = beats[beats["class"] == c]
        if len(hit):
            t_first = max(float(hit["time_s"].iloc[0]) - strip_s / 2, 0.0)
            if t_first >= n_strips * strip_s:  # not already shown in the first strips
                starts.append(t_first)
    strips = []
    for t0 in sorted(set(starts)):
        a = int(t0 * source.fs)
        b = min(a + int(strip_s * source.fs), source.n_samples)
        if b - a < 2:
            continue
        sig = source.read(lead, a, b)
        sel = beats[(beats["sample"] >= a) & (beats["sample"] < b)]
        strips.append(
            _img(
                strip_png(
                    sig,
                    source.fs,
                    a / source.fs,
                    sel["sample"].to_numpy(),
                    sel["class"].astype(str).tolist(),
                    f"{summary['record']} {t0:.0f}-{t0 + strip_s:.0f} s",
                ),
                f"strip at {t0:.0f} s",
            )
        )
    out.append("<h2>ECG strips</h2><div class='strips'>" + "".join(strips) + "</div>")
    return out


_SUMMARY_TYPES = {
    "record": str,
    "lead": str,
    "n_beats": int,
    "duration_s": (int, float),
    "ectopic_burden_total_percent": (int, float),
    "counts": dict,
    "longest_runs": dict,
}


def _check_summary(summary: dict, path: Path) -> None:
    """An annotation summary as ``annotate`` writes it; anything else is one line."""
    for key, kind in _SUMMARY_TYPES.items():
        if not isinstance(summary.get(key), kind) or isinstance(summary.get(key), bool):
            raise DataError(
                f"{path}: not an ecgzoo annotation summary ({key!r} is missing or wrong)"
            )
    fs = summary.get("fs")
    if fs is not None and not (isinstance(fs, int | float) and 0 < fs < 1e6):
        raise DataError(f"{path}: not an ecgzoo annotation summary ('fs' is {fs!r})")


def record_beside(summary_json: Path, summary: dict) -> Path | None:
    """The annotated record itself, found beside its ``NAME.ecgzoo.json`` and nowhere else.

    The path stored in the JSON is never followed (it is relative to wherever ``annotate``
    ran, and a received JSON could name any file): only its file name is used, and it must be
    the record the JSON is named after. None when the record is not there.
    """
    from ecgzoo.apply.outputs import EXTENSION

    name = summary["record"]
    if summary_json.name != f"{name}.{EXTENSION}.json" or "/" in name or name in ("", ".", ".."):
        raise DataError(
            f"{summary_json}: its 'record' ({name!r}) is not the record it is named for"
        )
    stored = Path(str(summary.get("path") or name)).name
    if Path(stored).stem != name and stored != name:
        raise DataError(f"{summary_json}: 'path' names another record ({stored!r})")
    candidate = summary_json.parent / stored
    if candidate.suffix.lower() in (".csv", ".npy"):
        return candidate if candidate.is_file() else None
    return candidate if Path(f"{candidate}.hea").is_file() else None


def _rounded(value: float | None, digits: int) -> str | None:
    return None if value is None else f"{float(value):.{digits}f}"


def record_title(summary_json: Path) -> str:
    """``Record 208, annotated by pretrained:mitbih-inter`` (the file name is no title)."""
    summary = read_json(summary_json, "annotation summary")
    model = summary.get("model")
    return f"Record {summary.get('record')}" + (f", annotated by {model}" if model else "")


def _record_summary(target: Path) -> Path:
    """The ``NAME.ecgzoo.json`` of an annotated record given as itself or as the record."""
    from ecgzoo.apply.outputs import EXTENSION

    stem = target.stem if target.suffix.lower() in (".hea", ".dat", ".csv", ".npy") else target.name
    return target if target.name.endswith(".json") else target.parent / f"{stem}.{EXTENSION}.json"


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
        return _page(f"ecgzoo report: {target.name}", sections)
    summary = _record_summary(target)
    if summary.is_file():
        return _page(record_title(summary), record_sections(summary))
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
    summary = _record_summary(target)
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
