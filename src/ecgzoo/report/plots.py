"""Report figures as PNG files.

Importing this module imports no plotting library and changes no global state. Each function
builds a standalone ``matplotlib.figure.Figure`` on an Agg canvas (no pyplot, no GUI backend,
safe in worker processes), writes it to a temporary file in the target folder, renames it into
place with ``os.replace`` (so a reader never sees a half-written PNG) and returns the path.
Parent folders are created.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "plot_class_distribution",
    "plot_confusion_matrix",
    "plot_example_grid",
    "plot_learning_curves",
    "plot_length_distribution",
    "plot_metric_vs_param",
    "plot_roc_curves",
]

DPI = 120


def _figure(width: float, height: float, constrained: bool = True):
    """A pyplot-free figure on an Agg canvas.

    Constrained layout is costly with many axes; grids pass ``constrained=False`` and place
    their axes with :func:`_margins`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    return fig


def _margins(fig, left: float, right: float, top: float, bottom: float, **space: float) -> None:
    """Fixed figure margins given in inches (``hspace``/``wspace`` as fractions)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, **space
    )


def _save(fig, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # a unique sibling name opened normally, so the PNG gets the usual umask permissions
    tmp = out.parent / f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        fig.clear()
    return out


def _records(data: Any) -> list[dict[str, Any]]:
    """Rows of a DataFrame or a list of dicts as a list of dicts."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return data.to_dict(orient="records")
    return [dict(r) for r in data]


def _is_number(v: Any) -> bool:
    return (
        isinstance(v, int | float | np.integer | np.floating)
        and not isinstance(v, bool | np.bool_)
        and math.isfinite(float(v))
    )


def _column(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(x = epoch, y) pairs where ``key`` holds a finite number."""
    xs, ys = [], []
    for i, row in enumerate(rows):
        v = row.get(key)
        if _is_number(v):
            epoch = row.get("epoch", i + 1)
            xs.append(float(epoch) if _is_number(epoch) else float(i + 1))
            ys.append(float(v))
    return np.asarray(xs), np.asarray(ys)


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
    rows = _records(history)
    if not rows:
        raise ValueError("history is empty: nothing to plot")
    keys: list[str] = []
    for row in rows:
        for k in row:
            if k not in keys and _is_number(row[k]):
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

    fig = _figure(5.0 * len(panels), 4.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "loss":
            for k in loss_keys:
                x, y = _column(rows, k)
                ax.plot(x, y, marker="o", markersize=3, label=k)
            x, y = _column(rows, "val_loss")
            if len(y):
                best = int(np.argmin(y))
                ax.axvline(x[best], color="grey", linestyle=":", linewidth=1)
                ax.plot(x[best], y[best], "k*", markersize=10, label=f"best val_loss {y[best]:.4g}")
            ax.set_title("Loss")
            ax.set_ylabel("loss")
        elif panel == "metrics":
            for k in metric_keys:
                x, y = _column(rows, k)
                ax.plot(x, y, marker="o", markersize=3, label=k)
            ax.set_title("Metrics")
            ax.set_ylabel("value")
        else:
            x, y = _column(rows, "lr")
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
    return _save(fig, path)


def plot_confusion_matrix(
    cm: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> Path:
    """Heat map of a confusion matrix (rows = reference, columns = prediction).

    With ``normalize`` the colours are row-normalised (recall per reference class) and each
    cell shows its count and row percentage; otherwise colours follow the raw counts. Rows
    with no examples stay blank.
    """
    m = np.asarray(cm, dtype=np.float64)
    names = [str(c) for c in class_names]
    n = len(names)
    if m.shape != (n, n):
        raise ValueError(f"cm must be {n}x{n} for classes {names}, got shape {m.shape}")
    row_sums = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, row_sums, out=np.zeros_like(m), where=row_sums > 0)
    colour = frac if normalize else m
    vmax = 1.0 if normalize else max(float(m.max()), 1.0)

    size = max(4.0, 0.9 * n + 2.5)
    fig = _figure(size + 1.0, size)
    ax = fig.subplots()
    im = ax.imshow(colour, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="fraction of reference class" if normalize else "count")
    for i in range(n):
        for j in range(n):
            count = int(round(m[i, j]))
            text = f"{count}\n{100 * frac[i, j]:.1f}%" if normalize else f"{count}"
            dark = colour[i, j] > 0.5 * vmax
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8 if n <= 6 else 6,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(n), names)
    row_labels = [f"{c} (n={int(t)})" for c, t in zip(names, row_sums[:, 0], strict=True)]
    ax.set_yticks(range(n), row_labels)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("Reference class")
    ax.set_title(title + (" (row-normalised)" if normalize else ""))
    return _save(fig, path)


def plot_roc_curves(
    y_true: Sequence[int] | np.ndarray,
    y_prob: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "ROC curves (one-vs-rest)",
) -> Path:
    """One-vs-rest ROC curve per class with its AUC in the legend.

    Classes with no positive or no negative example in ``y_true`` cannot have a curve; they
    are listed as skipped in the legend. The title carries the macro AUC over drawn classes.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.asarray(y_true).astype(np.int64)
    prob = np.asarray(y_prob, dtype=np.float64)
    names = [str(c) for c in class_names]
    if prob.shape != (len(y), len(names)):
        raise ValueError(f"y_prob must have shape ({len(y)}, {len(names)}), got {prob.shape}")

    fig = _figure(5.5, 5.0)
    ax = fig.subplots()
    aucs, skipped = [], []
    for k, name in enumerate(names):
        pos = (y == k).astype(np.int64)
        if pos.sum() == 0 or pos.sum() == len(y) or not np.all(np.isfinite(prob[:, k])):
            skipped.append(name)
            continue
        fpr, tpr, _ = roc_curve(pos, prob[:, k])
        auc = float(roc_auc_score(pos, prob[:, k]))
        aucs.append(auc)
        ax.plot(fpr, tpr, linewidth=1.5, label=f"{name} (AUC {auc:.3f}, n={int(pos.sum())})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    if skipped:
        ax.plot([], [], " ", label="skipped (absent): " + ", ".join(skipped))
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    macro = f"macro AUC {np.mean(aucs):.3f}" if aucs else "no class scorable"
    ax.set_title(f"{title}\n{macro}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_class_distribution(
    counts: Mapping[str, Mapping[str, int]],
    path: str | os.PathLike[str],
    title: str = "Class distribution",
    log_scale: bool = False,
) -> Path:
    """Grouped bars: one group per class, one bar per split, each bar labelled with its count.

    ``counts`` maps split name to ``{class: count}`` (``{"train": {"N": 45000, ...}, ...}``);
    classes appear in first-seen order and a class missing from a split counts 0.
    ``log_scale`` uses a logarithmic count axis (useful for MIT-BIH's imbalance).
    """
    splits = list(counts)
    if not splits:
        raise ValueError("counts is empty: nothing to plot")
    classes: list[str] = []
    for split in splits:
        for c in counts[split]:
            if str(c) not in classes:
                classes.append(str(c))
    values = {
        s: [int({str(k): v for k, v in counts[s].items()}.get(c, 0)) for c in classes]
        for s in splits
    }

    fig = _figure(max(6.0, 1.2 * len(classes) * max(1, len(splits)) * 0.5 + 3), 4.5)
    ax = fig.subplots()
    width = 0.8 / len(splits)
    x = np.arange(len(classes))
    for i, split in enumerate(splits):
        bars = ax.bar(
            x + (i - (len(splits) - 1) / 2) * width,
            values[split],
            width,
            label=f"{split} (n={sum(values[split])})",
        )
        ax.bar_label(bars, labels=[str(v) if v else "" for v in values[split]], fontsize=7)
    ax.set_xticks(x, classes)
    ax.set_xlabel("Class")
    ax.set_ylabel("Count (log scale)" if log_scale else "Count")
    if log_scale:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_example_grid(
    x: np.ndarray,
    y: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    per_class: int = 4,
    fs: float | None = None,
    title: str = "Example signals per class",
    seed: int = 0,
) -> Path:
    """Grid of example signals: one row per class, ``per_class`` random examples per row.

    ``x`` is ``(n, n_samples)`` or ``(n, n_leads, n_samples)`` (the first lead is drawn);
    ``y`` holds class indices. With ``fs`` (Hz) the time axis is in seconds, otherwise in
    samples. The draw is reproducible for a given ``seed``; a class with fewer examples
    leaves its remaining cells empty.
    """
    arr = np.asarray(x)
    if arr.ndim == 3:
        arr = arr[:, 0, :]
    if arr.ndim != 2:
        raise ValueError(f"x must be (n, n_samples) or (n, n_leads, n_samples), got {arr.shape}")
    labels = np.asarray(y).astype(np.int64)
    if len(labels) != len(arr):
        raise ValueError(f"x has {len(arr)} examples but y has {len(labels)} labels")
    names = [str(c) for c in class_names]
    per_class = max(1, int(per_class))
    rng = np.random.default_rng(seed)
    t = np.arange(arr.shape[1]) / fs if fs else np.arange(arr.shape[1])

    fig = _figure(2.4 * per_class + 0.6, 1.6 * len(names) + 1.0, constrained=False)
    _margins(fig, left=0.9, right=0.15, top=0.6, bottom=0.5, hspace=0.55, wspace=0.3)
    axes = fig.subplots(len(names), per_class, squeeze=False)
    for r, name in enumerate(names):
        index = np.flatnonzero(labels == r)
        chosen = np.sort(rng.choice(index, size=min(per_class, len(index)), replace=False))
        for c in range(per_class):
            ax = axes[r, c]
            if c < len(chosen):
                ax.plot(t, arr[chosen[c]], linewidth=0.8, color="tab:blue")
                ax.set_title(f"{name} #{chosen[c]}", fontsize=8)
                ax.locator_params(nbins=4)
                ax.grid(True, alpha=0.3)
            else:
                ax.set_axis_off()
                if c == 0:
                    ax.text(
                        0.5,
                        0.5,
                        f"{name}: no examples",
                        ha="center",
                        va="center",
                        transform=ax.transAxes,
                    )
            if c == 0:
                ax.set_ylabel(f"{name} (n={len(index)})")
            ax.tick_params(labelsize=7)
    fig.supxlabel("time (s)" if fs else "sample", y=0.15 / fig.get_size_inches()[1])
    fig.suptitle(title)
    return _save(fig, path)


def plot_length_distribution(
    lengths_s: Sequence[float] | np.ndarray,
    labels: Sequence[Any] | np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    bins: int = 40,
    title: str = "Recording length by class",
) -> Path:
    """Histogram of lengths (seconds), one panel per class on a shared length axis.

    ``labels`` are class indices into ``class_names`` or the class names themselves.
    """
    lengths = np.asarray(lengths_s, dtype=np.float64)
    lab = np.asarray(labels)
    names = [str(c) for c in class_names]
    if len(lengths) != len(lab):
        raise ValueError(f"{len(lengths)} lengths but {len(lab)} labels")
    if lab.dtype.kind in "iu":
        idx = lab.astype(np.int64)
    else:
        lookup = {n: i for i, n in enumerate(names)}
        idx = np.array([lookup.get(str(v), -1) for v in lab], dtype=np.int64)
    finite = np.isfinite(lengths)
    edges = np.histogram_bin_edges(lengths[finite] if finite.any() else [0.0, 1.0], bins=bins)

    fig = _figure(7.0, 1.5 * len(names) + 1.1, constrained=False)
    _margins(fig, left=0.8, right=0.2, top=0.6, bottom=0.5, hspace=0.45)
    axes = fig.subplots(len(names), 1, squeeze=False, sharex=True)[:, 0]
    colours = [f"C{i % 10}" for i in range(len(names))]
    for k, (ax, name) in enumerate(zip(axes, names, strict=True)):
        sel = lengths[(idx == k) & finite]
        ax.hist(sel, bins=edges, color=colours[k], alpha=0.85)
        stats = f"n={len(sel)}"
        if len(sel):
            stats += f", median {np.median(sel):.1f} s"
        ax.set_ylabel("count")
        ax.set_title(f"{name} ({stats})", fontsize=9, loc="left")
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("length (s)")
    fig.suptitle(title)
    return _save(fig, path)


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
    rows = [r for r in _records(df) if _is_number(r.get(metric))]
    params = list(params)
    if not params:
        raise ValueError("params is empty: nothing to plot")
    rng = np.random.default_rng(seed)
    values = np.array([float(r[metric]) for r in rows])
    best = (int(np.argmax(values)) if higher_is_better else int(np.argmin(values))) if rows else -1

    ncols = min(3, len(params))
    nrows = math.ceil(len(params) / ncols)
    fig = _figure(4.2 * ncols, 3.4 * nrows + 0.4, constrained=False)
    _margins(fig, left=0.75, right=0.2, top=0.75, bottom=0.75, hspace=0.6, wspace=0.35)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, param in zip(axes, params, strict=False):
        raw = [r.get(param) for r in rows]
        numeric = bool(raw) and all(_is_number(v) for v in raw)
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
    return _save(fig, path)
