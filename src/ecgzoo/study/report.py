"""Tables and figures of a scale sweep, like those of Lee, Jo and Kwon's scaling study.

* ``table.csv`` / ``table.md``: one row per grid point (scale, cost, metrics);
* ``summary.json``: mean metric per depth, width, kernel and pooling value, its rank
  correlation with the receptive field, GAP-vs-flatten wins (:func:`scale_summary`);
* ``best.csv`` / ``best.md``: for the overall metric and every class, label and label group,
  the point with the best VALIDATION value and its test value (never chosen on test), and how
  many points tie at that value (``tied`` > 1: the grid does not separate them);
* ``plots/metric_vs_scale.png``: the test metric against D, C and K, one panel each (every
  point faint, the mean over the other axes as a line per pooling);
* ``plots/metric_vs_receptive_field.png``: the test metric against the receptive field (s);
* ``plots/gap_vs_flatten.png``: each D x C x K with both poolings, GAP against flatten;
* ``plots/best_scales.png``: the best scale per class / label / group and its test value.

Figures are drawn on a pyplot-free Agg canvas and renamed into place when complete.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.paths import atomic_write, atomic_write_text
from ecgzoo.report.tables import to_markdown, write_table

__all__ = ["best_scales", "scale_summary", "write_report"]

AXES = (("depth", "depth D (blocks)"), ("width", "width C (channels)"), ("kernel", "kernel K"))
TABLE_LEAD = [
    "point",
    "depth",
    "width",
    "kernel",
    "pooling",
    "params",
    "rf_samples",
    "rf_seconds",
    "macs",
    "train_seconds",
    "epochs_run",
    "status",
]
COLOURS = {"gap": "tab:blue", "flatten": "tab:orange"}


def _ok(rows: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [
        r
        for r in rows
        if r.get("status") == "ok" and isinstance(r.get(key), int | float) and math.isfinite(r[key])
    ]


def _higher_is_better(metric: str) -> bool:
    return "loss" not in metric


def _tasks(rows: Sequence[dict[str, Any]], metric: str) -> list[str]:
    """The overall metric, then every per-class / per-label / per-group F1 both splits have."""
    keys: list[str] = [metric]
    for row in rows:
        for key in row:
            if not key.startswith("val_"):
                continue
            name = key[4:]
            per_task = name.startswith("f1_") or name.endswith("_macro_f1")
            if per_task and name != metric and name not in keys and f"test_{name}" in row:
                keys.append(name)
    return keys


def best_scales(rows: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Per task (the overall ``metric``, each class, label, group): the best point on val."""
    out = []
    for task in _tasks(rows, metric):
        ok = _ok(rows, f"val_{task}")
        if not ok:
            continue
        sign = 1.0 if _higher_is_better(task) else -1.0
        best = max(ok, key=lambda r: sign * r[f"val_{task}"])
        # A tie (every point at F1 0 for a class never predicted) picks nothing: say so.
        tied = sum(r[f"val_{task}"] == best[f"val_{task}"] for r in ok)
        out.append(
            {
                "task": task,
                "point": best["point"],
                "depth": best["depth"],
                "width": best["width"],
                "kernel": best["kernel"],
                "pooling": best["pooling"],
                "rf_seconds": best.get("rf_seconds"),
                "params": best.get("params"),
                "val": best[f"val_{task}"],
                "test": best.get(f"test_{task}"),
                "tied": tied,
            }
        )
    return out


def _paired(ok: Sequence[dict[str, Any]], key: str) -> list[tuple[tuple, float, float]]:
    """``(scale, gap value, flatten value)`` for each D x C x K run with both poolings."""
    by_scale: dict[tuple, dict[str, float]] = {}
    for r in ok:
        by_scale.setdefault((r["depth"], r["width"], r["kernel"]), {})[r["pooling"]] = r[key]
    return [(s, v["gap"], v["flatten"]) for s, v in by_scale.items() if len(v) == 2]


def scale_summary(rows: Sequence[dict[str, Any]], metric: str) -> dict[str, Any]:
    """The study's findings in numbers, on the test ``metric`` of the finished points.

    ``axis_means``: mean over the other axes for each depth, width, kernel and pooling value;
    ``spearman_rf``: rank correlation of the metric with the receptive field (seconds);
    ``gap_wins``: at how many D x C x K with both poolings GAP beat flatten.
    """
    from scipy.stats import spearmanr

    key = f"test_{metric}"
    ok = _ok(rows, key)
    means: dict[str, dict[str, float]] = {}
    for axis in ("depth", "width", "kernel", "pooling"):
        values = sorted({r[axis] for r in ok}, key=str)
        means[axis] = {str(v): float(np.mean([r[key] for r in ok if r[axis] == v])) for v in values}
    rf = [r["rf_seconds"] for r in ok]
    rho = None
    if len(ok) >= 3 and len(set(rf)) > 1 and len({r[key] for r in ok}) > 1:
        rho = float(spearmanr(rf, [r[key] for r in ok]).statistic)
    pairs = _paired(ok, key)
    return {
        "metric": key,
        "n_points": len(ok),
        "axis_means": means,
        "spearman_rf": rho,
        "gap_wins": sum(g > f for _, g, f in pairs),
        "gap_flatten_pairs": len(pairs),
    }


# -- figures ------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def plot_metric_vs_scale(rows: Sequence[dict[str, Any]], metric: str, path: Path) -> Path:
    key = f"test_{metric}"
    ok = _ok(rows, key)
    fig = _figure(12, 3.6)
    axes = fig.subplots(1, 3)
    for ax, (axis, label) in zip(axes, AXES, strict=True):
        if not ok:
            _empty(ax, "no finished point")
            continue
        for pooling in sorted({r["pooling"] for r in ok}):
            sub = [r for r in ok if r["pooling"] == pooling]
            colour = COLOURS.get(pooling)
            ax.scatter([r[axis] for r in sub], [r[key] for r in sub], alpha=0.3, color=colour)
            xs = sorted({r[axis] for r in sub})
            means = [np.mean([r[key] for r in sub if r[axis] == x]) for x in xs]
            ax.plot(xs, means, "o-", color=colour, label=f"{pooling} (mean)")
        ax.set_xlabel(label)
        ax.set_ylabel(key)
        ax.set_xticks(sorted({r[axis] for r in ok}))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{key} against depth, width and kernel ({len(ok)} points)")
    return _save(fig, path)


def plot_metric_vs_receptive_field(
    rows: Sequence[dict[str, Any]], metric: str, path: Path, rho: float | None = None
) -> Path:
    key = f"test_{metric}"
    ok = _ok(rows, key)
    fig = _figure(6.5, 4.2)
    ax = fig.subplots()
    if not ok:
        _empty(ax, "no finished point")
        return _save(fig, path)
    for pooling in sorted({r["pooling"] for r in ok}):
        sub = [r for r in ok if r["pooling"] == pooling]
        ax.scatter(
            [r["rf_seconds"] for r in sub],
            [r[key] for r in sub],
            color=COLOURS.get(pooling),
            label=pooling,
        )
        for r in sub:
            ax.annotate(r["point"], (r["rf_seconds"], r[key]), fontsize=6, alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("receptive field (s)")
    ax.set_ylabel(key)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    extra = "" if rho is None else f" (Spearman rho {rho:+.2f})"
    ax.set_title(f"{key} against the receptive field{extra}", fontsize=10)
    return _save(fig, path)


def plot_gap_vs_flatten(rows: Sequence[dict[str, Any]], metric: str, path: Path) -> Path:
    key = f"test_{metric}"
    ok = _ok(rows, key)
    pairs = _paired(ok, key)
    fig = _figure(5.2, 4.8)
    ax = fig.subplots()
    if not pairs:
        _empty(ax, "no scale was run with both GAP and flatten")
        return _save(fig, path)
    rf_of = {(r["depth"], r["width"], r["kernel"]): r["rf_seconds"] for r in ok}
    gap = np.array([g for _, g, _ in pairs])
    flat = np.array([f for _, _, f in pairs])
    rf = np.array([rf_of[s] for s, _, _ in pairs])
    points = ax.scatter(flat, gap, c=np.log10(rf), cmap="viridis")
    fig.colorbar(points, ax=ax, label="log10 receptive field (s)")
    lo, hi = float(min(gap.min(), flat.min())), float(max(gap.max(), flat.max()))
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=0.8)
    for (d, c, k), g, f in pairs:
        ax.annotate(f"d{d}c{c}k{k}", (f, g), fontsize=6, alpha=0.7)
    wins = int((gap > flat).sum())
    ax.set_xlabel(f"flatten: {key}")
    ax.set_ylabel(f"GAP: {key}")
    ax.set_title(f"GAP better at {wins} of {len(pairs)} scales", fontsize=10)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_best_scales(best: Sequence[dict[str, Any]], path: Path) -> Path:
    shown = [b for b in best if isinstance(b.get("test"), int | float) and b.get("tied", 1) == 1]
    fig = _figure(7.5, 1.0 + 0.35 * max(len(shown), 2))
    ax = fig.subplots()
    if not shown:
        _empty(ax, "no finished point")
        return _save(fig, path)
    y = np.arange(len(shown))
    ax.barh(y, [b["test"] for b in shown], color="tab:blue", alpha=0.8)
    ax.set_yticks(y, [b["task"] for b in shown], fontsize=8)
    ax.invert_yaxis()
    for k, b in enumerate(shown):
        ax.text(b["test"], k, f" {b['point']}", va="center", fontsize=7)
    ax.set_xlabel("test value of the scale best on validation")
    ax.set_xlim(0, max(1.0, max(b["test"] for b in shown) * 1.25))
    ax.set_title("Best scale per task (chosen on validation; ties left out)", fontsize=10)
    return _save(fig, path)


def write_report(folder: Path, rows: list[dict[str, Any]], metric: str) -> list[Path]:
    """Write the tables and figures of a sweep into ``folder``; returns the paths."""
    extra = sorted({k for r in rows for k in r if k not in TABLE_LEAD})
    head = [f"val_{metric}", f"test_{metric}"]
    columns = TABLE_LEAD + [k for k in head if k in extra] + [k for k in extra if k not in head]
    md_path, csv_path = write_table(rows, folder / "table", columns)
    # The markdown keeps what a reader compares (the CSV has every number): the scale, its
    # cost, the metric on val and test, and the test F1 per class / label / group.
    short = (
        TABLE_LEAD[:-2]
        + [k for k in columns if k in head]
        + [
            k
            for k in extra
            if k.startswith("test_f1_") or k.endswith("_macro_f1") and k not in head
        ]
    )
    atomic_write_text(md_path, to_markdown(rows, short))
    files = [md_path, csv_path]
    best = best_scales(rows, metric)
    if best:
        files += list(write_table(best, folder / "best"))
    summary = scale_summary(rows, metric)
    summary_path = folder / "summary.json"
    atomic_write_text(summary_path, json.dumps(summary, indent=1))
    files.append(summary_path)
    plots = folder / "plots"
    files.append(plot_metric_vs_scale(rows, metric, plots / "metric_vs_scale.png"))
    rf_png = plots / "metric_vs_receptive_field.png"
    files.append(plot_metric_vs_receptive_field(rows, metric, rf_png, summary["spearman_rf"]))
    files.append(plot_gap_vs_flatten(rows, metric, plots / "gap_vs_flatten.png"))
    files.append(plot_best_scales(best, plots / "best_scales.png"))
    return files
