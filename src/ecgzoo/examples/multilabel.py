"""Multi-label recordings: leads chosen by name, resampled, cropped or padded, multi-hot targets.

For the 2021 12-lead challenge (and any reader whose records carry several labels). Each
recording keeps the leads named in the options (in that order; a record without one of them is
refused, naming it), is resampled to the task's rate (``scipy.signal.resample_poly``), has its
invalid samples (NaN) set to 0, is optionally z-scored per lead over its real part, and is cut
to its first ``length_s`` seconds or zero-padded at the end. The real length (samples that are
signal, not padding) is kept beside it. Targets are multi-hot float32 over the scored classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.examples import transforms
from ecgzoo.readers.records import Record


def select_leads(record: Record, names: list[str]) -> np.ndarray:
    """Rows of ``record.signal`` for the leads ``names`` (case-insensitive), in that order."""
    return _rows(record.signal, record.lead_names, names, _where(record))


def _where(record: Record) -> str:
    return f"{record.database} record {record.name}"


def _rows(signal: np.ndarray, lead_names: list[str], names: list[str], where: str) -> np.ndarray:
    lowered = [n.lower() for n in lead_names]
    rows = []
    for name in names:
        if name.lower() not in lowered:
            raise DataError(f"{where}: no lead {name} (it has {', '.join(lead_names)})")
        rows.append(lowered.index(name.lower()))
    return signal[rows]


def recording_window(record: Record, options: Any) -> tuple[np.ndarray, int]:
    """``(x, real_length)``: float32 ``(n_leads, round(length_s * fs))`` and its real samples.

    ``options`` carries ``leads``, ``fs``, ``length_s`` and ``normalise``.
    """
    return window_of(record.signal, record.lead_names, record.fs, options, _where(record))


def window_of(
    signal: np.ndarray, lead_names: list[str], fs: float, options: Any, where: str
) -> tuple[np.ndarray, int]:
    """:func:`recording_window` of a ``(n_leads, n_samples)`` signal at ``fs`` (the function
    both the dataset and ``InputSpec.prepare`` call)."""
    sig = np.nan_to_num(
        _rows(signal, list(lead_names), list(options.leads), where).astype(np.float32)
    )
    sig = transforms.resample(sig, fs, float(options.fs)).astype(np.float32)
    length = max(1, int(round(options.length_s * float(options.fs))))
    real = min(sig.shape[-1], length)
    out = np.zeros((sig.shape[0], length), dtype=np.float32)
    out[:, :real] = sig[:, :real]
    if options.normalise:
        out = transforms.normalise(out[None], np.array([real]))[0]
    return out, real


def multi_hot(indices: list[list[int]], n_classes: int) -> np.ndarray:
    """float32 ``(n, n_classes)`` with 1 at each example's class indices."""
    y = np.zeros((len(indices), n_classes), dtype=np.float32)
    for i, idx in enumerate(indices):
        y[i, idx] = 1.0
    return y


def positives(y: np.ndarray, class_names: list[str]) -> dict[str, int]:
    """Per-label positive counts of multi-hot targets (``{"AF": 9, ..., "records": n}``)."""
    counts = np.asarray(y).sum(axis=0).astype(np.int64)
    out = {c: int(n) for c, n in zip(class_names, counts, strict=True)}
    out["records"] = int(len(y))
    return out
