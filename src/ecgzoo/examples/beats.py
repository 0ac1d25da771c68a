"""Heartbeats from one lead and its R peaks: AAMI classes, two segmentations, RR features.

Works on any record at any rate (reference annotations of MIT-BIH or SVDB, or R peaks
*detected* on a new recording: :func:`segment_beats` is what ``ecgzoo annotate`` calls).

AAMI EC57 classes: N (N L R e j), S (A a J S), V (V E), F (F), Q (/ f Q); every other
annotation is not a beat of these classes and is skipped.

``kachuee`` (Kachuee, Fazeli, Sarrafzadeh 2018; the Kaggle "ECG Heartbeat Categorization"
dataset). The lead is resampled to 125 Hz (``scipy.signal.resample_poly``), cut into
consecutive 10 s windows from the start (the last, shorter window is kept), and each window is
min-max scaled to [0, 1] on its own. R peaks are scaled to 125 Hz (rounded). The nominal period
T of a window is the median of the RR intervals whose two beats both lie in it (the record's
median RR when a window has fewer than two beats). A beat is the scaled signal from its R peak
over ``round(1.2 T)`` samples (at most 187), zero-padded to 187 (or ``pad_to``). A beat whose
span runs past its window's end continues into the next window's samples, so no beat is lost at
a window edge. Dropped: only the last beat (``last_beat_of_record``). A kept beat whose span
runs past the end of the record is cut there, zero-padded and flagged ``truncated``.

``centered``: the baseline is removed with a zero-phase 2nd-order Butterworth high-pass at
0.5 Hz (``sosfiltfilt``) at the record's rate, the signal (mV) is resampled to ``fs`` when it
differs, and each beat is ``[R - round(before_s fs), R + round(after_s fs))``. Beats whose
window starts before the record (``record_start``) or ends after it (``record_end``) are dropped.

Both attach eight RR features per beat (:data:`RR_FEATURE_NAMES`), computed over all beats of
the record before any is dropped, in seconds: previous RR, next RR, local RR (mean of the 10 RR
intervals around the beat), record-average RR, and the ratios previous/record, next/record,
previous/next, local/record. The first beat takes its next RR as previous RR; the last beat
its previous RR as next RR.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from ecgzoo.errors import ConfigError, DataError
from ecgzoo.examples.classes import AAMI_CLASSES
from ecgzoo.examples.spans import RECORD_SPAN_S, record_spans, span_mean_rr

#: The AAMI EC57 beat classes in label order: the one definition, which metrics, training,
#: apply and the Kaggle CSVs import.
CLASS_NAMES: list[str] = list(AAMI_CLASSES)  # as the list a PreparedData carries
AAMI_SYMBOLS: dict[str, str] = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
SYMBOL_TO_CLASS: dict[str, int] = {
    sym: CLASS_NAMES.index(cls) for cls, syms in AAMI_SYMBOLS.items() for sym in syms
}
LEAD_PREFERENCE: tuple[str, ...] = ("MLII", "V5")  # then the first lead

KACHUEE_FS = 125.0
KACHUEE_WINDOW_S = 10.0
KACHUEE_LENGTH = 187
KACHUEE_SPAN = 1.2
HIGHPASS_HZ = 0.5
LOCAL_RR_INTERVALS = 10
RR_FEATURE_NAMES: list[str] = [
    "rr_prev_s",
    "rr_next_s",
    "rr_local_s",
    "rr_record_s",
    "rr_prev_over_record",
    "rr_next_over_record",
    "rr_prev_over_next",
    "rr_local_over_record",
]


def aami_labels(samples: np.ndarray, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(samples, labels)`` of the beats whose WFDB symbol has an AAMI class (order kept)."""
    symbols = np.asarray(symbols)
    keep = np.isin(symbols, list(SYMBOL_TO_CLASS))
    labels = np.array([SYMBOL_TO_CLASS[s] for s in symbols[keep]], dtype=np.int64)
    return np.asarray(samples, dtype=np.int64)[keep], labels


def choose_lead(lead_names: list[str]) -> int:
    """Index of MLII, else V5, else 0 (exact names, as MIT-BIH spells them)."""
    for name in LEAD_PREFERENCE:
        if name in lead_names:
            return lead_names.index(name)
    return 0


def rr_features(peaks: np.ndarray, fs: float, span: float | None = None) -> np.ndarray:
    """The eight RR features (:data:`RR_FEATURE_NAMES`) of beats at ``peaks`` (samples at ``fs``).

    float64 ``(n, 8)``; a single beat gets 1 s intervals, no beat an empty array. ``span`` (in
    samples): the record's mean RR per :func:`ecgzoo.examples.spans.record_spans` span.
    """
    n = len(peaks)
    out = np.zeros((n, len(RR_FEATURE_NAMES)), dtype=np.float64)
    if n == 0:
        return out
    t = np.asarray(peaks, dtype=np.float64) / fs
    d = np.diff(t)
    if len(d) == 0:  # a single beat: no interval at all
        d = np.array([1.0])
        prev = nxt = d.copy()
    else:
        prev = np.concatenate([d[:1], d])
        nxt = np.concatenate([d, d[-1:]])
    m = len(d)
    csum = np.concatenate([[0.0], np.cumsum(d)])
    i = np.arange(n)
    half = LOCAL_RR_INTERVALS // 2
    lo = np.clip(i - half, 0, m)
    hi = np.clip(i + half, 0, m)
    lo = np.minimum(lo, hi - 1).clip(0)
    hi = np.maximum(hi, lo + 1)
    local = (csum[hi] - csum[lo]) / (hi - lo)
    avg = span_mean_rr(d, record_spans(peaks, span))
    out[:, 0] = prev
    out[:, 1] = nxt
    out[:, 2] = local
    out[:, 3] = avg
    out[:, 4] = prev / avg
    out[:, 5] = nxt / avg
    out[:, 6] = prev / nxt
    out[:, 7] = local / avg
    return out


def _group_medians(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per ``group`` id (NaN where a group is empty), vectorised."""
    med = np.full(n_groups, np.nan)
    if len(values) == 0:
        return med
    order = np.lexsort((values, group))
    v, g = values[order], group[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    a = starts[has] + (counts[has] - 1) // 2
    b = starts[has] + counts[has] // 2
    med[has] = (v[a] + v[b]) / 2.0
    return med


def _kachuee(
    signal: np.ndarray, fs: float, peaks: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """``(x, kept_mask, truncated, dropped)``; ``dropped`` is ``[(index, reason), ...]``."""
    from scipy.signal import resample_poly  # here: importing this module stays cheap

    ratio = Fraction(KACHUEE_FS / fs).limit_denominator(1000)
    sig = resample_poly(signal, ratio.numerator, ratio.denominator)
    n = len(sig)
    win = int(round(KACHUEE_WINDOW_S * KACHUEE_FS))
    n_win = -(-n // win)
    padded = np.empty(n_win * win)
    padded[:n] = sig
    padded[n:] = sig[-1]  # the short last window: pad with its last value (no effect on min/max)
    view = padded.reshape(n_win, win)
    lo = view.min(axis=1, keepdims=True)
    span = view.max(axis=1, keepdims=True) - lo
    span[span == 0] = 1.0
    norm = ((view - lo) / span).reshape(-1)[:n]

    r = np.rint(peaks * float(ratio)).astype(np.int64).clip(0, n - 1)
    n_beats = len(r)
    wid = r // win
    rr = np.diff(r)
    same = wid[1:] == wid[:-1]
    med = _group_medians(rr[same].astype(np.float64), wid[1:][same], n_win)
    fallback = float(np.median(rr)) if len(rr) else KACHUEE_FS
    period = np.where(np.isnan(med), fallback, med)[wid]
    span_len = np.minimum(np.rint(KACHUEE_SPAN * period).astype(np.int64), KACHUEE_LENGTH)

    keep = np.ones(n_beats, dtype=bool)
    dropped: list[tuple[int, str]] = []
    if n_beats:
        keep[-1] = False
        dropped.append((n_beats - 1, "last_beat_of_record"))
    truncated = r + span_len > n  # runs past the record's end: cut there, zero-padded
    span_len = np.minimum(span_len, n - r)

    rk, lk = r[keep], span_len[keep]
    steps = np.arange(length)
    # cast once, then gather float32 (casting commutes with the gather: the same bytes as
    # gathering float64 and casting). Rows of a sliding window over the signal followed by
    # zeros: no (beats x length) index array; every sample past the record's end lies past
    # its beat's span (lk <= n - r), so it is zeroed below whatever it holds.
    flat = np.zeros(n + length, dtype=np.float32)
    flat[:n] = norm
    x = np.lib.stride_tricks.sliding_window_view(flat, length)[rk]
    x[steps[None, :] >= lk[:, None]] = 0.0
    return x, keep, truncated[keep], dropped


def _centered(
    signal: np.ndarray,
    fs_in: float,
    peaks: np.ndarray,
    before_s: float,
    after_s: float,
    fs: float,
    lowpass_hz: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    from scipy.signal import butter, resample_poly, sosfiltfilt

    if lowpass_hz is None:
        sos = butter(2, HIGHPASS_HZ, btype="highpass", fs=fs_in, output="sos")
    elif lowpass_hz >= fs_in / 2:
        raise DataError(
            f"lowpass_hz: {lowpass_hz:g} Hz is not below half the recording's rate ({fs_in:g} Hz)"
        )
    else:
        sos = butter(2, [HIGHPASS_HZ, lowpass_hz], btype="bandpass", fs=fs_in, output="sos")
    sig = sosfiltfilt(sos, signal)
    r = np.asarray(peaks, dtype=np.int64)
    if fs != fs_in:
        ratio = Fraction(fs / fs_in).limit_denominator(1000)
        sig = resample_poly(sig, ratio.numerator, ratio.denominator)
        r = np.rint(r * float(ratio)).astype(np.int64)
    n = len(sig)
    before = int(round(before_s * fs))
    after = int(round(after_s * fs))
    start, stop = r - before, r + after
    early, late = start < 0, stop > n
    dropped = [(int(i), "record_start") for i in np.flatnonzero(early)]
    dropped += [(int(i), "record_end") for i in np.flatnonzero(late & ~early)]
    keep = ~(early | late)
    idx = start[keep][:, None] + np.arange(before + after)[None, :]
    x = sig[idx].astype(np.float32)
    return x, keep, np.zeros(int(keep.sum()), dtype=bool), sorted(dropped)


def beat_settings(options: Any) -> dict[str, Any]:
    """The beat options that change the arrays (and nothing else): a cache key's core.

    ``options``: the beat task's options (``MitbihOptions`` / ``SvdbOptions``).
    """
    if options.segmentation == "kachuee":
        length = KACHUEE_LENGTH if options.pad_to is None else int(options.pad_to)
        if length < KACHUEE_LENGTH:
            raise ConfigError(f"pad_to: must be at least {KACHUEE_LENGTH} (got {length})")
        return {
            "segmentation": "kachuee",
            "length": length,
            "fs": KACHUEE_FS,
            "window_s": KACHUEE_WINDOW_S,
            "span": KACHUEE_SPAN,
        }
    settings = {
        "segmentation": "centered",
        "before_s": float(options.before_s),
        "after_s": float(options.after_s),
        "fs": float(options.fs),
        "baseline": f"butter2-highpass-{HIGHPASS_HZ}Hz-sosfiltfilt",
    }
    if getattr(options, "lowpass_hz", None) is not None:  # absent otherwise: cache keys stay
        settings["lowpass_hz"] = float(options.lowpass_hz)
    fiducial = getattr(options, "align_fiducial", "none")
    if fiducial != "none":  # only then: the cache keys of earlier entries stay as they were
        from ecgzoo.examples.fiducial import fiducial_description

        settings["fiducial"] = fiducial_description(fiducial)
    return settings


def segment(
    signal: np.ndarray, fs: float, peaks: np.ndarray, settings: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """``(x, kept_mask, truncated, dropped)`` for :func:`beat_settings` ``settings``."""
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1 or len(signal) == 0:
        raise DataError(f"segment: expected a non-empty 1-D signal, got shape {signal.shape}")
    if not np.all(np.isfinite(signal)):
        raise DataError("segment: the lead has invalid (NaN) samples")
    peaks = np.asarray(peaks, dtype=np.int64)
    if len(peaks) and (peaks.min() < 0 or peaks.max() >= len(signal)):
        raise DataError("segment: R peaks outside the signal")
    if settings["segmentation"] == "kachuee":
        return _kachuee(signal, fs, peaks, settings["length"])
    return _centered(
        signal, fs, peaks, settings["before_s"], settings["after_s"], settings["fs"],
        settings.get("lowpass_hz"),
    )  # fmt: skip


def segment_beats(
    signal: np.ndarray, fs: float, peaks: np.ndarray, options: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beats of a 1-D signal (mV at ``fs`` Hz) at R peaks ``peaks`` (ascending sample indices).

    ``options``: the beat task's config options (``segmentation``, ``pad_to``, ``before_s``,
    ``after_s``, ``fs``; for example a trained run's ``cfg.data.mitbih``). Returns ``(x, rr,
    kept_index)``: float32 ``(n_kept, n_samples)`` beats exactly as the training data were cut,
    float32 ``(n_kept, 8)`` RR features (computed over all peaks), and the int64 indices into
    ``peaks`` of the beats kept (edge beats are dropped, see the module docstring).
    """
    settings = beat_settings(options)
    x, keep, _, _ = segment(signal, float(fs), peaks, settings)
    rr = rr_features(np.asarray(peaks, dtype=np.int64), float(fs), RECORD_SPAN_S * float(fs))
    return x, rr[keep].astype(np.float32), np.flatnonzero(keep).astype(np.int64)


def beats_from_lead(
    signal: np.ndarray, fs: float, samples: np.ndarray, labels: np.ndarray, settings: dict
) -> dict[str, np.ndarray]:
    """One record's beat arrays (kept and dropped) from its lead and labelled R peaks.

    With a ``fiducial`` in ``settings`` the peaks are first moved to it (``examples.fiducial``);
    the ``sample`` arrays then hold the aligned positions.
    """
    if settings.get("fiducial"):
        from ecgzoo.examples.fiducial import align_peaks

        samples = align_peaks(signal, fs, samples, settings["fiducial"]["fiducial"])
    x, keep, truncated, dropped = segment(signal, fs, samples, settings)
    rr = rr_features(samples, fs, RECORD_SPAN_S * fs)  # one span for a 30-minute record
    drop_idx = np.array([i for i, _ in dropped], dtype=np.int64)
    return {
        "x": x,
        "y": labels[keep].astype(np.int64),
        "sample": samples[keep].astype(np.int64),
        "rr": rr[keep].astype(np.float32),
        "truncated": truncated.astype(bool),
        "dropped_sample": samples[drop_idx].astype(np.int64),
        "dropped_y": labels[drop_idx].astype(np.int64),
        "dropped_reason": np.array([reason for _, reason in dropped], dtype="U32"),
    }
