"""Validation of a search space: ranges and constraints, and keys against the config and models.

Every mistake raises :class:`~ecgzoo.errors.ConfigError` naming the space's file and the
parameter.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from ecgzoo.errors import ConfigError
from ecgzoo.experiment import config_schema
from ecgzoo.models.registry import model_params, model_params_problem
from ecgzoo.tune.distributions import (
    ChoiceParam,
    IntParam,
    LogUniformParam,
    QUniformParam,
    SpaceDefinition,
    UniformParam,
    multiples,
)

__all__ = ["check_keys", "check_structure"]

# Keys a search may not vary: they name and place the run, they are not hyperparameters.
RESERVED_KEYS = {"name", "output_dir"}


def check_structure(space: SpaceDefinition) -> None:
    """Ranges, choices and ``divisible`` constraints of ``space`` are consistent."""
    if not space.params:
        raise space.error(None, "params is empty: a search needs at least one parameter")
    for key, spec in space.params.items():
        _check_key_syntax(space, key)
        if isinstance(spec, IntParam):
            if spec.low > spec.high:
                raise space.error(key, f"empty range: low ({spec.low}) > high ({spec.high})")
            if spec.log and spec.low <= 0:
                raise space.error(key, f"log scale needs low > 0, got {spec.low}")
        elif isinstance(spec, UniformParam | LogUniformParam | QUniformParam):
            if not (math.isfinite(spec.low) and math.isfinite(spec.high)):
                raise space.error(key, "low and high must be finite")
            if spec.low >= spec.high:
                raise space.error(key, f"empty range: low ({spec.low}) >= high ({spec.high})")
            if isinstance(spec, LogUniformParam) and spec.low <= 0:
                raise space.error(key, f"loguniform needs low > 0, got {spec.low}")
            if isinstance(spec, QUniformParam) and spec.q > spec.high - spec.low:
                raise space.error(key, f"step q ({spec.q}) is larger than the range")
        elif not spec.values:
            raise space.error(key, "choice has no values")
        if key in space.fixed:
            raise space.error(key, "is both sampled (params) and fixed")
    for key in space.fixed:
        _check_key_syntax(space, key)
    targets: set[str] = set()
    for pair in space.constraints.divisible:
        if len(pair) != 2:
            raise space.error(None, f"constraints.divisible: expected [A, B], got {pair}")
        a, b = pair
        if a not in space.params or not isinstance(space.params[a], IntParam):
            raise space.error(a, "constraints.divisible: the first key must be an int parameter")
        if a in targets:
            raise space.error(a, "constraints.divisible: a key can have one divisor only")
        if b not in space.params and b not in space.fixed:
            raise space.error(b, "constraints.divisible: the divisor must be a parameter or fixed")
        if b in space.params and not isinstance(space.params[b], IntParam | ChoiceParam):
            raise space.error(b, "constraints.divisible: the divisor must be int or choice")
        targets.add(a)
    for a, b in space.divisible_pairs().items():
        if b in targets:
            raise space.error(b, "constraints.divisible: a divisor cannot itself be constrained")
        spec = space.params[a]
        assert isinstance(spec, IntParam)
        for d in space.divisor_values(b):
            if isinstance(d, bool) or not isinstance(d, int) or d < 1:
                raise space.error(b, f"divisor values must be positive integers, got {d!r}")
            if multiples(spec, d)[0] > multiples(spec, d)[1]:
                raise space.error(a, f"no multiple of {b} = {d} lies in [{spec.low}, {spec.high}]")


def check_keys(space: SpaceDefinition, model_names: list[str] | None = None) -> None:
    """Every key must be a config key; ``model.params.*`` must be accepted by the model(s).

    ``model_names``: the models trials may build (default: the space's ``model``, or the
    sampled/fixed ``model.name``). Without any, ``model.params.*`` names go unchecked.
    """
    names = list(model_names or [])
    if "model.name" in space.fixed:
        names = [str(space.fixed["model.name"])]
    elif isinstance(space.params.get("model.name"), ChoiceParam):
        names = [str(v) for v in space.params["model.name"].values]  # type: ignore[union-attr]
    elif not names and space.model:
        names = [space.model]
    if space.model and names and any(n != space.model for n in names):
        raise space.error(
            "model.name", f"the space is for model {space.model!r}, not {', '.join(names)}"
        )
    accepted = {name: _model_arguments(space, name) for name in names}
    for key in [*space.params, *space.fixed]:
        parts = key.split(".")
        if parts[:2] == ["model", "params"]:
            if len(parts) != 3:
                raise space.error(key, "model.params keys have the form model.params.NAME")
            for name, args in accepted.items():
                if parts[2] not in args:
                    raise space.error(
                        key,
                        f"unknown parameter: model {name!r} accepts {', '.join(sorted(args))}",
                    )
                _check_param_values(space, key, name)
        else:
            _check_config_key(space, key)


def _check_param_values(space: SpaceDefinition, key: str, name: str) -> None:
    """Each value a trial can give ``model.params.X`` (a choice's values, an int range's ends, a
    fixed value) against the type model ``name`` declares for it: a wrong one fails every trial
    that draws it, so it is refused here, before HyperOpt samples trial configs (whose import
    alone takes over a second)."""
    spec = space.params.get(key)
    if isinstance(spec, ChoiceParam):
        values = list(spec.values)
    elif isinstance(spec, IntParam):
        values = [spec.low, spec.high]
    elif key in space.fixed:
        values = [space.fixed[key]]
    else:
        return  # float ranges: the sampled trial configs are checked (SearchSpace.check)
    for value in values:
        problem = model_params_problem(name, {key.split(".", 2)[2]: value})
        if problem:
            raise space.error(key, f"value {value!r} does not fit model {name!r}: {problem}")


def _check_key_syntax(space: SpaceDefinition, key: str) -> None:
    if not key or any(not part for part in key.split(".")):
        raise space.error(key, "is not a dotted config key")
    if key in RESERVED_KEYS:
        raise space.error(key, "names the run and cannot be searched")


def _check_config_key(space: SpaceDefinition, key: str) -> None:
    """Walk ``key`` down the pydantic config models."""
    node: type[BaseModel] = config_schema()  # every registered dataset's options section
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields = node.model_fields
        if part not in fields:
            where = ".".join(parts[:i]) or "the config"
            raise space.error(
                key, f"unknown parameter: {where} has no {part!r} (choose from {', '.join(fields)})"
            )
        annotation = fields[part].annotation
        last = i == len(parts) - 1
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if last:
            if is_section:
                raise space.error(key, "names a config section, not a value")
            return
        if not is_section:
            raise space.error(key, f"unknown parameter: {'.'.join(parts[: i + 1])} is a value")
        node = annotation


def _model_arguments(space: SpaceDefinition, name: str) -> set[str]:
    """The hyperparameter names model ``name`` accepts (the registry's :func:`model_params`)."""
    try:
        return set(model_params(name))
    except ConfigError as exc:
        raise space.error("model.name", str(exc)) from None
    except ImportError as exc:
        raise space.error("model.name", f"model {name!r} cannot be imported ({exc})") from None
