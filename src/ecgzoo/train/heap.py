"""Owned memory set by the batch while scoring: glibc's heap policy around evaluation.

Measured on 88,000 replicated PTB-XL ECGs (docs/notes/datapath.md): over one validation pass
(~100 batches of crops) glibc's heap came to hold ~165 MiB of *freed* blocks (``mallinfo2``:
in use flat at ~180 MiB, free held 26 -> 190 MiB), all of it counted in the process's
``RssAnon``; with the 1,987 ECGs (3 validation batches) it held ~8 MiB. Large tensors freed
between long-lived small ones (each batch's probabilities, kept for the epoch) leave holes the
heap cannot hand back, and glibc's dynamic threshold (raised to the largest block freed, up to
32 MiB) keeps every batch-sized block in the heap. So the memory owned after validation grew
with the number of validation batches, i.e. with the dataset.

While scoring, blocks of ``EVAL_MMAP_FROM`` bytes or more get their own mappings (returned to
the system when freed) and the heap is trimmed at the end; training keeps the heap for
batch-sized blocks (``TRAIN_MMAP_FROM``, glibc's own ceiling): a fresh mapping per 15 MB
12-lead batch cost +2.3 ms of CPU a batch (page faults), a third of the data path. Elsewhere
than glibc (macOS, musl) nothing is changed.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import lightning.pytorch as pl

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
EVAL_MMAP_FROM = 1 << 20
TRAIN_MMAP_FROM = 32 << 20  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc

_lock = threading.Lock()
_depth = 0


def _glibc() -> Any | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (both must exist)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def enter_scoring() -> None:
    """From now until the matching :func:`leave_scoring`, large blocks get their own mappings."""
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1 and _LIBC is not None:
            _LIBC.mallopt(M_MMAP_THRESHOLD, EVAL_MMAP_FROM)


def leave_scoring() -> None:
    """Back to the training policy, and freed heap memory handed back to the system."""
    global _depth
    with _lock:
        _depth = max(0, _depth - 1)
        if _depth == 0 and _LIBC is not None:
            _LIBC.mallopt(M_MMAP_THRESHOLD, TRAIN_MMAP_FROM)
            _LIBC.malloc_trim(0)


class ScoringHeap(pl.Callback):
    """:func:`enter_scoring` / :func:`leave_scoring` around every validation pass (the
    per-epoch training curve is scored inside it)."""

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        enter_scoring()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        leave_scoring()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exc) -> None:
        if trainer.validating or trainer.sanity_checking:  # a pass that never reached its end
            leave_scoring()


__all__ = ["ScoringHeap", "enter_scoring", "leave_scoring"]
