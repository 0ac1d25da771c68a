"""Ordered, optionally parallel map used by every streaming preparation."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Processes for preparing a database: one per usable core (reading and cutting WFDB
    records is CPU-bound; the result does not depend on it)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def ordered_map(func: Callable[[T], R], jobs: Iterable[T], workers: int = 1) -> Iterator[R]:
    """``func(job)`` for each job, in order; in ``workers`` forked processes when > 1.

    Fork, not spawn: spawned workers re-import the caller's ``__main__`` (breaking scripts
    without a main guard and notebooks). Results come back one at a time, so a consumer that
    writes each to disk holds at most a few in memory.
    """
    if workers <= 1 or sys.platform != "linux":
        for job in jobs:
            yield func(job)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        yield from pool.map(func, jobs)
