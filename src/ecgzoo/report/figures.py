"""Shared figure plumbing for the report and explain plots.

Nothing here imports matplotlib at import time: :func:`new_figure` builds a standalone
``Figure`` on an Agg canvas (no pyplot, no GUI backend, safe in worker processes) and
:func:`save_figure` writes it atomically (temporary sibling file, then ``os.replace``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.paths import atomic_write

__all__ = [
    "DPI",
    "epoch_column",
    "is_number",
    "new_figure",
    "records",
    "save_figure",
    "set_margins",
]

DPI = 120


def new_figure(width: float, height: float, constrained: bool = True, dpi: int = DPI):
    """A pyplot-free figure on an Agg canvas.

    Constrained layout is costly with many axes; grids pass ``constrained=False`` and place
    their axes with :func:`set_margins`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    return fig


def set_margins(fig, left: float, right: float, top: float, bottom: float, **space: float) -> None:
    """Fixed figure margins given in inches (``hspace``/``wspace`` as fractions)."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h, **space
    )


def save_figure(fig, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically (parents created); the path written."""
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    finally:
        fig.clear()


def records(data: Any) -> list[dict[str, Any]]:
    """Rows of a DataFrame or a list of dicts as a list of dicts."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return data.to_dict(orient="records")
    return [dict(r) for r in data]


def is_number(v: Any) -> bool:
    """True for a finite int/float (NumPy included), False for bools and everything else."""
    return (
        isinstance(v, int | float | np.integer | np.floating)
        and not isinstance(v, bool | np.bool_)
        and math.isfinite(float(v))
    )


def epoch_column(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(x = epoch, y) pairs where ``key`` holds a finite number."""
    xs, ys = [], []
    for i, row in enumerate(rows):
        v = row.get(key)
        if is_number(v):
            epoch = row.get("epoch", i + 1)
            xs.append(float(epoch) if is_number(epoch) else float(i + 1))
            ys.append(float(v))
    return np.asarray(xs), np.asarray(ys)
