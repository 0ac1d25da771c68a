"""Databases' examples and splits from Python: ``ecgzoo.datasets.load("mitbih", split="inter")``.

A thin layer over the same config and loader the training engine uses, so a notebook gets
exactly the arrays (and the cache) a run gets.
"""

from __future__ import annotations

from typing import Any

from ecgzoo.errors import ConfigError

NAMES = ("mitbih", "cinc2017")


def load(name: str, seed: int = 0, **options: Any) -> Any:
    """Train/val/test examples of database ``name`` (``mitbih`` or ``cinc2017``) as a
    ``PreparedData`` (``.train.x``, ``.train.y``, ``.class_names`` ...); ``options`` are that
    database's config options (``split``, ``segmentation``, ``rr_features``, ``length_s`` ...)."""
    from ecgzoo.config import build_config
    from ecgzoo.data.loading import load_data

    if name not in NAMES:
        raise ConfigError(f"ecgzoo.datasets.load: unknown database {name!r} ({', '.join(NAMES)})")
    tree = {"data": {"dataset": name, "seed": seed, name: dict(options)}}
    return load_data(build_config(tree, source="ecgzoo.datasets.load").data)
