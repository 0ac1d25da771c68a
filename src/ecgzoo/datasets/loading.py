"""One entry point from a data config to prepared train/val/test arrays."""

from __future__ import annotations

from ecgzoo.config import DataConfig
from ecgzoo.datasets import registry
from ecgzoo.datasets.arrays import PreparedData


def load_data(config: DataConfig) -> PreparedData:
    """Prepare the dataset a config names (cached after the first call), through its
    registered :class:`~ecgzoo.datasets.registry.DatasetSpec`."""
    return registry.get(str(config.dataset)).load(config)
