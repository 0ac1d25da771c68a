"""The checks every recording passes before it becomes a model's input: its sampling rate and,
for one lead given as an array, its samples. Each failure is one ``DataError`` line naming
where the recording came from."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ecgzoo.errors import DataError

MIN_FS = 100.0  # below this a QRS is a few samples wide: no model here was trained on that
MAX_FS = 20000.0


def check_rate(fs: Any, where: str, minimum: float = MIN_FS) -> float:
    """``fs`` as a float, or ``DataError`` naming ``where`` when it is missing, not a number,
    not finite, not positive, below ``minimum`` or implausibly high for an ECG.

    The one rate check of every place a recording enters a model (annotate, predict, the
    Python API and ``evaluate --data``)."""
    if fs is None:
        raise DataError(f"{where}: no sampling rate (the header has none: pass --fs)")
    try:
        rate = float(fs)
    except (TypeError, ValueError):
        raise DataError(f"{where}: sampling rate {fs!r} is not a number") from None
    if not math.isfinite(rate) or rate <= 0:
        raise DataError(f"{where}: sampling rate {rate:g} Hz is not a positive number")
    if rate < minimum:
        raise DataError(f"{where}: {rate:g} Hz is below the {minimum:g} Hz minimum")
    if rate > MAX_FS:
        raise DataError(f"{where}: sampling rate {rate:g} Hz is not plausible for an ECG")
    return rate


def check_signal(signal: Any, where: str) -> np.ndarray:
    """One lead as float64: real numbers (a complex array is refused, not silently cut to its
    real part), 1-D, not empty, every sample finite; ``DataError`` naming ``where``."""
    arr = np.asarray(signal)
    if np.iscomplexobj(arr) or not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{where}: expected real numbers, got {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise DataError(f"{where}: expected one lead (1-D, not empty), got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{where}: holds NaN or infinite samples")
    return arr
