"""The distributions of a search-space file and the arithmetic of ``divisible`` constraints.

Pydantic models of one ``params`` entry each (``int``, ``uniform``, ``loguniform``,
``quniform``, ``choice``), :class:`SpaceDefinition` (the fields of a space file, which
``space_checks`` validates and :class:`ecgzoo.tune.space.SearchSpace` extends with sampling) and
the mapping of a unit-interval position onto the multiples of a divisor that ``SearchSpace``
uses to make constrained trials valid by construction.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ecgzoo.errors import ConfigError

__all__ = [
    "DISTRIBUTIONS",
    "ChoiceParam",
    "Constraints",
    "IntParam",
    "LogUniformParam",
    "Param",
    "QUniformParam",
    "SpaceDefinition",
    "UniformParam",
    "multiples",
    "nth_multiple",
    "plain",
]


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


class SpaceDefinition(_Strict):
    """The fields of a search-space file and what its checks read (``space_checks``).

    The base of :class:`ecgzoo.tune.space.SearchSpace`; it lives here, below both modules, so
    that the checks need not import the space they check.
    """

    model: str | None = None
    description: str | None = None
    fixed: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Param]
    constraints: Constraints = Constraints()
    _source: str = PrivateAttr(default="search space")

    @property
    def source(self) -> str:
        """The file the space came from (used in error messages)."""
        return self._source

    def error(self, key: str | None, message: str) -> ConfigError:
        """A ``ConfigError`` naming the space's file and (when given) the parameter ``key``."""
        where = f"parameter {key!r}: " if key else ""
        return ConfigError(f"{self.source}: {where}{message}")

    def divisible_pairs(self) -> dict[str, str]:
        """Target key -> divisor key."""
        return {pair[0]: pair[1] for pair in self.constraints.divisible}

    def divisor_values(self, key: str) -> list[int]:
        """Every value the divisor ``key`` can take."""
        if key in self.fixed:
            return [self.fixed[key]]
        spec = self.params[key]
        if isinstance(spec, ChoiceParam):
            return list(spec.values)
        assert isinstance(spec, IntParam)
        return list(range(spec.low, spec.high + 1))


def plain(value: Any) -> Any:
    """NumPy scalars -> Python scalars."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def multiples(spec: IntParam, divisor: int) -> tuple[int, int]:
    """Smallest and largest multiplier ``m`` with ``divisor * m`` in ``[low, high]``."""
    return max(1, -(-spec.low // divisor)), spec.high // divisor


def nth_multiple(spec: IntParam, divisor: int, unit: float) -> int:
    """The multiple of ``divisor`` in ``spec``'s range at position ``unit`` (0..1)."""
    lo, hi = multiples(spec, divisor)
    n = hi - lo + 1
    unit = min(max(unit, 0.0), 1.0)
    if spec.log and lo > 0 and n > 1:
        m = round(math.exp(math.log(lo) + unit * (math.log(hi) - math.log(lo))))
    else:
        m = lo + min(int(unit * n), n - 1)
    return divisor * int(min(max(m, lo), hi))
