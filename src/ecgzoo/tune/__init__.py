"""Hyperparameter search on Ray Tune with HyperOpt (TPE) and ASHA, tracked in MLflow.

Importing this package imports neither Ray, HyperOpt nor MLflow: they load when a search runs.
"""

from ecgzoo.tune.command import tune_command
from ecgzoo.tune.results import SearchResult, TrialRecord
from ecgzoo.tune.search import EPOCH_METRICS, run_search, start_ray, stop_ray
from ecgzoo.tune.space import SearchSpace, apply_values, load_space, parse_space, sample_space

__all__ = [
    "EPOCH_METRICS",
    "SearchResult",
    "SearchSpace",
    "TrialRecord",
    "apply_values",
    "load_space",
    "parse_space",
    "run_search",
    "sample_space",
    "start_ray",
    "stop_ray",
    "tune_command",
]
