"""Training figures: learning curves and tuning results (metric against hyperparameter)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.report.figures import (
    epoch_column,
    is_number,
    new_figure,
    records,
    save_figure,
    set_margins,
)

__all__ = ["plot_learning_curves", "plot_metric_vs_param"]


def plot_learning_curves(
    history: Any, path: str | os.PathLike[str], title: str = "Learning curves"
) -> Path:
    """Loss, metrics and learning rate against epoch.

    ``history`` is a list of per-epoch dicts or a DataFrame with ``epoch`` (1-based index when
    absent), ``train_loss``, ``val_loss`` and any other numeric columns. Panels: losses (every
    column ending in ``loss``); metrics (the other numeric columns except ``epoch``, ``lr``,
    timing columns (``_s``, ``time``, ``seconds``) and per-class ``val_f1_*``); learning rate
    (``lr``, log scale) when present. The best ``val_loss`` epoch is marked.
    """
    rows = records(history)
    if not rows:
        raise ValueError("history is empty: nothing to plot")
    keys: list[str] = []
    for row in rows:
        for k in row:
            if k not in keys and is_number(row[k]):
                keys.append(k)
    loss_keys = [k for k in keys if k.endswith("loss")]
    skip = {"epoch", "lr", "step"}
    metric_keys = [
        k
        for k in keys
        if k not in skip
        and k not in loss_keys
        and not k.endswith("_s")
        and "time" not in k
        and "seconds" not in k
        and not k.startswith("val_f1_")  # per-class F1: too many lines for one panel
    ]
    has_lr = "lr" in keys
    panels = ["loss"] + (["metrics"] if metric_keys else []) + (["lr"] if has_lr else [])

    fig = new_figure(5.0 * len(panels), 4.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "loss":
            for k in loss_keys:
                x, y = epoch_column(rows, k)
                ax.plot(x, y, marker="o", markersize=3, label=k)
            x, y = epoch_column(rows, "val_loss")
            if len(y):
                best = int(np.argmin(y))
                ax.axvline(x[best], color="grey", linestyle=":", linewidth=1)
                ax.plot(x[best], y[best], "k*", markersize=10, label=f"best val_loss {y[best]:.4g}")
            ax.set_title("Loss")
            ax.set_ylabel("loss")
        elif panel == "metrics":
            for k in metric_keys:
                x, y = epoch_column(rows, k)
                ax.plot(x, y, marker="o", markersize=3, label=k)
            ax.set_title("Metrics")
            ax.set_ylabel("value")
        else:
            x, y = epoch_column(rows, "lr")
            ax.plot(x, y, marker="o", markersize=3, color="tab:purple", label="lr")
            if len(y) and np.all(y > 0):
                ax.set_yscale("log")
            ax.set_title("Learning rate")
            ax.set_ylabel("lr")
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_metric_vs_param(
    df: Any,
    metric: str,
    params: Sequence[str],
    path: str | os.PathLike[str],
    title: str | None = None,
    higher_is_better: bool = True,
    log_params: Sequence[str] | None = None,
    seed: int = 0,
) -> Path:
    """Scatter of ``metric`` against each hyperparameter, one panel per parameter.

    ``df`` is a DataFrame or list of dicts, one row per trial. Numeric parameters are drawn on
    a linear axis, or on a log axis when named in ``log_params``; without ``log_params`` a
    parameter gets a log axis when its values are positive, span more than two decades and
    crowd the low end (median below a tenth of the maximum: learning rates, weight decay).
    Other parameters (strings, booleans, ``None``) are drawn as categories with horizontal
    jitter. Trials with a missing or non-finite metric are dropped; the best trial
    (``higher_is_better`` decides) is a red star in every panel.
    """
    rows = [r for r in records(df) if is_number(r.get(metric))]
    params = list(params)
    if not params:
        raise ValueError("params is empty: nothing to plot")
    rng = np.random.default_rng(seed)
    values = np.array([float(r[metric]) for r in rows])
    best = (int(np.argmax(values)) if higher_is_better else int(np.argmin(values))) if rows else -1

    ncols = min(3, len(params))
    nrows = math.ceil(len(params) / ncols)
    fig = new_figure(4.2 * ncols, 3.4 * nrows + 0.4, constrained=False)
    set_margins(fig, left=0.75, right=0.2, top=0.75, bottom=0.75, hspace=0.6, wspace=0.35)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, param in zip(axes, params, strict=False):
        raw = [r.get(param) for r in rows]
        numeric = bool(raw) and all(is_number(v) for v in raw)
        if numeric:
            xs = np.array([float(v) for v in raw])
            ax.scatter(xs, values, s=22, alpha=0.75)
            positive = bool(np.all(xs > 0))
            if log_params is not None:
                use_log = param in log_params and positive
            else:
                use_log = positive and xs.max() / xs.min() > 100 and np.median(xs) < 0.1 * xs.max()
            if use_log:
                ax.set_xscale("log")
        else:
            cats: list[str] = []
            for v in raw:
                if str(v) not in cats:
                    cats.append(str(v))
            pos = np.array([cats.index(str(v)) for v in raw], dtype=np.float64)
            xs = pos + rng.uniform(-0.15, 0.15, size=len(pos))
            ax.scatter(xs, values, s=22, alpha=0.75)
            ax.set_xticks(range(len(cats)), cats, rotation=30 if len(cats) > 3 else 0)
            ax.set_xlim(-0.5, max(len(cats), 1) - 0.5)
        if best >= 0:
            ax.plot(xs[best], values[best], "r*", markersize=12)
        ax.set_xlabel(param)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} vs {param}", fontsize=10)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(params) :]:
        ax.set_axis_off()
    if title is None:
        title = f"{metric} across {len(rows)} trials"
        if best >= 0:
            title += f" (red star: best, {values[best]:.4g})"
    fig.suptitle(title)
    return save_figure(fig, path)
