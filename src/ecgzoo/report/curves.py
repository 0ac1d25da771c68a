"""Training figures: learning curves and tuning results (metric against hyperparameter)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.metrics.names import PLAIN_TRAIN_LOSS
from ecgzoo.report.figures import (
    epoch_column,
    is_number,
    new_figure,
    records,
    save_figure,
    set_margins,
)

__all__ = ["best_epoch", "curve_panels", "plot_learning_curves", "plot_metric_vs_param"]


def best_epoch(
    history: Any, monitor: str = "val_loss", mode: str = "min"
) -> tuple[float, float] | None:
    """``(epoch, value)`` of the best ``monitor`` value (``mode`` max or min): the epoch whose
    weights the run kept; None when the column is absent or holds no finite value."""
    x, y = epoch_column(records(history), monitor)
    keep = np.isfinite(y)
    if not keep.any():
        return None
    x, y = x[keep], y[keep]
    best = int(np.argmax(y) if mode == "max" else np.argmin(y))
    return float(x[best]), float(y[best])


def curve_panels(history: Any, monitor: str = "val_loss") -> dict[str, list[str]]:
    """Which columns each learning-curve panel draws, in order.

    ``loss``: the losses that compare like with like, ``val_loss`` and the plain training loss
    (:data:`PLAIN_TRAIN_LOSS`); ``criterion``: the training criterion as optimised (``train_loss``
    and any other loss column: weighted or focal, averaged over the augmented, shuffled
    batches), kept apart because it is not the same quantity; ``metrics``: the other numeric
    columns except ``epoch``, ``lr``, timing columns and per-class ``val_f1_*`` (the monitored
    one is kept even if per-class); ``lr``. Empty panels are left out.
    """
    rows = records(history)
    keys: list[str] = []
    for row in rows:
        for k in row:
            if k not in keys and is_number(row[k]):
                keys.append(k)
    plain = [k for k in ("val_loss", PLAIN_TRAIN_LOSS) if k in keys]
    criterion = [k for k in keys if k.endswith("loss") and k not in plain]
    skip = {"epoch", "lr", "step"}
    metrics = [
        k
        for k in keys
        if k not in skip
        and not k.endswith("loss")
        and not k.endswith("_s")
        and "time" not in k
        and "seconds" not in k
        and (not k.startswith("val_f1_") or k == monitor)  # per-class F1: too many lines
    ]
    panels = {"loss": plain, "criterion": criterion, "metrics": metrics}
    panels = {name: cols for name, cols in panels.items() if cols}
    if "lr" in keys:
        panels["lr"] = ["lr"]
    return panels


_TITLES = {
    "loss": ("Plain loss (unweighted cross-entropy)", "loss"),
    "criterion": ("Training criterion (as optimised)", "loss"),
    "metrics": ("Metrics", "value"),
    "lr": ("Learning rate", "lr"),
}


def plot_learning_curves(
    history: Any,
    path: str | os.PathLike[str],
    title: str = "Learning curves",
    monitor: str = "val_loss",
    mode: str = "min",
) -> Path:
    """Losses, metrics and learning rate against epoch (panels: :func:`curve_panels`).

    ``history`` is a list of per-epoch dicts or a DataFrame with ``epoch`` (1-based index when
    absent). The plain-loss panel sets ``val_loss`` beside the same unweighted loss on a fixed
    training subset; the training criterion (weighted or focal, as optimised) has its own panel,
    since putting it on the validation loss's axis shows a gap that does not exist. The star
    marks the best ``monitor`` value (``mode`` max or min): the epoch whose weights the run kept;
    a dotted line marks that epoch on every panel.
    """
    rows = records(history)
    if not rows:
        raise ValueError("history is empty: nothing to plot")
    panels = curve_panels(rows, monitor)
    best = best_epoch(rows, monitor, mode)

    fig = new_figure(5.0 * len(panels), 4.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (panel, columns) in zip(axes, panels.items(), strict=True):
        for k in columns:
            x, y = epoch_column(rows, k)
            color = "tab:purple" if panel == "lr" else None
            ax.plot(x, y, marker="o", markersize=3, label=k, color=color)
        if panel == "lr":
            _, y = epoch_column(rows, "lr")
            if len(y) and np.all(y > 0):
                ax.set_yscale("log")
        if best is not None:
            ax.axvline(best[0], color="grey", linestyle=":", linewidth=1)
            if monitor in columns:
                label = f"best {monitor} {best[1]:.4g} (kept)"
                ax.plot(best[0], best[1], "k*", markersize=10, label=label)
        ax.set_title(_TITLES[panel][0])
        ax.set_ylabel(_TITLES[panel][1])
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
