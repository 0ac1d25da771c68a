"""Crops cut straight from a (memory-mapped) array: only the crops' samples are read or copied.

Shared by the training data path (:mod:`ecgzoo.train.datamodule`) and crop voting
(:mod:`ecgzoo.train.voting`): voting used to copy each crop's whole recording first
(``x[owner]``: 5 copies of every recording, 117 MiB for 512 12 x 1000 ECGs) to cut 1/4 of it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gather_crops"]


def gather_crops(x: np.ndarray, idx: np.ndarray, starts: np.ndarray, crop: int) -> np.ndarray:
    """``x[idx[j], ..., starts[j]:starts[j] + crop]`` for each j, float32: from a memory map
    only the crops' samples are read (a window past the end is clamped, as
    ``random_crop_batch`` of :mod:`ecgzoo.train.datamodule` does).

    One fancy index over a sliding-window view of ``x`` (every crop is a strided view; the
    index copies them into one batch): as fast as one copy of the batch's bytes, and faster than
    a slice per example or a gather of whole recordings then a crop (about 10x slower: it reads
    the whole recordings)."""
    last = x.shape[-1] - crop
    if last < 0 or x.ndim < 2 or np.any(starts > last):
        return _gather_crops_clamped(x, idx, starts, crop)
    # np.asarray: a plain ndarray view of a memmap (no per-item memmap subclass overhead)
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(x), crop, axis=-1)
    lead = (-1,) + (1,) * (x.ndim - 2)  # batch axis first, the others broadcast
    middle = np.ix_(*(np.arange(k) for k in x.shape[1:-1]))
    out = windows[(np.reshape(idx, lead), *middle, np.reshape(starts, lead))]
    return out if out.dtype == np.float32 else out.astype(np.float32)


def _gather_crops_clamped(x: np.ndarray, idx: np.ndarray, starts: np.ndarray, crop: int):
    """:func:`gather_crops` where a window runs past the end: its last sample repeated."""
    out = np.empty((len(idx),) + x.shape[1:-1] + (crop,), dtype=np.float32)
    for j, (i, s) in enumerate(zip(idx.tolist(), starts.tolist(), strict=True)):
        cols = np.minimum(np.arange(s, s + crop), x.shape[-1] - 1)
        out[j] = x[i][..., cols]
    return out
