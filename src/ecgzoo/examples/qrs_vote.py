"""A learnt QRS detector: every energy peak a candidate, a small network decides which are beats.

No single classical detector reaches 99.5 % Se and +P on the 48 MIT-BIH records (table in
``docs/benchmarks.md``): each misses the beats of a sudden low-amplitude stretch or counts the
T waves and noise of another. Here

1. the ECG is band-passed (5-30 Hz, both ways), differentiated, squared and integrated over
   150 ms (Pan & Tompkins' pipeline, sleepecg's C kernels); every peak of that energy at least
   120 ms from a larger one is a *candidate* (recall 99.98 % on the 48 records, ~1.7 per beat);
2. sleepecg's adaptive-threshold Pan-Tompkins runs on the same signals; its beats give each
   candidate a local context: the median QRS energy and RR interval of the 21 beats around it
   and the mean of the 41 beats around it as a template;
3. a 2-layer perceptron (:data:`WEIGHTS`, 13 features, trained on the de Chazal DS1 records only by
   ``benchmarks/qrs_train.py``) scores each candidate; those over the decision threshold stored
   with the weights (:func:`decision_threshold`, 0.5 when absent) are beats, and of two within
   200 ms the higher-scoring one stays.

Every feature is a ratio or in seconds, so the detector carries over to other sampling rates.
The kept candidates are moved to the largest |0.5-40 Hz band-passed signal| within 60 ms (where
the reference R peaks sit and where the beat models' windows are centred); nothing is merged
after the move, so no beat is lost to it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter
from scipy.signal import butter, find_peaks, sosfiltfilt

WEIGHTS = Path(__file__).with_name("qrs_vote.json")
FEATURE_NAMES = (
    "log_energy",
    "log_energy_prev",
    "log_energy_next",
    "prev_gap_rr",
    "next_gap_rr",
    "prev_gap_s",
    "next_gap_s",
    "to_pt_beat_s",
    "log_energy_vs_250ms_max",
    "template_corr",
    "log_amplitude",
    "candidate_density",
    "local_rr_s",
)
MIN_GAP_S = 0.12  # candidates: energy peaks at least this far apart
REFRACTORY_S = 0.2  # two beats closer than this: the higher-scoring one stays
CONTEXT_BEATS = 21  # local QRS energy and RR: the median over this many detected beats
TEMPLATE_HALF_S = 0.08
TEMPLATE_BEATS = 41
REFINE_S = 0.06


@cache
def _kernels() -> tuple[Any, Any]:
    """sleepecg's C ``_squared_moving_integration`` and ``_thresholding``.

    The extension is loaded on its own: ``import sleepecg`` would also import its sleep-stage
    classifiers and plotting (0.8 s) on every ``annotate`` call."""
    spec = importlib.util.find_spec("sleepecg")
    module = None
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(folder.glob("_heartbeat_detection*.so")):
            loader = importlib.machinery.ExtensionFileLoader(
                "sleepecg._heartbeat_detection", str(path)
            )
            ext_spec = importlib.util.spec_from_loader(loader.name, loader)
            if ext_spec is not None:
                module = importlib.util.module_from_spec(ext_spec)
                loader.exec_module(module)
                break
    if module is None:  # a source build or another layout: the ordinary import
        from sleepecg import _heartbeat_detection as module  # type: ignore[no-redef]
    return module._squared_moving_integration, module._thresholding


def warm_up() -> None:
    """Load the C kernels now (before forking workers, so each does not load them again)."""
    _kernels()


def _bandpass(low: float, high: float, fs: float) -> np.ndarray:
    """The order-2 Butterworth band-pass (SOS), designed once per rate, not once per chunk (a
    copy: scipy's filter wants a writable array)."""
    return _butter_bandpass(low, high, fs).copy()


@cache
def _butter_bandpass(low: float, high: float, fs: float) -> np.ndarray:
    return butter(2, (low, high), btype="bandpass", output="sos", fs=fs)


def energy(signal: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """``(filtered, integrated)``: the 5-30 Hz band-passed ECG and its squared derivative
    integrated over a centred 150 ms window (sleepecg's ``detect_heartbeats`` signals)."""
    smi, _ = _kernels()
    sos = _bandpass(5.0, 30.0, fs)
    filtered = np.ascontiguousarray(sosfiltfilt(sos, signal))
    derivative = np.correlate(filtered, np.array([-1.0, -2.0, 0.0, 2.0, 1.0]), mode="same")
    return filtered, np.asarray(smi(derivative, int(0.15 * fs)))


def pan_tompkins(filtered: np.ndarray, integrated: np.ndarray, fs: float) -> np.ndarray:
    """sleepecg's adaptive-threshold Pan-Tompkins beats on :func:`energy`'s signals."""
    _, thresholding = _kernels()
    return np.flatnonzero(thresholding(filtered, integrated, float(fs))).astype(np.int64)


def _around(beats: np.ndarray, at: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The value of the detected beat nearest each of ``at`` (``values`` aligned with beats)."""
    j = np.clip(np.searchsorted(beats, at), 1, len(beats) - 1)
    nearer = np.where(np.abs(beats[j - 1] - at) <= np.abs(beats[j] - at), j - 1, j)
    return values[nearer]


def _neighbour_max(cand: np.ndarray, e: np.ndarray, reach: int) -> np.ndarray:
    """The largest energy among the candidates within ``reach`` samples of each (itself too);
    candidates are at least 120 ms apart, so two on each side suffice within 250 ms."""
    best = e.copy()
    for k in (1, 2):
        for lo, hi in ((slice(k, None), slice(None, -k)), (slice(None, -k), slice(k, None))):
            near = np.abs(cand[lo] - cand[hi]) <= reach
            best[lo] = np.where(near, np.maximum(best[lo], e[hi]), best[lo])
    return best


def _template_corr(filtered: np.ndarray, fs: float, cand: np.ndarray, beats: np.ndarray):
    """Correlation of each candidate's filtered QRS with the mean of the :data:`TEMPLATE_BEATS`
    detected beats around it (by beat count, so a chunk boundary does not move it)."""
    h = int(TEMPLATE_HALF_S * fs)
    win = np.arange(-h, h + 1)
    cc = np.clip(cand, h, len(filtered) - h - 1)
    segs = filtered[cc[:, None] + win]
    segs = segs - segs.mean(axis=1, keepdims=True)
    good = beats[(beats > h) & (beats < len(filtered) - h)]
    if len(good) < 2:
        return np.zeros(len(cand)), segs
    tpl = filtered[good[:, None] + win]
    tpl = tpl - tpl.mean(axis=1, keepdims=True)
    csum = np.concatenate([np.zeros((1, tpl.shape[1])), np.cumsum(tpl, axis=0)])
    j = _around(good, cc, np.arange(len(good)))
    half = TEMPLATE_BEATS // 2
    lo, hi = np.maximum(j - half, 0), np.minimum(j + half + 1, len(good))
    local = (csum[hi] - csum[lo]) / (hi - lo)[:, None]
    num = np.einsum("ij,ij->i", segs, local)
    return num / (np.linalg.norm(segs, axis=1) * np.linalg.norm(local, axis=1) + 1e-12), segs


def candidate_features(signal: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(candidates, X, pt_beats)``: candidate sample indices, their :data:`FEATURE_NAMES` rows
    and sleepecg's Pan-Tompkins beats (the context; also the second detector of bSQI)."""
    filtered, integ = energy(np.asarray(signal, dtype=np.float64), fs)
    cand, _ = find_peaks(integ, distance=max(int(MIN_GAP_S * fs), 1))
    # drop the ripples: under 1 % of the largest energy within about 2 s (0.5 s blocks)
    block = max(int(0.5 * fs), 1)
    n_blocks = -(-len(integ) // block)
    padded = np.zeros(n_blocks * block)
    padded[: len(integ)] = integ
    runmax = maximum_filter1d(padded.reshape(n_blocks, block).max(axis=1), 9)
    cand = cand[integ[cand] > 0.01 * runmax[cand // block]].astype(np.int64)
    pt_beats = pan_tompkins(filtered, integ, fs)
    if len(cand) == 0:
        return cand, np.zeros((0, len(FEATURE_NAMES))), pt_beats
    beats = pt_beats if len(pt_beats) >= 3 else cand  # too few: candidates against each other
    if len(beats) < 3:
        return cand, np.zeros((len(cand), len(FEATURE_NAMES))), pt_beats
    size = min(CONTEXT_BEATS, len(beats) - 1)
    level = median_filter(integ[beats], size=size, mode="nearest")
    rr_beats = np.diff(beats) / fs
    rr_local = median_filter(rr_beats, size=size, mode="nearest")
    e = integ[cand]
    lvl = _around(beats, cand, level)
    rrm = _around(beats[1:], cand, rr_local)
    prev_d = np.diff(cand, prepend=cand[0] - int(fs)) / fs
    next_d = np.diff(cand, append=cand[-1] + int(fs)) / fs
    le = np.log(e / lvl + 1e-12)
    le_prev = np.concatenate([[0.0], le[:-1]])
    le_next = np.concatenate([le[1:], [0.0]])
    to_beat = np.minimum(np.abs(_around(beats, cand, beats) - cand) / fs, 0.5)
    rel_local = np.log(e / _neighbour_max(cand, e, int(0.25 * fs)) + 1e-12)
    corr, segs = _template_corr(filtered, fs, cand, beats)
    typical = median_filter(np.abs(filtered[beats]), size=size, mode="nearest") + 1e-9
    amp = np.log(np.abs(segs).max(axis=1) / _around(beats, cand, typical) + 1e-9)
    half = int(2.5 * fs)
    density = (np.searchsorted(cand, cand + half) - np.searchsorted(cand, cand - half)) * rrm / 5.0
    x = np.column_stack(
        [le, le_prev, le_next, prev_d / rrm, next_d / rrm, prev_d, next_d, to_beat, rel_local]
        + [corr, amp, density, rrm]
    )
    return cand, x, pt_beats


@cache
def _raw_weights() -> dict[str, Any]:
    return json.loads(WEIGHTS.read_text())


@cache
def vote_weights() -> dict[str, list[np.ndarray]]:
    """The perceptron of :data:`WEIGHTS`: layer matrices, biases and input scaling."""
    raw = _raw_weights()
    return {k: [np.asarray(a, dtype=np.float64) for a in raw[k]] for k in ("W", "b")} | {
        "scale": [np.asarray(raw["mean"]), np.asarray(raw["std"])]
    }


def decision_threshold() -> float:
    """The score over which a candidate is a beat: set with the weights, on their training
    records (``benchmarks/qrs_train.py --match-fp``); 0.5 for weights stored without one."""
    return float(_raw_weights().get("threshold", 0.5))


def score(x: np.ndarray, weights: dict[str, Any] | None = None) -> np.ndarray:
    """Probability that each row of ``x`` is a beat (the perceptron of :data:`WEIGHTS`)."""
    w = weights or vote_weights()
    mean, std = w["scale"]
    h = (x - mean) / std
    layers = list(zip(w["W"], w["b"], strict=True))
    for k, (mat, bias) in enumerate(layers):
        h = h @ mat + bias
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return 1.0 / (1.0 + np.exp(-h[:, 0]))


def choose(cand: np.ndarray, p: np.ndarray, fs: float, threshold: float = 0.5) -> np.ndarray:
    """Candidates scoring over ``threshold``; of two within 200 ms the higher-scoring one."""
    sel = np.flatnonzero(p > threshold)
    gap = REFRACTORY_S * fs
    close = np.diff(cand[sel]) < gap
    if not close.any():
        return cand[sel]
    # the greedy pass (keep the higher of two within 200 ms) only inside clusters of conflict
    involved = np.zeros(len(sel), dtype=bool)
    involved[:-1] |= close
    involved[1:] |= close
    keep = list(sel[~involved])
    mine: list[int] = []
    for k in np.flatnonzero(involved):
        i = int(sel[k])
        if mine and cand[i] - cand[mine[-1]] < gap:
            if p[i] > p[mine[-1]]:
                mine[-1] = i
        else:
            mine.append(i)
    keep = np.sort(np.concatenate([np.asarray(keep, dtype=np.int64), mine]))
    return cand[keep.astype(np.int64)]


def move_to_r(signal: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
    """Each peak moved to the largest |0.5-40 Hz band-passed signal| within 60 ms of it."""
    if len(peaks) == 0:
        return peaks
    sos = _bandpass(0.5, min(40.0, 0.45 * fs), fs)
    # float32 halves the filter's time; only the argmax below reads it
    band = np.abs(sosfiltfilt(sos.astype(np.float32), np.asarray(signal, dtype=np.float32)))
    r = int(round(REFINE_S * fs))
    idx = np.clip(peaks[:, None] + np.arange(-r, r + 1)[None, :], 0, len(signal) - 1)
    return np.unique(idx[np.arange(len(peaks)), np.argmax(band[idx], axis=1)])


def detect_vote(signal: np.ndarray, fs: float) -> np.ndarray:
    """Sorted R-peak sample indices of ``signal`` (1-D) by the learnt candidate vote."""
    return detect_vote_scored(signal, fs)[0]


def detect_vote_scored(signal: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(peaks, candidates, scores)``: the vote's R peaks, and every candidate with its score
    (what :mod:`ecgzoo.apply.quality` reads)."""
    signal = np.asarray(signal, dtype=np.float64)
    cand, x, _ = candidate_features(signal, fs)
    if len(cand) == 0:
        return cand, cand, np.zeros(0)
    p = score(x)
    return move_to_r(signal, fs, choose(cand, p, fs, decision_threshold())), cand, p
