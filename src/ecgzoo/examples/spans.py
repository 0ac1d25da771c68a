"""Record spans: a long recording's record-level statistics taken over training-record lengths.

The record-level inputs of the beat models (the record's mean RR of the RR context and of the
per-beat RR features, the median beat, the amplitude scale of the context table) were learnt
from 30-minute records (MIT-BIH, SVDB). A 24-hour Holter is taken as spans of about that
length, each its own "record": over a day one patient's heart rate and beat shape drift, and a
whole-day median beat or mean RR is not what the model saw in training. A recording up to 1.5
spans long is one span, so every training record is one and training is unchanged
(``tests/test_record_spans.py`` checks this on the mirror's records).
"""

from __future__ import annotations

import numpy as np

from ecgzoo.errors import ConfigError

#: The length of the training records (MIT-BIH 30:06, SVDB 30:00): record-level statistics of a
#: longer recording are taken over spans of about this length (:func:`record_spans`).
RECORD_SPAN_S = 1800.0


def record_spans(peaks: np.ndarray, span: float | None) -> np.ndarray:
    """Span index of each beat at R ``peaks`` (ascending samples): the stretch from the first to
    the last peak cut into ``max(1, round(extent / span))`` equal spans, ``span`` in the peaks'
    units (``RECORD_SPAN_S * fs``). ``None``: one span (the whole record)."""
    peaks = np.asarray(peaks, dtype=np.float64)
    n = len(peaks)
    if n == 0 or span is None:
        return np.zeros(n, dtype=np.int64)
    if not (np.isfinite(span) and span > 0):
        raise ConfigError(f"record span: expected a positive length, got {span!r}")
    extent = float(peaks[-1] - peaks[0])
    n_spans = max(1, int(round(extent / float(span))))
    if n_spans == 1:
        return np.zeros(n, dtype=np.int64)
    at = np.floor((peaks - peaks[0]) / extent * n_spans).astype(np.int64)
    return np.minimum(at, n_spans - 1)


def span_slices(spans: np.ndarray) -> list[slice]:
    """The contiguous runs of :func:`record_spans`' indices (ascending) as slices."""
    spans = np.asarray(spans)
    if len(spans) == 0:
        return []
    edges = np.flatnonzero(np.diff(spans)) + 1
    bounds = np.concatenate([[0], edges, [len(spans)]])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def span_mean_rr(d: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Per beat, the mean of the intervals ``d`` that end in its span (interval ``j`` ends at
    beat ``j + 1``). One span: ``mean(d)`` exactly, as before spans existed."""
    n = len(spans)
    if n <= 1 or spans[-1] == 0:
        return np.full(n, float(np.mean(d)))
    ends = spans[1:]  # interval j's span: that of beat j + 1
    out = np.empty(n)
    for part in span_slices(spans):
        mine = d[ends == spans[part.start]]
        out[part] = float(np.mean(mine)) if len(mine) else float(np.mean(d))
    return out
