"""Signal quality per 10 s window: stretches too noisy to trust are marked, not counted.

The index is the detector's own doubt: in each window, the candidates (energy peaks) that the
learnt QRS vote (:mod:`ecgzoo.examples.qrs_vote`) scores between 0.1 and 0.9, per beat it keeps.
On clean ECG every candidate is plainly a beat or plainly a T wave (0 %); noise and artefact
make QRS-like peaks the vote cannot place. A window is *unusable* when that share is over
:data:`THRESHOLD` (20 %) or its signal is flat (lead off).

Measured on MIT-BIH (``benchmarks/signal_quality.py``, docs/notes/speed.md): NeuroKit2's
``ecg_quality`` ``zhao2018`` takes ~8 ms per 10 s window (70 s for a day) and calls 24-40 % of
records 108 and 203 "Unacceptable" where the detector still finds 99 % of the beats; bSQI
(agreement of two detectors) marked 21 % of record 208, whose PVCs one detector misses. This
index marks 0 % of records 100, 201 and 208, and 7-9 % of 108 and 207 (flutter, noise), where
most of the detection errors are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ecgzoo.examples.qrs_vote import decision_threshold

WINDOW_S = 10.0
THRESHOLD = 0.2
DOUBT = (0.1, 0.9)


@dataclass
class Quality:
    """Per window (``window_s`` long, from sample 0): the doubt index (NaN: no beat) and a
    usable flag; the unusable stretches as ``(start, stop)`` sample spans (merged, ascending)."""

    window_s: float
    fs: float
    index: np.ndarray
    usable: np.ndarray
    spans: list[tuple[int, int]]

    def beat_usable(self, samples: np.ndarray) -> np.ndarray:
        """Whether each beat at ``samples`` lies in a usable window."""
        if len(self.usable) == 0:
            return np.ones(len(samples), dtype=bool)
        w = int(round(self.window_s * self.fs))
        return self.usable[np.clip(np.asarray(samples) // w, 0, len(self.usable) - 1)]

    def summary(self) -> dict:
        """What the JSON summary says about quality."""
        seconds = sum(b - a for a, b in self.spans) / self.fs
        return {
            "method": f"vote doubt > {THRESHOLD:g} per {self.window_s:g} s window",
            "unusable_s": seconds,
            "unusable_percent": 100.0 * float(np.mean(~self.usable)) if len(self.usable) else 0.0,
            "unusable_spans_s": [[a / self.fs, b / self.fs] for a, b in self.spans],
        }


def assess(
    cand: np.ndarray,
    scores: np.ndarray,
    fs: float,
    n_samples: int,
    flat: np.ndarray | None = None,
    window_s: float = WINDOW_S,
    threshold: float = THRESHOLD,
) -> Quality:
    """The quality of every window from the vote's candidates and their scores (samples at
    ``fs``); ``flat``: indices of windows known to be flat (:func:`flat_windows`)."""
    w = int(round(window_s * fs))
    n_win = max(-(-n_samples // w), 1)
    cand = np.asarray(cand, dtype=np.int64)
    scores = np.asarray(scores)
    doubt = (scores > DOUBT[0]) & (scores < DOUBT[1])
    n_doubt = np.bincount(cand[doubt] // w, minlength=n_win)[:n_win]
    n_beats = np.bincount(cand[scores > decision_threshold()] // w, minlength=n_win)[:n_win]
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.where(n_beats > 0, n_doubt / np.maximum(n_beats, 1), np.nan)
    usable = ~(index > threshold) & ~((n_beats == 0) & (n_doubt > 0))
    if flat is not None and len(flat):
        flat = np.asarray(flat, dtype=np.int64)
        usable[flat[flat < n_win]] = False
    spans: list[tuple[int, int]] = []
    bad = np.flatnonzero(~usable)
    if len(bad):
        for run in np.split(bad, np.flatnonzero(np.diff(bad) > 1) + 1):
            spans.append((int(run[0] * w), int(min((run[-1] + 1) * w, n_samples))))
    return Quality(window_s, fs, index, usable, spans)


def flat_windows(signal: np.ndarray, fs: float, start: int, window_s: float = WINDOW_S):
    """Absolute indices of the whole windows inside ``signal`` (which begins at absolute sample
    ``start``) that are constant: a lead off, a saturated amplifier."""
    w = int(round(window_s * fs))
    first = -(-start // w)
    offset = first * w - start
    k = max((len(signal) - offset) // w, 0)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    blocks = np.asarray(signal[offset : offset + k * w]).reshape(k, w)
    return first + np.flatnonzero(np.ptp(blocks, axis=1) == 0)


def detect(
    signal: np.ndarray,
    fs: float,
    detector: str,
    quality: bool,
    detect_qrs: Callable[..., np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(peaks, candidates, scores)`` of one piece of signal: the ``detector``'s R peaks and,
    with ``quality``, the vote's candidates and scores. The vote runs once for both; any other
    detector, or a ``detect_qrs`` given in place of :func:`ecgzoo.examples.detect.detect_qrs`, is
    called as it is."""
    from ecgzoo.examples import detect as detect_module

    given = detect_qrs or detect_module.detect_qrs
    shared = detector == "vote" and given is detect_module.detect_qrs
    usable_piece = len(signal) >= int(2 * fs) and np.ptp(signal) > 0
    peaks = None if shared and usable_piece else given(signal, fs, detector)
    if not quality and peaks is not None:
        return peaks, None, None
    if not usable_piece:  # too short or flat: no candidates (flat windows are found apart)
        return peaks, np.zeros(0, dtype=np.int64), np.zeros(0)
    from ecgzoo.examples.qrs_vote import detect_vote_scored

    vote, cand, scores = detect_vote_scored(signal, fs)
    if not quality:
        return vote, None, None
    return (vote if peaks is None else peaks), cand, scores


def chunk_part(
    signal, fs: float, start: int, core: tuple[int, int], cand, scores
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """What one chunk adds to a :class:`Tracker`: the candidates (record samples) and scores it
    owns, and its flat windows; ``None`` when quality is off (no candidates)."""
    if cand is None:
        return None
    g = np.asarray(cand, dtype=np.int64) + start
    own = (g >= core[0]) & (g < core[1])
    return g[own], np.asarray(scores)[own], flat_windows(signal, fs, start)


class Tracker:
    """Collects the candidates each chunk owns (and its flat windows) for :func:`assess`."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self.cand: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.flat: list[np.ndarray] = []

    def add(self, signal, start: int, core: tuple[int, int], cand, scores) -> None:
        self.add_part(chunk_part(signal, self.fs, start, core, cand, scores))

    def add_part(self, part: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> None:
        """A chunk's share from :func:`chunk_part` (computed here or in a worker process)."""
        if part is None:
            return
        self.cand.append(part[0])
        self.scores.append(part[1])
        self.flat.append(part[2])

    def result(self, n_samples: int) -> Quality | None:
        if not self.cand:
            return None
        flat = np.unique(np.concatenate(self.flat)) if self.flat else None
        return assess(
            np.concatenate(self.cand), np.concatenate(self.scores), self.fs, n_samples, flat
        )
