"""Databases' examples and splits from Python: ``ecgzoo.datasets.load("mitbih", split="inter")``.

A thin layer over the same config and loader the training engine uses, so a notebook gets
exactly the arrays (and the cache) a run gets.
"""

from __future__ import annotations

from typing import Any

from ecgzoo.datasets import registry
from ecgzoo.datasets.data_section import build_data
from ecgzoo.errors import ConfigError


def load(name: str, seed: int = 0, **options: Any) -> Any:
    """Train/val/test examples of the registered dataset ``name`` (``mitbih``, ``cinc2017``
    ...; :func:`ecgzoo.datasets.registry.names`) as a ``PreparedData`` (``.train.x``,
    ``.train.y``, ``.class_names`` ...); ``options`` are that
    database's config options (``split``, ``segmentation``, ``rr_features``, ``length_s`` ...)."""
    from ecgzoo.datasets.loading import load_data

    if name not in registry.names():
        known = ", ".join(registry.names())
        raise ConfigError(f"ecgzoo.datasets.load: unknown database {name!r} ({known})")
    section = registry.get(name).section_name
    tree: dict = {"dataset": name, "seed": seed}
    if options and section is None:  # options at the top of the data section (kaggle_csv)
        tree.update(options)
    elif options:
        tree[section] = dict(options)
    return load_data(build_data(tree, source="ecgzoo.datasets.load"))
