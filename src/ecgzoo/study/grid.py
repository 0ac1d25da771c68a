"""The scale grid: which depths, widths, kernels and poolings ``ecgzoo scale`` sweeps.

A grid YAML (see ``configs/scale/``)::

    depth: [2, 4]          # residual blocks, D (model.params.n_blocks)
    width: [16, 32]        # channels, C (model.params.width)
    kernel: [5, 9]         # kernel size, K (model.params.kernel)
    pooling: [gap, flatten]  # global average pooling or flattening before the classifier
    metric: macro_f1       # the figure of merit: best scales chosen on val_<metric>
    overrides:             # dotted config keys set for every point (a shorter budget, ...)
      train.epochs: 3

Every combination is one point; its id (``d2-c16-k5-gap``) names its run folder and its
entry in the sweep's ``results.json``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecgzoo.config import ExperimentConfig
from ecgzoo.errors import ConfigError
from ecgzoo.models.scale import resnet_params
from ecgzoo.safe_load import read_yaml
from ecgzoo.tune.space import apply_values

__all__ = ["GridPoint", "ScaleGrid", "load_grid", "parse_grid"]


class ScaleGrid(BaseModel):
    """A D x C x K x pooling grid, the metric it is judged on and per-point config overrides."""

    model_config = ConfigDict(extra="forbid")

    depth: list[int] = Field(min_length=1)
    width: list[int] = Field(min_length=1)
    kernel: list[int] = Field(min_length=1)
    pooling: list[Literal["gap", "flatten"]] = Field(default_factory=lambda: ["gap"], min_length=1)
    metric: str = "macro_f1"
    overrides: dict[str, Any] = Field(default_factory=dict)

    def points(self) -> list[GridPoint]:
        """Every combination, in a stable order (depth, then width, kernel, pooling)."""
        seen: dict[str, GridPoint] = {}
        for d, c, k, p in itertools.product(self.depth, self.width, self.kernel, self.pooling):
            point = GridPoint(d, c, k, p)
            seen.setdefault(point.id, point)
        return list(seen.values())

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


@dataclass(frozen=True)
class GridPoint:
    depth: int
    width: int
    kernel: int
    pooling: str

    @property
    def id(self) -> str:
        return f"d{self.depth}-c{self.width}-k{self.kernel}-{self.pooling}"

    def params(self) -> dict[str, Any]:
        """The point's ``model.params`` of resnet1d."""
        return resnet_params(self.depth, self.width, self.kernel, self.pooling)

    def config(self, base: ExperimentConfig, grid: ScaleGrid, runs_dir: Path) -> ExperimentConfig:
        """``base`` trained as this point: resnet1d with the point's scale, in ``runs_dir``."""
        values: dict[str, Any] = dict(grid.overrides)
        values["model.name"] = "resnet1d"
        # Other resnet1d settings of the base (stem stride, dropout, ...) are kept.
        kept = dict(base.model.params) if base.model.name == "resnet1d" else {}
        values["model.params"] = {**kept, **self.params()}
        return apply_values(base, values, name=self.id, output_dir=str(runs_dir))


def _check_values(grid: ScaleGrid, source: str) -> None:
    for axis, minimum in (("depth", 0), ("width", 1), ("kernel", 1)):
        bad = [v for v in getattr(grid, axis) if v < minimum]
        if bad:
            raise ConfigError(f"{source}: {axis} values must be >= {minimum}, got {bad[0]}")
    for key in grid.overrides:
        if key.startswith("model."):
            raise ConfigError(f"{source}: overrides: {key} is set by the grid itself")


def parse_grid(tree: Any, source: str = "grid") -> ScaleGrid:
    """Validate a grid mapping; a bad grid raises a one-line ``ConfigError`` naming ``source``."""
    if not isinstance(tree, dict):
        raise ConfigError(f"{source}: top level must be a mapping")
    try:
        grid = ScaleGrid.model_validate(tree)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{source}: {loc}: {err['msg']}") from None
    _check_values(grid, source)
    return grid


def load_grid(path: str | Path) -> ScaleGrid:
    """Read a grid YAML file."""
    path = Path(path)
    return parse_grid(read_yaml(path, "grid"), str(path))
