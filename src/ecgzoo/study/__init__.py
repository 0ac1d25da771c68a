"""Studies built on the training engine: the ResNet scale sweep (``ecgzoo scale``).

Importing this package imports neither Ray nor matplotlib: they load when a sweep runs.
"""

from ecgzoo.study.grid import GridPoint, ScaleGrid, load_grid, parse_grid
from ecgzoo.study.scale import SweepResult, point_metrics, run_sweep

__all__ = [
    "GridPoint",
    "ScaleGrid",
    "SweepResult",
    "load_grid",
    "parse_grid",
    "point_metrics",
    "run_sweep",
]
