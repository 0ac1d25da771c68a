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

Keys are checked against :class:`~ecgzoo.config.ExperimentConfig` (``train.lr``,
``data.mitbih.pad_to`` ...) and ``model.params.*`` against the constructor of the model the
space is for. Every mistake raises :class:`~ecgzoo.errors.ConfigError` naming the file and the
parameter. Importing this module imports neither HyperOpt nor Ray.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ecgzoo.config import ExperimentConfig, build_config, set_dotted
from ecgzoo.errors import ConfigError

__all__ = [
    "DISTRIBUTIONS",
    "SearchSpace",
    "apply_values",
    "load_space",
    "parse_space",
    "sample_space",
]

UNIT_SUFFIX = "#unit"
# Keys a search may not vary: they name and place the run, they are not hyperparameters.
_RESERVED = {"name", "output_dir"}
# Model constructor arguments that come from the data, not from model.params.
_SHAPE_ARGS = {"self", "n_leads", "n_samples", "n_classes", "n_features"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntParam(_Strict):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False


class UniformParam(_Strict):
    type: Literal["uniform"]
    low: float
    high: float


class LogUniformParam(_Strict):
    type: Literal["loguniform"]
    low: float
    high: float


class QUniformParam(_Strict):
    type: Literal["quniform"]
    low: float
    high: float
    q: float = Field(gt=0)


class ChoiceParam(_Strict):
    type: Literal["choice"]
    values: list[Any]


Param = Annotated[
    IntParam | UniformParam | LogUniformParam | QUniformParam | ChoiceParam,
    Field(discriminator="type"),
]
DISTRIBUTIONS = ("int", "uniform", "loguniform", "quniform", "choice")


class Constraints(_Strict):
    divisible: list[list[str]] = Field(default_factory=list)


class SearchSpace(_Strict):
    """A validated search space. Build it with :func:`load_space` or :func:`parse_space`."""

    model: str | None = None
    description: str | None = None
    fixed: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Param]
    constraints: Constraints = Constraints()
    _source: str = PrivateAttr(default="search space")

    # -- identity -----------------------------------------------------------------------------

    @property
    def source(self) -> str:
        """The file the space came from (used in error messages)."""
        return self._source

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

    # -- divisibility -------------------------------------------------------------------------

    def _divisible(self) -> dict[str, str]:
        """Target key -> divisor key."""
        return {pair[0]: pair[1] for pair in self.constraints.divisible}

    def _divisor_values(self, key: str) -> list[int]:
        """Every value the divisor ``key`` can take."""
        if key in self.fixed:
            return [self.fixed[key]]
        spec = self.params[key]
        if isinstance(spec, ChoiceParam):
            return list(spec.values)
        assert isinstance(spec, IntParam)
        return list(range(spec.low, spec.high + 1))

    # -- HyperOpt -----------------------------------------------------------------------------

    def to_hyperopt(self) -> dict[str, Any]:
        """The HyperOpt space (label -> ``hp`` expression) HyperOptSearch samples from."""
        from hyperopt import hp

        targets = self._divisible()
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
        targets = self._divisible()
        values: dict[str, Any] = {}
        for key, spec in self.params.items():
            if key in targets:
                continue
            if key not in sample:
                raise ConfigError(f"{self.source}: sample has no value for {key!r}")
            value = _plain(sample[key])
            if isinstance(spec, IntParam):
                value = int(min(max(round(float(value)), spec.low), spec.high))
            values[key] = value
        for key, divisor_key in targets.items():
            spec = self.params[key]
            assert isinstance(spec, IntParam)
            divisor = int(values[divisor_key] if divisor_key in values else self.fixed[divisor_key])
            unit = float(sample.get(key + UNIT_SUFFIX, sample.get(key, 0.0)))
            values[key] = _nth_multiple(spec, divisor, unit)
        ordered = {k: values[k] for k in self.params}
        for key, value in self.fixed.items():
            ordered.setdefault(key, value)
        return ordered

    # -- checks -------------------------------------------------------------------------------

    def _fail(self, key: str | None, message: str) -> ConfigError:
        where = f"parameter {key!r}: " if key else ""
        return ConfigError(f"{self.source}: {where}{message}")

    def _check_structure(self) -> None:
        if not self.params:
            raise self._fail(None, "params is empty: a search needs at least one parameter")
        for key, spec in self.params.items():
            _check_key_syntax(self, key)
            if isinstance(spec, IntParam):
                if spec.low > spec.high:
                    raise self._fail(key, f"empty range: low ({spec.low}) > high ({spec.high})")
                if spec.log and spec.low <= 0:
                    raise self._fail(key, f"log scale needs low > 0, got {spec.low}")
            elif isinstance(spec, UniformParam | LogUniformParam | QUniformParam):
                if not (math.isfinite(spec.low) and math.isfinite(spec.high)):
                    raise self._fail(key, "low and high must be finite")
                if spec.low >= spec.high:
                    raise self._fail(key, f"empty range: low ({spec.low}) >= high ({spec.high})")
                if isinstance(spec, LogUniformParam) and spec.low <= 0:
                    raise self._fail(key, f"loguniform needs low > 0, got {spec.low}")
                if isinstance(spec, QUniformParam) and spec.q > spec.high - spec.low:
                    raise self._fail(key, f"step q ({spec.q}) is larger than the range")
            elif not spec.values:
                raise self._fail(key, "choice has no values")
            if key in self.fixed:
                raise self._fail(key, "is both sampled (params) and fixed")
        for key in self.fixed:
            _check_key_syntax(self, key)
        targets: set[str] = set()
        for pair in self.constraints.divisible:
            if len(pair) != 2:
                raise self._fail(None, f"constraints.divisible: expected [A, B], got {pair}")
            a, b = pair
            if a not in self.params or not isinstance(self.params[a], IntParam):
                raise self._fail(a, "constraints.divisible: the first key must be an int parameter")
            if a in targets:
                raise self._fail(a, "constraints.divisible: a key can have one divisor only")
            if b not in self.params and b not in self.fixed:
                raise self._fail(
                    b, "constraints.divisible: the divisor must be a parameter or fixed"
                )
            if b in self.params and not isinstance(self.params[b], IntParam | ChoiceParam):
                raise self._fail(b, "constraints.divisible: the divisor must be int or choice")
            targets.add(a)
        for a, b in self._divisible().items():
            if b in targets:
                raise self._fail(b, "constraints.divisible: a divisor cannot itself be constrained")
            spec = self.params[a]
            assert isinstance(spec, IntParam)
            for d in self._divisor_values(b):
                if isinstance(d, bool) or not isinstance(d, int) or d < 1:
                    raise self._fail(b, f"divisor values must be positive integers, got {d!r}")
                if _multiples(spec, d)[0] > _multiples(spec, d)[1]:
                    raise self._fail(
                        a, f"no multiple of {b} = {d} lies in [{spec.low}, {spec.high}]"
                    )

    def check_keys(self, model_names: list[str] | None = None) -> None:
        """Every key must be a config key; ``model.params.*`` must be accepted by the model(s).

        ``model_names``: the models trials may build (default: the space's ``model``, or the
        sampled/fixed ``model.name``). Without any, ``model.params.*`` names go unchecked.
        """
        names = list(model_names or [])
        if "model.name" in self.fixed:
            names = [str(self.fixed["model.name"])]
        elif isinstance(self.params.get("model.name"), ChoiceParam):
            names = [str(v) for v in self.params["model.name"].values]  # type: ignore[union-attr]
        elif not names and self.model:
            names = [self.model]
        if self.model and names and any(n != self.model for n in names):
            raise self._fail(
                "model.name", f"the space is for model {self.model!r}, not {', '.join(names)}"
            )
        accepted = {name: _model_arguments(self, name) for name in names}
        for key in [*self.params, *self.fixed]:
            parts = key.split(".")
            if parts[:2] == ["model", "params"]:
                if len(parts) != 3:
                    raise self._fail(key, "model.params keys have the form model.params.NAME")
                for name, args in accepted.items():
                    if args is not None and parts[2] not in args:
                        raise self._fail(
                            key,
                            f"unknown parameter: model {name!r} accepts {', '.join(sorted(args))}",
                        )
            else:
                _check_config_key(self, key)

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


def _plain(value: Any) -> Any:
    """NumPy scalars -> Python scalars."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _multiples(spec: IntParam, divisor: int) -> tuple[int, int]:
    """Smallest and largest multiplier ``m`` with ``divisor * m`` in ``[low, high]``."""
    return max(1, -(-spec.low // divisor)), spec.high // divisor


def _nth_multiple(spec: IntParam, divisor: int, unit: float) -> int:
    lo, hi = _multiples(spec, divisor)
    n = hi - lo + 1
    unit = min(max(unit, 0.0), 1.0)
    if spec.log and lo > 0 and n > 1:
        m = round(math.exp(math.log(lo) + unit * (math.log(hi) - math.log(lo))))
    else:
        m = lo + min(int(unit * n), n - 1)
    return divisor * int(min(max(m, lo), hi))


def _check_key_syntax(space: SearchSpace, key: str) -> None:
    if not key or any(not part for part in key.split(".")):
        raise space._fail(key, "is not a dotted config key")
    if key in _RESERVED:
        raise space._fail(key, "names the run and cannot be searched")


def _check_config_key(space: SearchSpace, key: str) -> None:
    """Walk ``key`` down the pydantic config models."""
    node: type[BaseModel] = ExperimentConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields = node.model_fields
        if part not in fields:
            where = ".".join(parts[:i]) or "the config"
            raise space._fail(
                key, f"unknown parameter: {where} has no {part!r} (choose from {', '.join(fields)})"
            )
        annotation = fields[part].annotation
        last = i == len(parts) - 1
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if last:
            if is_section:
                raise space._fail(key, "names a config section, not a value")
            return
        if not is_section:
            raise space._fail(key, f"unknown parameter: {'.'.join(parts[: i + 1])} is a value")
        node = annotation


def _model_arguments(space: SearchSpace, name: str) -> set[str] | None:
    """The hyperparameter names model ``name`` accepts (None: it takes ``**kwargs``)."""
    from ecgzoo.models.registry import model_class

    try:
        cls = model_class(name)
    except ConfigError as exc:
        raise space._fail("model.name", str(exc)) from None
    except ImportError as exc:
        raise space._fail("model.name", f"model {name!r} cannot be imported ({exc})") from None
    params = inspect.signature(cls.__init__).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.name not in _SHAPE_ARGS}


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
    space._check_structure()
    space.check_keys()
    return space


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: search space file not found")
    try:
        tree = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_space(tree, source=str(path))


def sample_space(space: SearchSpace, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` decoded samples drawn by HyperOpt from the very space HyperOptSearch gets."""
    from hyperopt.pyll import stochastic

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
        set_dotted(tree, key, _plain(value))
    tree.update(top)
    return build_config(tree, source="trial config")
