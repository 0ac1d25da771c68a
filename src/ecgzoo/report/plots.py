"""Report figures as PNG files.

Importing this module imports no plotting library and changes no global state. Each function
builds a standalone ``matplotlib.figure.Figure`` on an Agg canvas (no pyplot, no GUI backend,
safe in worker processes), writes it to a temporary file in the target folder, renames it into
place with ``os.replace`` (so a reader never sees a half-written PNG) and returns the path.
Parent folders are created.

The functions live in :mod:`ecgzoo.report.curves` (training and tuning),
:mod:`ecgzoo.report.classification` and :mod:`ecgzoo.report.dataplots`; this module
re-exports them so callers keep importing from ``ecgzoo.report.plots``.
"""

from __future__ import annotations

from ecgzoo.report.classification import plot_confusion_matrix, plot_roc_curves
from ecgzoo.report.curves import plot_learning_curves, plot_metric_vs_param
from ecgzoo.report.dataplots import (
    plot_class_distribution,
    plot_example_grid,
    plot_length_distribution,
)

__all__ = [
    "plot_class_distribution",
    "plot_confusion_matrix",
    "plot_example_grid",
    "plot_learning_curves",
    "plot_length_distribution",
    "plot_metric_vs_param",
    "plot_roc_curves",
]
