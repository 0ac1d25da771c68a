"""Hyperparameter search spaces: a validated YAML file -> a HyperOpt space -> trial configs.

A space file::

    model: rnn                      # optional: the model the space is for (checked)
    description: GRU/LSTM study     # optional
    fixed:                          # optional: values every trial gets
      model.params.attention: true
    params:                         # dotted config keys -> distributions
      model.params.cell: {type: choice, values: [gru, lstm]}
      model.params.hidden: {type: int, low: 8, high: 200}
      model.params.n_heads: {type: choice, values: [2, 4, 8]}
      model.params.dropout: {type: uniform, low: 0.1, high: 0.5}
      train.lr: {type: loguniform, low: 1.0e-4, high: 3.0e-3}
    constraints:
      divisible: [model.params.hidden, model.params.n_heads]

Distributions: ``int`` (``low``..``high`` inclusive, ``log: true`` for a log scale),
``uniform``, ``loguniform`` (``low`` > 0), ``quniform`` (step ``q``) and ``choice``
(``values``). A ``divisible: [A, B]`` constraint (or a list of such pairs) makes ``A`` (an
``int`` parameter) always a multiple of ``B`` (a parameter or a fixed value) *by construction*:
HyperOpt samples ``B`` and a unit-interval position ``A#unit`` that :meth:`SearchSpace.decode`
maps onto the multiples of ``B`` inside ``[low, high]``, so no trial is ever invalid or rejected.

Keys are checked against the config schema (:func:`ecgzoo.experiment.config_schema`:
``train.lr``, ``data.mitbih.pad_to`` ...) and ``model.params.*`` against the constructor of the
model the space is for. Every mistake raises :class:`~ecgzoo.errors.ConfigError` naming the
file and the parameter. Importing this module imports neither HyperOpt nor Ray.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from ecgzoo.config import ExperimentConfig, read_yaml_file, set_dotted
from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config
from ecgzoo.tune.distributions import (
    DISTRIBUTIONS,
    IntParam,
    LogUniformParam,
    QUniformParam,
    SpaceDefinition,
    UniformParam,
    nth_multiple,
    plain,
)
from ecgzoo.tune.space_checks import check_keys, check_structure

__all__ = [
    "DISTRIBUTIONS",
    "SearchSpace",
    "apply_values",
    "load_space",
    "parse_space",
    "sample_space",
]

UNIT_SUFFIX = "#unit"


class SearchSpace(SpaceDefinition):
    """A validated search space. Build it with :func:`load_space` or :func:`parse_space`.

    The fields, ``source``, ``error`` and the divisor lookups are :class:`SpaceDefinition`'s.
    """

    # -- identity -----------------------------------------------------------------------------

    def keys(self) -> list[str]:
        """The dotted config keys a trial's sampled values set, in file order."""
        return list(self.params)

    def short_names(self) -> dict[str, str]:
        """Dotted key -> the shortest unambiguous suffix (``model.params.hidden`` -> ``hidden``)."""
        keys = self.keys()
        out: dict[str, str] = {}
        for key in keys:
            parts = key.split(".")
            for n in range(1, len(parts) + 1):
                cand = ".".join(parts[-n:])
                if sum(1 for k in keys if k == cand or k.endswith("." + cand)) == 1:
                    out[key] = cand
                    break
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)

    # -- HyperOpt -----------------------------------------------------------------------------

    def to_hyperopt(self) -> dict[str, Any]:
        """The HyperOpt space (label -> ``hp`` expression) HyperOptSearch samples from."""
        from hyperopt import hp  # optional (tune extra): loaded only when a search samples

        targets = self.divisible_pairs()
        space: dict[str, Any] = {}
        for key, spec in self.params.items():
            if key in targets:
                space[key + UNIT_SUFFIX] = hp.uniform(key + UNIT_SUFFIX, 0.0, 1.0)
            elif isinstance(spec, IntParam):
                if spec.low == spec.high:
                    space[key] = hp.choice(key, [spec.low])
                elif spec.log:
                    space[key] = hp.qloguniform(key, math.log(spec.low), math.log(spec.high), 1)
                else:
                    space[key] = hp.uniformint(key, spec.low, spec.high)
            elif isinstance(spec, UniformParam):
                space[key] = hp.uniform(key, spec.low, spec.high)
            elif isinstance(spec, LogUniformParam):
                space[key] = hp.loguniform(key, math.log(spec.low), math.log(spec.high))
            elif isinstance(spec, QUniformParam):
                space[key] = hp.quniform(key, spec.low, spec.high, spec.q)
            else:
                space[key] = hp.choice(key, list(spec.values))
        return space

    def decode(self, sample: dict[str, Any]) -> dict[str, Any]:
        """A HyperOpt sample (or a Ray trial config) -> ``{dotted key: value}`` incl. ``fixed``.

        Values are plain Python types; ``int`` parameters are rounded and clipped into range,
        and every ``divisible`` target is a multiple of its divisor inside its range.
        """
        targets = self.divisible_pairs()
        values: dict[str, Any] = {}
        for key, spec in self.params.items():
            if key in targets:
                continue
            if key not in sample:
                raise ConfigError(f"{self.source}: sample has no value for {key!r}")
            value = plain(sample[key])
            if isinstance(spec, IntParam):
                value = int(min(max(round(float(value)), spec.low), spec.high))
            values[key] = value
        for key, divisor_key in targets.items():
            spec = self.params[key]
            assert isinstance(spec, IntParam)
            divisor = int(values[divisor_key] if divisor_key in values else self.fixed[divisor_key])
            unit = float(sample.get(key + UNIT_SUFFIX, sample.get(key, 0.0)))
            values[key] = nth_multiple(spec, divisor, unit)
        ordered = {k: values[k] for k in self.params}
        for key, value in self.fixed.items():
            ordered.setdefault(key, value)
        return ordered

    # -- checks -------------------------------------------------------------------------------

    def check_keys(self, model_names: list[str] | None = None) -> None:
        """Every key must be a config key; ``model.params.*`` must be accepted by the model(s).

        See :func:`ecgzoo.tune.space_checks.check_keys`.
        """
        check_keys(self, model_names)

    def check(self, base: ExperimentConfig, n_samples: int = 16, seed: int = 0) -> None:
        """Check the keys against ``base``'s model and that sampled trial configs validate."""
        self.check_keys([base.model.name])
        for values in sample_space(self, n_samples, seed=seed):
            try:
                apply_values(base, values)
            except ConfigError as exc:
                raise ConfigError(
                    f"{self.source}: sampled values give an invalid config: {exc}"
                ) from None


def _format_error(source: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if len(loc) >= 2 and loc[0] in ("params", "fixed"):
        key = loc[1]
        rest = [p for p in loc[2:] if p not in DISTRIBUTIONS]
        where = f"parameter {key!r}" + (f" ({'.'.join(rest)})" if rest else "")
    else:
        where = ".".join(loc) or "top level"
    return f"{source}: {where}: {err['msg']}"


def parse_space(tree: Any, source: str = "search space") -> SearchSpace:
    """Validate a space given as a mapping (the parsed YAML)."""
    if not isinstance(tree, dict):
        raise ConfigError(f"{source}: top level must be a mapping with a 'params' section")
    params = tree.get("params")
    if params is None:
        raise ConfigError(f"{source}: no 'params' section")
    if not isinstance(params, dict):
        raise ConfigError(f"{source}: 'params' must map dotted keys to distributions")
    for key, spec in params.items():
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{source}: parameter {key!r}: expected a mapping like "
                "{type: uniform, low: 0.1, high: 0.5}"
            )
        kind = spec.get("type")
        if kind not in DISTRIBUTIONS:
            raise ConfigError(
                f"{source}: parameter {key!r}: unknown distribution {kind!r} "
                f"(choose from {', '.join(DISTRIBUTIONS)})"
            )
    constraints = tree.get("constraints")
    if isinstance(constraints, dict):
        div = constraints.get("divisible")
        if isinstance(div, list) and div and all(isinstance(x, str) for x in div):
            tree = dict(tree, constraints=dict(constraints, divisible=[div]))
    try:
        space = SearchSpace.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_error(source, exc)) from None
    space._source = source
    check_structure(space)
    space.check_keys()
    return space


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space YAML file."""
    tree = read_yaml_file(path, "search space")
    return parse_space(tree, source=str(path))


def sample_space(space: SearchSpace, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` decoded samples drawn by HyperOpt from the very space HyperOptSearch gets."""
    from hyperopt.pyll import stochastic  # optional (tune extra), as in to_hyperopt

    expr = space.to_hyperopt()
    rng = np.random.default_rng(seed)
    return [space.decode(stochastic.sample(expr, rng=rng)) for _ in range(n)]


def apply_values(base: ExperimentConfig, values: dict[str, Any], **top: Any) -> ExperimentConfig:
    """``base`` with dotted ``values`` set (and top-level fields such as ``name``), validated.

    Values are set on the config tree directly (not as ``key=value`` text), so floats such as
    ``1e-05`` keep their type.
    """
    tree = base.model_dump(mode="json")
    for key, value in values.items():
        set_dotted(tree, key, plain(value))
    tree.update(top)
    return build_config(tree, source="trial config")
