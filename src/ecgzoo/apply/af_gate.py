"""Run the AF gate's rhythm model over a record (``annotate --af-gate``, ``evaluate --af-gate``).

The arithmetic (windows, threshold, moving S to N) is :mod:`ecgzoo.models.af_gate`; here the
rhythm model (``pretrained:cinc2017``) scores the record's windows, each prepared by that
model's own ``InputSpec`` (resampled, z-scored, tiled to its length) as ``ecgzoo predict`` does.
The lead is read through a ``read(start, stop)`` callable a block of windows at a time, so a
24-hour Holter is never held whole and ``annotate`` (streamed) and ``evaluate --data`` (whole
records) score exactly the same windows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ecgzoo.apply.model import AppliedModel, load_model
from ecgzoo.apply.threads import apply_threads, torch_threads
from ecgzoo.errors import ConfigError
from ecgzoo.models.af_gate import (
    AF_CLASS,
    RHYTHM_MODEL,
    THRESHOLD,
    beat_window_probability,
    close_supraventricular,
    window_edges,
)

BLOCK_WINDOWS = 60  # windows read and scored together: 30 minutes of signal

Reader = Callable[[int, int], np.ndarray]


class AfGate:
    """The rhythm model, loaded once, and what it says of a record's windows."""

    def __init__(self, model: str | AppliedModel = RHYTHM_MODEL, threshold: float = THRESHOLD):
        self.model = model if isinstance(model, AppliedModel) else load_model(model)
        if self.model.kind != "recording" or AF_CLASS not in self.model.class_names:
            raise ConfigError(f"--af-gate: {self.model.ref} is not a rhythm model with class A")
        self.af_index = self.model.class_names.index(AF_CLASS)
        self.threshold = float(threshold)

    def window_probabilities(
        self, read: Reader, n_samples: int, fs: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, p_af)``: the record's window edges and each window's AF probability
        (0 for a flat window: no rhythm to judge)."""
        edges = window_edges(n_samples, fs)
        p_af = np.zeros(len(edges) - 1)
        for lo in range(0, len(p_af), BLOCK_WINDOWS):
            hi = min(lo + BLOCK_WINDOWS, len(p_af))
            block = np.asarray(read(int(edges[lo]), int(edges[hi])), dtype=np.float64)
            parts = [
                block[a - edges[lo] : b - edges[lo]]
                for a, b in zip(edges[lo:hi], edges[lo + 1 : hi + 1], strict=True)
            ]
            live = [k for k, part in enumerate(parts) if len(part) and np.ptp(part) > 0]
            if live:
                with torch_threads(apply_threads()):
                    prob = self.model.predict_recordings([parts[k] for k in live], fs)
                p_af[lo + np.asarray(live)] = prob[:, self.af_index]
        return edges, p_af

    def beat_probabilities(
        self, read: Reader, n_samples: int, fs: float, peaks: np.ndarray
    ) -> np.ndarray:
        """Each beat's AF probability (that of its window)."""
        edges, p_af = self.window_probabilities(read, n_samples, fs)
        return beat_window_probability(peaks, edges, p_af)

    def of_signal(self, signal: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
        """:meth:`beat_probabilities` of a lead held whole (``evaluate --data``)."""
        signal = np.asarray(signal)
        return self.beat_probabilities(lambda a, b: signal[a:b], len(signal), fs, peaks)

    def close(self, prob: np.ndarray, class_names: list[str], beat_af: np.ndarray) -> np.ndarray:
        """``prob`` with S moved to N in the closed windows."""
        return close_supraventricular(prob, class_names, beat_af, self.threshold)

    def summary(self, beat_af: np.ndarray) -> dict[str, Any]:
        """What the gate did to one record, for its summary."""
        closed = np.asarray(beat_af) >= self.threshold
        return {
            "model": self.model.ref,
            "threshold": self.threshold,
            "beats_in_af_windows": int(closed.sum()),
        }
