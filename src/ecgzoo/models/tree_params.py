"""The hyperparameters of the tree model (``lightgbm``): defaults and their check.

Here, beside the model registry, so that validating a config's ``model.params`` needs no
training code (``config -> models.registry`` stays free of ``train``).
"""

from __future__ import annotations

from typing import Any

from ecgzoo.errors import ConfigError

DEFAULTS: dict[str, Any] = {
    "folds": 5,
    "n_estimators": 400,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 100,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.7,
    "lambda_l2": 1.0,
    "class_weight_power": 0.5,
    "early_stopping": 40,
    "max_n_per_record": 800,
    "max_bin": 63,
    "tune_priors": True,
    "n_jobs": 2,
}


def tree_params(params: dict[str, Any]) -> dict[str, Any]:
    """``model.params`` over :data:`DEFAULTS`; an unknown key is a ``ConfigError``."""
    unknown = sorted(set(params) - set(DEFAULTS) - {"class_weights", "feature_names"})
    if unknown:
        raise ConfigError(f"model.params: unknown lightgbm option(s) {', '.join(unknown)}")
    return {**DEFAULTS, **params}
