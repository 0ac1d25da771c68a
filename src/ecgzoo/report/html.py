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
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import DataError, EcgzooError
from ecgzoo.paths import atomic_write_text

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


def run_sections(folder: Path) -> list[str]:
    """Metric tables and figures of one run folder."""
    from ecgzoo.report import plots

    metrics_path = folder / "metrics.json"
    if not metrics_path.is_file():
        raise DataError(f"{metrics_path}: not found (is {folder} a finished run?)")
    try:
        metrics = json.loads(metrics_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{metrics_path}: not valid JSON ({exc.msg})") from None
    test = metrics.get("test", {})
    out = [f"<h2>Run {html.escape(folder.name)}: test split</h2>"]
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
    rows = []
    for f in folders:
        path = f / "metrics.json"
        if not path.is_file():
            raise DataError(f"{path}: not found")
        test = json.loads(path.read_text()).get("test", {})
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

    try:
        summary = json.loads(summary_json.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{summary_json}: cannot read the annotation summary ({exc})") from None
    csv = summary_json.parent / (summary_json.name[: -len(".json")] + ".csv")
    beats = pd.read_csv(csv)
    out = [f"<h2>Record {html.escape(summary['record'])} ({html.escape(summary['lead'])})</h2>"]
    out.append(
        table(
            [
                {
                    "beats": summary["n_beats"],
                    "duration (s)": summary["duration_s"],
                    "median HR (bpm)": summary["mean_hr_bpm"],
                    "ectopic burden (%)": summary["ectopic_burden_total_percent"],
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
    record = summary.get("path")
    if record is None:
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


def build_report(target: Path, compare: list[Path] | None = None) -> str:
    """The HTML text for a run folder (optionally compared with others) or an annotated
    record (its ``NAME.ecgzoo.json``, or the record path beside it)."""
    from ecgzoo.apply.outputs import EXTENSION

    target = Path(target)
    if target.is_dir() and (target / "metrics.json").is_file():
        sections = run_sections(target)
        if compare:
            sections.insert(0, compare_section([target, *compare]))
        return _page(f"ecgzoo report: {target.name}", sections)
    stem = target.stem if target.suffix.lower() in (".hea", ".dat", ".csv", ".npy") else target.name
    summary = (
        target if target.name.endswith(".json") else target.parent / f"{stem}.{EXTENSION}.json"
    )
    if summary.is_file():
        return _page(f"ecgzoo report: {summary.name}", record_sections(summary))
    raise EcgzooError(
        f"{target}: neither a run folder (metrics.json) nor an annotated record "
        f"(no {summary.name}; run `ecgzoo annotate` first)"
    )


def write_report(target: Path, out: Path, compare: list[Path] | None = None) -> Path:
    """Build the page and write it atomically to ``out``."""
    atomic_write_text(Path(out), build_report(target, compare))
    return Path(out)
