"""Report figures (PNG) and tables (markdown, CSV).

Importing this package does not import matplotlib; the plot functions do, on first call.
"""

from ecgzoo.report.plots import (
    plot_class_distribution,
    plot_confusion_matrix,
    plot_example_grid,
    plot_learning_curves,
    plot_length_distribution,
    plot_metric_vs_param,
    plot_roc_curves,
)
from ecgzoo.report.tables import compare_table, format_value, to_markdown, write_table

__all__ = [
    "compare_table",
    "format_value",
    "plot_class_distribution",
    "plot_confusion_matrix",
    "plot_example_grid",
    "plot_learning_curves",
    "plot_length_distribution",
    "plot_metric_vs_param",
    "plot_roc_curves",
    "to_markdown",
    "write_table",
]
