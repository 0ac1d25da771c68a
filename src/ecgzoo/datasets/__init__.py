"""Datasets: one module per dataset, with arrays, cache and splits."""

from ecgzoo.datasets.api import load

__all__ = ["load"]
