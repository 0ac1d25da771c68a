"""Loading an experiment config: the one validation layer over the registries.

``ecgzoo.config`` (a leaf) is the schema of the generic sections; this module adds what needs
a registry, in one place: each registered dataset's options section (its own pydantic class,
``ecgzoo.datasets.data_section``), the model's name and parameters (``ecgzoo.models.registry``)
and the monitored metric and loss of the task (``ecgzoo.metrics.names``). Every path that loads
a config (CLI, API, run folders, search, the scale study) calls :func:`load_config` or
:func:`build_config` and gets a fully checked config, or a one-line ``ConfigError`` that names
where the value came from (the file, or the command-line override).

Import-light: nothing here imports torch, Lightning or scikit-learn, so a mistake is refused in
well under a second (``benchmarks/error_latency.py``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, ValidationInfo, create_model, model_validator

from ecgzoo.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    apply_overrides,
    check_name,
    format_validation,
    read_config_tree,
)
from ecgzoo.datasets import registry
from ecgzoo.datasets.data_section import data_schema
from ecgzoo.errors import ConfigError
from ecgzoo.metrics.names import check_monitor, loss_problem
from ecgzoo.models.registry import model_params_problem

__all__ = ["build_config", "config_schema", "load_config"]


class CheckedModelConfig(ModelConfig):
    @model_validator(mode="after")
    def _known_model_and_params(self, info: ValidationInfo) -> CheckedModelConfig:
        """The model exists and ``params`` fit its constructor (names and types; names only,
        from the source, in :func:`build_config`'s first, torch-free pass)."""
        light = bool((info.context or {}).get("light"))
        try:
            problem = model_params_problem(self.name, self.params, light=light)
        except ConfigError as exc:  # unknown model name
            raise ValueError(str(exc)) from None
        if problem:
            raise ValueError(problem)
        return self


class CheckedExperimentConfig(ExperimentConfig):
    # the default needs no check (and no torch import): construct it unvalidated
    model: CheckedModelConfig = Field(default_factory=CheckedModelConfig.model_construct)

    @model_validator(mode="after")
    def _monitor_is_logged(self) -> CheckedExperimentConfig:
        """``train.monitor`` names a metric this task logs, in the right direction; the loss
        fits the task (sigmoid losses for multi-label datasets)."""
        dataset = str(self.data.dataset)
        classes = registry.fixed_classes(dataset)
        problem = check_monitor(self.train.monitor, self.train.monitor_mode, classes, dataset)
        if problem:
            raise ValueError(f"train.monitor: {problem}")
        problem = loss_problem(
            dataset,
            self.train.loss,
            self.train.balanced_sampling,
            self.train.record_balance_power > 0,
        )
        if problem:
            raise ValueError(problem)
        return self

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # the class is built per set of registered datasets (config_schema): pickle the values
        # as given (fields left at their defaults stay unset) and rebuild them on unpickling
        return (_unpickle, (self.model_dump(exclude_unset=True),))


def _unpickle(tree: dict[str, Any]) -> ExperimentConfig:
    return config_schema().model_validate(tree)


def config_schema() -> type[ExperimentConfig]:
    """The checked config class for the datasets registered now (its ``data`` field has one
    options section per dataset)."""
    return _schema(data_schema())


@functools.lru_cache(maxsize=16)
def _schema(data: type[DataConfig]) -> type[ExperimentConfig]:
    return create_model(  # type: ignore[call-overload]
        "ExperimentConfig",
        __base__=CheckedExperimentConfig,
        __module__=__name__,
        data=(data, Field(default_factory=data)),
    )


def build_config(
    tree: dict[str, Any], overrides: list[str] | None = None, source: str = "config"
) -> ExperimentConfig:
    """Validate a config tree after applying ``key=value`` overrides.

    Two passes: the first checks everything but the model's parameter types without importing
    torch (a mistake is refused in well under a second); the second, only for a config that
    passed, checks those types against the model's constructor.
    """
    tree, given = apply_overrides(tree, overrides)
    schema = config_schema()
    try:
        schema.model_validate(tree, context={"light": True})
        config = schema.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation(schema, source, exc, given)) from None
    check_name(config.name, source)
    return config


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML experiment config and apply overrides."""
    return build_config(read_config_tree(path), overrides, source=str(path))
