"""Label-free beat context: normalised RR rhythm features, the record's median beat, amplitude.

What a beat means depends on its patient: an S beat is premature *relative to the local
rhythm*, a V beat looks unlike *this patient's* normal beat. Everything here is computed from
the R-peak positions and the signal alone, never from a label, so it can be applied to a
new recording whose peaks were detected.

R peaks: every beat annotation of the record (the ``BEAT_SYMBOLS`` of the WFDB reader, AAMI
class or not), so which beats exist is taken as given (as a QRS detector would give it), while
their classes are not used.

RR context (:data:`RR_CONTEXT_NAMES`, all from peak times ``t`` in seconds; interval ``j`` is
``t[j+1] - t[j]``; beat ``i``'s pre-RR is interval ``i-1``, its post-RR interval ``i``; the
first beat's pre-RR is its post-RR and the last beat's post-RR its pre-RR):

* ``rr_pre_s``, ``rr_post_s``: pre- and post-RR in seconds (one beat each side).
* ``rr_local_s``: mean of the ``2 * LOCAL_HALF`` intervals ``i-LOCAL_HALF .. i+LOCAL_HALF-1``
  (beats ``i-5 .. i+5``: five past and five *future* beats), clipped at the record's edges.
* ``rr_record_s``: mean of all the record's intervals (the whole record, future included;
  for a recording longer than the training records, of its span: ``spans.record_spans``).
* ``pre_over_local``, ``post_over_local``, ``post_over_pre``, ``pre_over_record``,
  ``local_over_record``: ratios of the above.
* ``pre_over_past``: pre-RR over the median of the ``PAST_N`` intervals before it
  (beats ``i-PAST_N-1 .. i-1``: past only).
* ``irregularity``: mean absolute difference of successive intervals over the intervals of
  beats ``i-IRREG_HALF .. i+IRREG_HALF`` (ten past, ten future beats) divided by their mean RR:
  high in atrial fibrillation/flutter, low in sinus rhythm with isolated ectopic beats.
* ``irregularity_wide``: the same over beats ``i-WIDE_HALF .. i+WIDE_HALF`` (60 each side):
  the rhythm context of the surrounding minute or so, the AF-aware feature.
* ``pre_over_slow``, ``local_over_slow``: pre-RR and local RR over the mean pre-RR of the
  slower half of the record's (span's) beats (:func:`slower_half`).

The absolute ones (``rr_*_s``) are kept for the baseline rows only: absolute RR and the
record's mean RR act as a patient identifier and hurt inter-patient results (issue 12).

Morphology (:func:`morphology_features`): beats cut by ``examples.beats`` ``centered``
segmentation (0.5 Hz high-pass, resampled to :data:`CONTEXT_FS`), optionally divided by the
record's amplitude scale (median peak-to-peak of all its beats: patient-wise normalisation),
then down-sampled samples of the beat and of *beat minus the record's median beat* (the median
over all the record's beats, computed without labels), plus their correlation and RMS
differences.

A recording longer than the training records is taken as spans of their length, each with
its own record-level statistics (:mod:`ecgzoo.examples.spans`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecgzoo.errors import ConfigError
from ecgzoo.examples.spans import record_spans, span_mean_rr, span_slices

CONTEXT_FS = 128.0
BEFORE_S = 0.25
AFTER_S = 0.45
LOCAL_HALF = 5
PAST_N = 10
IRREG_HALF = 10
WIDE_HALF = 60
MORPH_STEP = 3  # keep every 3rd sample (~23 ms at 128 Hz) of a beat / difference as features

RR_CONTEXT_NAMES: list[str] = [
    "rr_pre_s",
    "rr_post_s",
    "rr_local_s",
    "rr_record_s",
    "pre_over_local",
    "post_over_local",
    "post_over_pre",
    "pre_over_record",
    "local_over_record",
    "pre_over_past",
    "irregularity",
    "irregularity_wide",
    "pre_over_slow",
    "local_over_slow",
]
ABSOLUTE_RR = ("rr_pre_s", "rr_post_s", "rr_local_s", "rr_record_s")
NORMALISED_RR = (
    "pre_over_local",
    "post_over_local",
    "post_over_pre",
    "pre_over_record",
    "local_over_record",
    "pre_over_past",
)
IRREGULARITY = ("irregularity", "irregularity_wide")
#: RR over the mean pre-RR of the span's slower half (:func:`slower_half`): fast against the
#: patient's slower rhythm, even inside a run of tachycardia that holds most of the record.
SLOW_RR = ("pre_over_slow", "local_over_slow")

#: Feature groups a tree model (or any model's side input) can switch on and off.
FEATURE_GROUPS = ("rr_absolute", "rr_normalised", "irregularity", "morphology", "median_beat")
#: The window of beats (before, after) each RR context feature reads; ``None``: whole record.
RR_WINDOWS: dict[str, tuple[int, int] | None] = {
    "rr_pre_s": (1, 0),
    "rr_post_s": (0, 1),
    "rr_local_s": (LOCAL_HALF, LOCAL_HALF),
    "rr_record_s": None,
    "pre_over_local": (LOCAL_HALF, LOCAL_HALF),
    "post_over_local": (LOCAL_HALF, LOCAL_HALF),
    "post_over_pre": (1, 1),
    "pre_over_record": None,
    "local_over_record": None,
    "pre_over_past": (PAST_N + 1, 0),
    "irregularity": (IRREG_HALF, IRREG_HALF),
    "irregularity_wide": (WIDE_HALF, WIDE_HALF),
    "pre_over_slow": None,
    "local_over_slow": None,
}


def _window_mean(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of ``values[lo:hi]`` per row (``lo < hi`` after clipping), via a cumulative sum."""
    csum = np.concatenate([[0.0], np.cumsum(values)])
    m = len(values)
    lo = np.clip(lo, 0, m)
    hi = np.clip(hi, 0, m)
    lo = np.minimum(lo, np.maximum(hi - 1, 0))
    hi = np.maximum(hi, np.minimum(lo + 1, m))
    return (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)


def _irregularity(d: np.ndarray, half: int) -> np.ndarray:
    """Mean |successive interval difference| / mean interval over beats ``i-half .. i+half``."""
    n = len(d) + 1
    i = np.arange(n)
    if len(d) < 2:
        return np.zeros(n)
    dd = np.abs(np.diff(d))  # dd[j] = |d[j+1] - d[j]|: spans beats j .. j+2
    num = _window_mean(dd, i - half, i + half - 1)  # differences inside beats i-half .. i+half
    den = _window_mean(d, i - half, i + half)
    return num / den


def _past_median(d: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """Per beat ``k`` the median of intervals ``d[k-1-PAST_N : k-1]`` (what exists of them at
    the record's start; ``pre[k]`` where none): a sliding-window median for the full windows,
    a short loop over the first ``PAST_N + 1`` beats (a per-beat loop took 1.1 s a day)."""
    n = len(pre)
    past = np.empty(n)
    head = min(n, PAST_N + 1)
    for k in range(head):
        window = d[max(0, k - 1 - PAST_N) : max(0, k - 1)]
        past[k] = np.median(window) if len(window) else pre[k]
    if n > head:  # beat k >= PAST_N + 1 reads d[k-1-PAST_N : k-1], PAST_N intervals
        windows = np.lib.stride_tricks.sliding_window_view(d, PAST_N)
        past[head:] = np.median(windows[: n - head], axis=1)
    return past


def slower_half(local: np.ndarray) -> np.ndarray:
    """Boolean mask of the half of the beats (rounded up) with the longest local RR ``local``;
    ties by position."""
    order = np.argsort(-np.asarray(local), kind="stable")
    mask = np.zeros(len(order), dtype=bool)
    mask[order[: (len(order) + 1) // 2]] = True
    return mask


def rr_context(peaks: np.ndarray, fs: float, span: float | None = None) -> np.ndarray:
    """The :data:`RR_CONTEXT_NAMES` features of beats at ``peaks`` (ascending samples at ``fs``).

    float64 ``(n, 14)``. Uses peak positions only (see the module docstring for each window).
    A record with fewer than two beats gets 1 s intervals. ``span`` (in the peaks' units): the
    record's mean RR is taken per ``spans.record_spans`` span; ``None``: the whole record.
    """
    t = np.asarray(peaks, dtype=np.float64) / float(fs)
    n = len(t)
    out = np.zeros((n, len(RR_CONTEXT_NAMES)))
    if n == 0:
        return out
    d = np.diff(t) if n > 1 else np.array([1.0])
    d = np.maximum(d, 1e-3)  # two annotations on one sample must not divide by zero
    if n > 1:
        pre = np.concatenate([d[:1], d])
        post = np.concatenate([d, d[-1:]])
    else:
        pre = post = d.copy()
    i = np.arange(n)
    local = _window_mean(d, i - LOCAL_HALF, i + LOCAL_HALF)
    record = span_mean_rr(d, record_spans(peaks, span))
    # past: intervals i-1-PAST_N .. i-2 (those before the pre-RR); the first beats use what exists
    past = _past_median(d, pre)
    spans = record_spans(peaks, span)
    slow = np.empty(n)
    for part in span_slices(spans):
        slow[part] = pre[part][slower_half(local[part])].mean()
    cols = {
        "rr_pre_s": pre,
        "rr_post_s": post,
        "rr_local_s": local,
        "rr_record_s": record,
        "pre_over_local": pre / local,
        "post_over_local": post / local,
        "post_over_pre": post / pre,
        "pre_over_record": pre / record,
        "local_over_record": local / record,
        "pre_over_past": pre / past,
        "irregularity": _irregularity(d, IRREG_HALF) if n > 1 else np.zeros(n),
        "irregularity_wide": _irregularity(d, WIDE_HALF) if n > 1 else np.zeros(n),
        "pre_over_slow": pre / slow,
        "local_over_slow": local / slow,
    }
    for j, name in enumerate(RR_CONTEXT_NAMES):
        out[:, j] = cols[name]
    return out


def context_segmentation() -> dict[str, Any]:
    """``examples.beats`` settings of the beats the morphology features are cut from."""
    return {
        "segmentation": "centered",
        "before_s": BEFORE_S,
        "after_s": AFTER_S,
        "fs": CONTEXT_FS,
        "baseline": "butter2-highpass-0.5Hz-sosfiltfilt",
    }


def amplitude_scale(beats: np.ndarray) -> float:
    """The record's amplitude: median peak-to-peak of all its beats (1.0 if flat)."""
    if len(beats) == 0:
        return 1.0
    scale = float(np.median(np.ptp(beats, axis=1)))
    return scale if scale > 1e-6 else 1.0


def morphology_names(n_samples: int, groups: tuple[str, ...]) -> list[str]:
    """Names of the :func:`morphology_features` columns for beats of ``n_samples``."""
    idx = range(0, n_samples, MORPH_STEP)
    names: list[str] = []
    if "morphology" in groups:
        names += [f"beat_{k}" for k in idx] + ["beat_ptp", "beat_max", "beat_min", "qrs_width"]
    if "median_beat" in groups:
        names += [f"diff_{k}" for k in idx]
        names += ["corr_median", "rms_diff", "rms_diff_qrs", "ptp_over_median"]
    return names


def morphology_features(
    beats: np.ndarray, normalise: bool, groups: tuple[str, ...], r_index: int
) -> np.ndarray:
    """Morphology features of one record's beats ``(n, n_samples)`` (all its beats, label-free).

    ``normalise``: divide by :func:`amplitude_scale` (patient-wise amplitude normalisation).
    ``r_index``: the R peak's sample in a beat. Columns: :func:`morphology_names`.
    """
    x = np.asarray(beats, dtype=np.float64)
    if normalise:
        x = x / amplitude_scale(x)
    cols: list[np.ndarray] = []
    if len(x) == 0:
        return np.zeros((0, len(morphology_names(x.shape[1], groups))), dtype=np.float32)
    ptp = np.ptp(x, axis=1)
    if "morphology" in groups:
        slope = np.abs(np.diff(x, axis=1))
        width = (slope > 0.5 * slope.max(axis=1, keepdims=True)).sum(axis=1)
        cols += [x[:, ::MORPH_STEP], ptp[:, None], x.max(1)[:, None], x.min(1)[:, None]]
        cols.append(width[:, None].astype(np.float64))
    if "median_beat" in groups:
        median = np.median(x, axis=0)
        diff = x - median
        xc = x - x.mean(axis=1, keepdims=True)
        mc = median - median.mean()
        denom = np.linalg.norm(xc, axis=1) * np.linalg.norm(mc) + 1e-9
        corr = xc @ mc / denom
        q = slice(max(0, r_index - int(0.08 * CONTEXT_FS)), r_index + int(0.08 * CONTEXT_FS))
        cols += [
            diff[:, ::MORPH_STEP],
            corr[:, None],
            np.sqrt((diff**2).mean(axis=1))[:, None],
            np.sqrt((diff[:, q] ** 2).mean(axis=1))[:, None],
            (ptp / max(float(np.ptp(median)), 1e-6))[:, None],
        ]
    return np.concatenate(cols, axis=1).astype(np.float32)


def check_groups(groups: list[str] | tuple[str, ...], option: str) -> tuple[str, ...]:
    """The feature groups, checked against :data:`FEATURE_GROUPS` (``ConfigError`` otherwise)."""
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown:
        raise ConfigError(
            f"{option}: unknown feature group(s) {', '.join(unknown)} "
            f"(choose from {', '.join(FEATURE_GROUPS)})"
        )
    if not groups:
        raise ConfigError(f"{option}: at least one feature group is needed")
    return tuple(groups)


def rr_columns(groups: tuple[str, ...]) -> list[int]:
    """Indices into :data:`RR_CONTEXT_NAMES` of the RR groups switched on."""
    wanted: list[str] = []
    if "rr_absolute" in groups:
        wanted += ABSOLUTE_RR
    if "rr_normalised" in groups:
        wanted += NORMALISED_RR
    if "irregularity" in groups:
        wanted += IRREGULARITY
    return [RR_CONTEXT_NAMES.index(n) for n in wanted]


#: Which beats a record's median beat is taken over (``median_of``): ``all`` of them, those
#: ``not_early`` (pre-RR at least the mean of the surrounding intervals, ``pre_over_local >= 1``):
#: the patient's sinus beat even in bigeminy, or where ectopic beats are the majority; or the
#: ``slow`` half (the half of each span's beats with the longest local RR, ``rr_local_s``): the
#: patient's slower rhythm, the sinus beat even where a run of tachycardia holds most of a record.
MEDIAN_OF = ("all", "not_early", "slow")
#: Fewer not-early beats than this and the median is taken over all beats (a short recording).
MIN_REFERENCE_BEATS = 8


def reference_beats(
    peaks: np.ndarray, median_of: str, span: float | None = None
) -> np.ndarray | None:
    """Boolean mask over the beats at R ``peaks`` (ascending samples, any rate) that the
    record's median beat is taken over, or ``None`` for all of them (``median_of`` ``all``, or
    fewer than :data:`MIN_REFERENCE_BEATS` such beats). Peak positions only, no label.
    ``span`` (in the peaks' units, :func:`ecgzoo.examples.spans.record_spans`): ``slow`` is
    the slower half of each span's beats, as each span has its own median beat."""
    if median_of not in MEDIAN_OF:
        raise ConfigError(f"median_of: {median_of!r} is not one of {', '.join(MEDIAN_OF)}")
    if median_of == "all":
        return None
    peaks = np.asarray(peaks, dtype=np.int64)
    ctx = rr_context(peaks, 1.0)
    if median_of == "not_early":
        mask = ctx[:, RR_CONTEXT_NAMES.index("pre_over_local")] >= 1.0
    else:
        local = ctx[:, RR_CONTEXT_NAMES.index("rr_local_s")]
        mask = np.zeros(len(peaks), dtype=bool)
        for part in span_slices(record_spans(peaks, span)):
            mask[part] = slower_half(local[part])
    return mask if int(mask.sum()) >= MIN_REFERENCE_BEATS else None


def with_median_channel(
    x: np.ndarray,
    reference: np.ndarray | None = None,
    spans: np.ndarray | None = None,
    scale: bool = False,
) -> np.ndarray:
    """One record's beats ``(n, n_samples)`` as ``(n, 2, n_samples)``: the beat, and the beat
    minus the record's median beat (the sample-wise median over the record's beats, or over the
    ``reference`` ones of :func:`reference_beats`, computed without labels), which shows how each
    beat differs from this patient's usual one. ``spans`` (``record_spans`` of the beats'
    peaks): one median per span of a long recording; ``None``: one for the record. ``scale``:
    the beats are first divided by the record's (span's) :func:`amplitude_scale`."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        return np.zeros((0, 2, x.shape[-1]), dtype=np.float32)
    if spans is not None and len(spans) and spans[-1] != spans[0]:
        out = np.empty((len(x), 2, x.shape[-1]), dtype=np.float32)
        for part in span_slices(spans):
            ref = None if reference is None else np.asarray(reference, bool)[part]
            out[part] = with_median_channel(x[part], ref, scale=scale)
        return out
    if scale:
        x = (x / np.float32(amplitude_scale(x))).astype(np.float32)
    over = x if reference is None or not np.any(reference) else x[np.asarray(reference, bool)]
    median = np.median(over, axis=0, keepdims=True)
    return np.stack([x, x - median], axis=1).astype(np.float32)
