"""Data figures: class counts per split, example signals per class, recording lengths."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.report.figures import new_figure, save_figure, set_margins

__all__ = ["plot_class_distribution", "plot_example_grid", "plot_length_distribution"]


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

    fig = new_figure(max(6.0, 1.2 * len(classes) * max(1, len(splits)) * 0.5 + 3), 4.5)
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
    return save_figure(fig, path)


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

    fig = new_figure(2.4 * per_class + 0.6, 1.6 * len(names) + 1.0, constrained=False)
    set_margins(fig, left=0.9, right=0.15, top=0.6, bottom=0.5, hspace=0.55, wspace=0.3)
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
    return save_figure(fig, path)


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

    fig = new_figure(7.0, 1.5 * len(names) + 1.1, constrained=False)
    set_margins(fig, left=0.8, right=0.2, top=0.6, bottom=0.5, hspace=0.45)
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
    return save_figure(fig, path)
