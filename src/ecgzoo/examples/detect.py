"""QRS detection for ``ecgzoo annotate``: a library detector, then each peak moved onto the R wave.

The detector was chosen by measurement on the 48 MIT-BIH records (``benchmarks/qrs_detectors.py``,
table in ``docs/benchmarks.md``): ``vote`` (the default) is the learnt candidate vote of
:mod:`ecgzoo.examples.qrs_vote` (99.8 % Se and +P). The others are NeuroKit2's ``ecg_findpeaks``
with that method, on the signal cleaned by its matching ``ecg_clean`` filter, and ``xqrs`` (wfdb).
For those, the beat classifiers were trained on windows centred on the reference R peaks,
so every detection is then moved to the largest absolute deviation of the 0.5-40 Hz band-passed
signal within :data:`REFINE_WINDOW_S` of it (the same place a reference annotation sits).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.signal import butter, sosfiltfilt

from ecgzoo.errors import ConfigError

DEFAULT_METHOD = "vote"
METHODS = ("vote", "pantompkins1985", "neurokit", "elgendi2010", "hamilton2002", "xqrs")
# Where to look for the R wave around a detection (seconds before, after). Pan-Tompkins marks
# the end of its integration window, 0-50 ms after the R peak on MIT-BIH (measured), so it
# looks mostly back; a wide symmetric window lets wide ventricular beats snap to the T wave.
# On the 48 records (whole, not chunked) (-0.12, 0.03) lost the fewest matches: FN/FP
# 1074/1360 against 1125/1418 for (-0.12, 0) and 669/977 for the unrefined detections.
REFINE_WINDOW_S: dict[str, tuple[float, float]] = {"pantompkins1985": (-0.12, 0.03)}
REFINE_DEFAULT_S = (-0.06, 0.06)
REFRACTORY_S = 0.2
_CLEAN = {"pantompkins1985", "hamilton2002", "elgendi2010", "engzeemod2012"}


def detect_qrs(signal: np.ndarray, fs: float, method: str = DEFAULT_METHOD) -> np.ndarray:
    """Sorted, unique R-peak sample indices of ``signal`` (1-D, mV) at ``fs``."""
    if method not in METHODS:
        raise ConfigError(f"--detector: unknown QRS detector {method!r} ({', '.join(METHODS)})")
    signal = np.asarray(signal, dtype=np.float64)
    if len(signal) < int(2 * fs) or np.ptp(signal) == 0:
        return np.zeros(0, dtype=np.int64)
    if method == "vote":  # already on the R wave, nothing merged (see ecgzoo.examples.qrs_vote)
        from ecgzoo.examples.qrs_vote import detect_vote

        return detect_vote(signal, fs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "xqrs":
            import wfdb.processing

            xq = wfdb.processing.XQRS(sig=signal, fs=fs)
            xq.detect(verbose=False)
            peaks = np.asarray(xq.qrs_inds, dtype=np.int64)
        else:
            import neurokit2 as nk

            clean = nk.ecg_clean(
                signal, sampling_rate=fs, method=method if method in _CLEAN else "neurokit"
            )
            found = nk.ecg_findpeaks(clean, sampling_rate=fs, method=method)
            peaks = np.asarray(found["ECG_R_Peaks"], dtype=np.int64)
    return refine_peaks(signal, fs, peaks, REFINE_WINDOW_S.get(method, REFINE_DEFAULT_S))


def refine_peaks(
    signal: np.ndarray,
    fs: float,
    peaks: np.ndarray,
    window_s: tuple[float, float] = REFINE_DEFAULT_S,
) -> np.ndarray:
    """Move each peak to the largest |band-passed signal| within ``window_s`` of it, then merge
    peaks closer than :data:`REFRACTORY_S` (keeping the larger)."""
    peaks = np.unique(np.asarray(peaks, dtype=np.int64))
    peaks = peaks[(peaks >= 0) & (peaks < len(signal))]
    if len(peaks) == 0:
        return peaks
    high = min(40.0, 0.45 * fs)
    sos = butter(2, [0.5, high], btype="bandpass", fs=fs, output="sos")
    band = np.abs(sosfiltfilt(sos, signal))
    offsets = np.arange(int(round(window_s[0] * fs)), int(round(window_s[1] * fs)) + 1)
    idx = np.clip(peaks[:, None] + offsets[None, :], 0, len(signal) - 1)
    moved = idx[np.arange(len(peaks)), np.argmax(band[idx], axis=1)]
    moved = np.unique(moved)
    gap = int(round(REFRACTORY_S * fs))
    keep = [0]
    for i in range(1, len(moved)):  # a short loop over beats (fast: ~100k per day)
        last = keep[-1]
        if moved[i] - moved[last] < gap:
            if band[moved[i]] > band[moved[last]]:
                keep[-1] = i
        else:
            keep.append(i)
    return moved[np.asarray(keep)]


#: Which leads ``annotate`` detects on: ``one`` (the lead the model reads), ``gaps`` (that lead,
#: its gaps filled from another lead where the read lead's own vote agrees a little:
#: :func:`fill_gaps` with :data:`GAP_CONFIRM_SCORE`; the default since round CF,
#: notes/beats20.md) or ``gaps-unchecked`` (every gap filled, round ML's G).
DETECT_LEADS_CHOICES = ("one", "gaps", "gaps-unchecked")
DETECT_LEADS = "gaps"
#: Second-lead peaks fill a first-lead gap longer than this many of the second lead's local RR.
GAP_RR = 1.5
#: The second lead's RR intervals nearest a peak whose median is its local RR.
GAP_NEIGHBOURS = 16
#: An added peak keeps at least this many local RR from the first-lead peaks on both sides
#: (0: anywhere in the gap, round ML's variant G, what ``--detect-leads gaps`` does; 0.5 was
#: round ML2's G2, no better on DS1: notes/beats19.md).
GAP_MARGIN_RR = 0.0
#: Two peaks this close are the same beat (EC57's match window; ``apply.scoring`` scores with it).
MATCH_S = 0.15
#: A filled-in peak is kept only where the read lead's own vote has a candidate within
#: :data:`MATCH_S` scoring at least this (``None``: no such check). Round CF chose 0.05 on the
#: 22 DS1 records (missed + false 149 against the read lead's 173; SVDB 1,153 against 2,418).
GAP_CONFIRM_SCORE: float | None = 0.05


def support(peaks: np.ndarray, cand: np.ndarray, scores: np.ndarray, fs: float) -> np.ndarray:
    """For each of ``peaks``, the highest score of a candidate (sorted ``cand``, the vote's,
    with their ``scores``) within :data:`MATCH_S`; -1 where there is none."""
    best = np.full(len(peaks), -1.0)
    if len(cand) == 0:
        return best
    reach = MATCH_S * fs
    lo = np.searchsorted(cand, peaks - reach, side="left")
    hi = np.searchsorted(cand, peaks + reach, side="right")
    for k in range(int((hi - lo).max(initial=0))):  # candidates are >= 120 ms apart: few
        i = lo + k
        inside = i < hi
        best[inside] = np.maximum(best[inside], scores[i[inside]])
    return best


def fill_gaps(
    first: np.ndarray,
    second: np.ndarray,
    fs: float,
    margin_rr: float = GAP_MARGIN_RR,
    confirm: tuple[np.ndarray, np.ndarray] | None = None,
    min_score: float | None = GAP_CONFIRM_SCORE,
) -> np.ndarray:
    """``first``'s peaks plus the ``second`` lead's peaks that fall in a gap of ``first``:
    a second-lead peak with no first-lead peak within :data:`MATCH_S` is added when the interval
    between the first-lead peaks around it is longer than :data:`GAP_RR` times the median of the
    :data:`GAP_NEIGHBOURS` second-lead RR intervals nearest to it (its local RR), and it lies at
    least ``margin_rr`` local RR from the first-lead peaks on both sides. A lead that skips beats
    (SVDB 865's first lead misses 1,285 of 3,162) leaves such gaps, the skipped beat inside them;
    a false peak of the other lead between two beats the first found, or on the T wave after a
    pause's first beat, does not (issue 19, notes/beats19.md rounds ML and ML2). With
    ``confirm`` (the first lead's vote candidates and scores) and a ``min_score``, an added peak
    also needs :func:`support` of at least ``min_score`` there (round CF, notes/beats20.md)."""
    first = np.unique(np.asarray(first, dtype=np.int64))
    second = np.unique(np.asarray(second, dtype=np.int64))
    if len(second) < 3:
        return first
    fill = fill_places(first, second, fs, margin_rr) if len(first) else np.ones(len(second), bool)
    if confirm is not None and min_score is not None:  # the same check where the lead found none
        fill &= support(second, *confirm, fs) >= min_score
    return np.union1d(first, second[fill])


def fill_places(first: np.ndarray, second: np.ndarray, fs: float, margin_rr: float) -> np.ndarray:
    """Which of ``second``'s peaks (sorted, at least 3) fall in a gap of ``first`` (sorted, not
    empty), as :func:`fill_gaps` defines it."""
    j = np.searchsorted(first, second)
    before = first[np.clip(j - 1, 0, len(first) - 1)]
    after = first[np.clip(j, 0, len(first) - 1)]
    nearest = np.minimum(np.abs(second - before), np.abs(after - second))
    new = nearest > MATCH_S * fs
    # the first-lead gap around each candidate (open at the ends: the record's edges)
    gap = np.where(j > 0, second - before, np.inf) + np.where(
        j < len(first), after - second, np.inf
    )
    rr = np.diff(second).astype(np.float64)
    half = GAP_NEIGHBOURS // 2
    lo = np.clip(np.arange(len(second)) - half, 0, max(len(rr) - GAP_NEIGHBOURS, 0))
    windows = lo[:, None] + np.arange(min(GAP_NEIGHBOURS, len(rr)))[None, :]
    local_rr = np.median(rr[windows], axis=1)
    side = np.minimum(second - before, after - second)  # to the nearer first-lead peak
    side = np.where((j > 0) & (j < len(first)), side, np.inf)
    return new & (gap > GAP_RR * local_rr) & (side >= margin_rr * local_rr)
