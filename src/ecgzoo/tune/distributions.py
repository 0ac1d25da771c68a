"""The distributions of a search-space file and the arithmetic of ``divisible`` constraints.

Pydantic models of one ``params`` entry each (``int``, ``uniform``, ``loguniform``,
``quniform``, ``choice``) and the mapping of a unit-interval position onto the multiples of a
divisor that :class:`ecgzoo.tune.space.SearchSpace` uses to make constrained trials valid by
construction.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DISTRIBUTIONS",
    "ChoiceParam",
    "Constraints",
    "IntParam",
    "LogUniformParam",
    "Param",
    "QUniformParam",
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
