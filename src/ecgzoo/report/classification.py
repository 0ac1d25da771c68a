"""Classification figures: confusion matrix and one-vs-rest ROC curves."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ecgzoo.report.figures import new_figure, save_figure

__all__ = ["plot_confusion_matrix", "plot_roc_curves"]


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
    fig = new_figure(size + 1.0, size)
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
    return save_figure(fig, path)


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

    fig = new_figure(5.5, 5.0)
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
    return save_figure(fig, path)
