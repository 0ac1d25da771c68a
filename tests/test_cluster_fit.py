"""How many trials (a search's) or points (a sweep's) fit the running Ray cluster: the one
check ``tune`` and ``scale`` share (``tune.cluster.tasks_that_fit``)."""

from __future__ import annotations

import sys
import types

import pytest

from ecgzoo.errors import ConfigError
from ecgzoo.tune.cluster import tasks_that_fit


def _cluster(monkeypatch, resources: dict[str, float]) -> None:
    """A stand-in for a running Ray cluster that reports ``resources``."""
    fake = types.SimpleNamespace(cluster_resources=lambda: dict(resources))
    monkeypatch.setitem(sys.modules, "ray", fake)


def test_cpus_and_gpus_both_bound_the_count(monkeypatch):
    _cluster(monkeypatch, {"CPU": 8.0, "GPU": 2.0})
    assert tasks_that_fit(2, 0) == 4
    assert tasks_that_fit(2, 1) == 2  # the GPUs bind first
    assert tasks_that_fit(3, 0.5) == 2  # 8 // 3 CPUs


def test_a_task_larger_than_the_cluster_is_refused_naming_what(monkeypatch):
    _cluster(monkeypatch, {"CPU": 2.0})
    with pytest.raises(ConfigError, match=r"cannot fit one point of 4 CPUs and 0 GPUs"):
        tasks_that_fit(4, 0, "point")
    with pytest.raises(ConfigError, match=r"\(2.0 CPUs, 0 GPUs\) cannot fit one trial of 1 CPUs"):
        tasks_that_fit(1, 1)
