"""The per-chunk stage of ``annotate``: read, detect, align and cut one chunk of a lead.

With a ``fill_lead`` the beats the lead's detection skipped are taken from another lead
(:func:`ecgzoo.examples.detect.fill_gaps`; with ``fill_checked`` only where the lead's own vote
has a candidate there) and cut from the lead itself like every beat.

Each chunk (:meth:`ecgzoo.apply.signals.SignalSource.chunk_bounds`) is independent, so with
free cores the chunks run in forked worker processes (``datasets.streaming.ordered_map``),
in order. The QRS detector holds the GIL, so threads gained 10-20 % at best (issue 19 notes);
processes run it in parallel. A worker reads its own samples (every read opens the file anew),
and sends back only the chunk's beats and its quality share, never the signal.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ecgzoo.apply.quality import chunk_part
from ecgzoo.apply.quality import detect as detect_with_quality
from ecgzoo.apply.signals import CHUNK_S, SignalSource
from ecgzoo.datasets.streaming import ordered_map
from ecgzoo.errors import DataError
from ecgzoo.examples.detect import fill_gaps


@dataclass
class ChunkBeats:
    """One chunk's beats, per InputSpec of the task (one per model of a blend): R ``peaks``
    (record samples, at that model's fiducial), their windows ``x`` and which were ``kept`` (a
    full window); the chunk's quality share and whether it is flat."""

    peaks: list[np.ndarray]
    x: list[np.ndarray]
    kept: list[np.ndarray]
    quality: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    flat: bool
    timings: dict[str, float]


@dataclass(frozen=True)
class ChunkTask:
    """What every chunk of one annotation shares."""

    source: SignalSource
    lead: int
    specs: tuple[Any, ...]  # the models' InputSpecs (one each): each aligns and cuts its own
    detector: str
    quality: bool
    detect_qrs: Callable[..., np.ndarray]
    fill_lead: int | None = None  # another lead whose peaks fill the lead's detection gaps
    fill_checked: bool = True  # a filled-in peak needs the lead's own vote candidate (round CF)


#: Workers only when a second chunk holds at least this much signal: forking a pool costs
#: ~50 ms, which a folder of 30-minute records (one chunk and a 6 s tail each) would pay for
#: nothing (measured: 22 MIT-BIH records 8.2 s with a pool per record, 7.0 s without).
MIN_PARALLEL_S = 300.0

# The annotations under way, by key: a pool forked for one inherits its task (the model's
# InputSpec, not the model), so the task is never pickled; only the key and bounds travel.
_TASKS: dict[int, ChunkTask] = {}
_KEYS = itertools.count()


def beats_of_chunk(job: tuple[int, tuple[int, int, int, int]]) -> ChunkBeats:
    """Read, detect, align and cut one chunk: ``(key, (start, stop, core_start, core_stop))``."""
    key, (start, stop, core_start, core_stop) = job
    task = _TASKS[key]
    fs = task.source.fs
    t0 = time.perf_counter()
    signal = task.source.read(task.lead, start, stop)
    t1 = time.perf_counter()
    checked = task.fill_lead is not None and task.fill_checked  # needs the vote's candidates
    local, cand, scores = detect_with_quality(
        signal, fs, task.detector, task.quality or checked, task.detect_qrs
    )
    part = chunk_part(signal, fs, start, (core_start, core_stop), cand, scores)
    part = part if task.quality else None
    other = _other_lead(task, start, stop)
    if other is not None:  # beats this lead skipped, found on another (rounds ML, CF)
        found, _, _ = detect_with_quality(other, fs, task.detector, False, task.detect_qrs)
        local = fill_gaps(local, found, fs, confirm=(cand, scores) if checked else None)
    t_detect = time.perf_counter()
    g = local + start
    own = local[(g >= core_start) & (g < core_stop)]
    peaks, xs, kepts = [], [], []
    for spec in task.specs:  # one detection, each model's own fiducial and cut
        aligned = spec.align(signal, fs, own)
        x, kept = spec.beats(signal, fs, aligned)
        peaks.append(aligned + start)
        xs.append(x)
        kepts.append(kept)
    t2 = time.perf_counter()
    timings = {"read": t1 - t0, "detect": t_detect - t1, "segment": t2 - t_detect}
    return ChunkBeats(peaks, xs, kepts, part, bool(np.ptp(signal) == 0), timings)


def _other_lead(task: ChunkTask, start: int, stop: int) -> np.ndarray | None:
    """The fill lead's samples of this chunk; ``None`` without one, or where it cannot help
    (NaN samples: a dropped lead): the chunk is then detected on the model's lead alone, as
    ``--detect-leads one`` would, instead of failing a record whose own lead is sound."""
    if task.fill_lead is None:
        return None
    try:
        return task.source.read(task.fill_lead, start, stop)
    except DataError:
        return None


def chunk_beats(
    task: ChunkTask, chunk_s: float = CHUNK_S, workers: int = 1
) -> Iterator[ChunkBeats]:
    """:func:`beats_of_chunk` of every chunk of ``task``'s lead, in order; in ``workers``
    forked processes when more than one chunk and one worker."""
    key = next(_KEYS)
    jobs = [(key, bounds) for bounds in task.source.chunk_bounds(chunk_s)]
    cores = sorted(b[3] - b[2] for _, b in jobs)
    if len(cores) < 2 or cores[-2] < MIN_PARALLEL_S * task.source.fs:
        workers = 1  # one real chunk (a 30:06 record is 30:00 + 6 s): a fork would only cost
    workers = min(workers, len(jobs))
    if workers > 1:  # what every worker needs, loaded once here and inherited
        from ecgzoo.examples.qrs_vote import warm_up

        warm_up()
    _TASKS[key] = task
    try:
        yield from ordered_map(beats_of_chunk, jobs, workers)
    finally:
        del _TASKS[key]
