"""Side inputs of beat models, from R-peak positions and beats alone (no labels).

The label-free RR context sets a torch beat model can take (:data:`CONTEXT_SETS`), and the
feature rows of a tree model's context table (:func:`record_features`, :func:`context_rows`).
The beat datasets (``data.contextset``) and ``InputSpec.prepare`` both call these functions, so
training and use compute the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecgzoo.errors import ConfigError
from ecgzoo.examples import beat_context as bc
from ecgzoo.examples.beats import rr_features
from ecgzoo.examples.spans import record_spans, span_slices


def record_features(
    x: np.ndarray, rr: np.ndarray, groups: tuple[str, ...], normalise: bool, r_index: int
) -> np.ndarray:
    """One record's feature rows: its RR context columns ``rr`` then the morphology of its
    beats ``x`` (all of them: the median beat is label-free)."""
    parts = [rr]
    if {"morphology", "median_beat"} & set(groups):
        parts.append(bc.morphology_features(x, normalise, groups, r_index))
    return np.concatenate(parts, axis=1)


def context_rows(
    x: np.ndarray, peaks: np.ndarray, fs: float, kept: np.ndarray, spec: Any
) -> np.ndarray:
    """Feature rows of a tree model (``InputSpec`` kind ``beat_features``) for the kept beats
    ``x`` of one record with R ``peaks`` at ``fs``: as :func:`record_table` then
    :func:`feature_matrix` compute them in training (all rows, labelled or not)."""
    groups = bc.check_groups(tuple(spec.feature_groups), "input.feature_groups")
    peaks = np.asarray(peaks, dtype=np.int64)
    span = spec.record_span_s * float(fs)
    rr = bc.rr_context(peaks, float(fs), span)[kept].astype(np.float32)
    rr = rr[:, bc.rr_columns(groups)]
    r_index = int(round(bc.BEFORE_S * bc.CONTEXT_FS))
    x = np.asarray(x)
    spans = record_spans(peaks, span)[kept]  # each span of a long recording is a "record"
    parts = [
        record_features(x[part], rr[part], groups, spec.amplitude_normalise, r_index)
        for part in span_slices(spans)
    ]
    if not parts:
        return record_features(x, rr, groups, spec.amplitude_normalise, r_index)
    return np.concatenate(parts).astype(np.float32)


#: Side features of :func:`side_features`: the normalised RR ratios and the irregularities.
SIDE_FEATURE_NAMES: list[str] = list(bc.NORMALISED_RR) + list(bc.IRREGULARITY)
#: The label-free context sets a torch beat model can take (``ModelSpec.side_features``):
#: ``rr_context`` (the default) and ``rr_ratios`` (without the irregularities, an ablation).
#: ``rr_log_ratios`` (issue 19): the natural log of the six ratios, so that a beat 20 %
#: early and one 20 % late sit symmetrically around 0 (log ratios beat raw ones inter-patient).
#: ``rr_log_irregularity`` (issue 19): those six plus the log of the two irregularities (mean
#: |successive RR difference| / mean RR over +-10 and +-60 beats of the record's own peaks), so
#: that a beat early in atrial fibrillation is told from one early in a regular rhythm.
#: ``rr_log_slow``: the six plus the log of pre-RR and local RR over the mean RR of the
#: record's slower half (``beat_context.SLOW_RR``): a run of tachycardia is fast against it.
CONTEXT_SETS: dict[str, list[str]] = {
    "rr_context": SIDE_FEATURE_NAMES,
    "rr_ratios": list(bc.NORMALISED_RR),
    "rr_log_ratios": [f"log_{n}" for n in bc.NORMALISED_RR],
    "rr_log_irregularity": [f"log_{n}" for n in (*bc.NORMALISED_RR, *bc.IRREGULARITY)],
    "rr_log_slow": [f"log_{n}" for n in (*bc.NORMALISED_RR, *bc.SLOW_RR)],
}
#: Sets whose columns are the log of :data:`bc.RR_CONTEXT_NAMES` columns (clipped at 1e-3:
#: a perfectly regular stretch has irregularity 0).
LOG_SETS: dict[str, tuple[str, ...]] = {
    "rr_log_ratios": tuple(bc.NORMALISED_RR),
    "rr_log_irregularity": (*bc.NORMALISED_RR, *bc.IRREGULARITY),
    "rr_log_slow": (*bc.NORMALISED_RR, *bc.SLOW_RR),
}


def side_features_at(
    peaks: np.ndarray, fs: float, feature_set: str = "rr_context", span: float | None = None
) -> np.ndarray:
    """The ``feature_set`` columns (:data:`CONTEXT_SETS`) of beats at R ``peaks`` (ascending
    samples at ``fs``); ``span``: :func:`ecgzoo.examples.spans.record_spans`.

    float32 ``(n, 8)`` (``rr_context``, ``rr_log_irregularity``, ``rr_log_slow``) or
    ``(n, 6)`` (``rr_ratios``, ``rr_log_ratios``), from
    peak positions alone: what ``annotate`` feeds such a model from detected peaks, and what
    :func:`side_features` computes from a record's annotated beats in training.
    """
    if feature_set in LOG_SETS:
        cols = [bc.RR_CONTEXT_NAMES.index(n) for n in LOG_SETS[feature_set]]
        ctx = bc.rr_context(np.asarray(peaks, dtype=np.int64), float(fs), span)[:, cols]
        return np.log(np.clip(ctx, 1e-3, None)).astype(np.float32)
    cols = [bc.RR_CONTEXT_NAMES.index(n) for n in CONTEXT_SETS[feature_set]]
    ctx = bc.rr_context(np.asarray(peaks, dtype=np.int64), float(fs), span)
    return ctx[:, cols].astype(np.float32)


def features_of_set(
    feature_set: str, peaks: np.ndarray, fs: float, span: float | None = None
) -> np.ndarray:
    """Raw side features of a beat model's ``feature_set`` (``ModelSpec.side_features``) for
    beats at R ``peaks`` (samples at ``fs``): ``rr_features`` (the per-beat RR of
    ``examples.beats``) or a context set (:func:`side_features_at`, record statistics per
    ``span``)."""
    if feature_set in CONTEXT_SETS:
        return side_features_at(peaks, fs, feature_set, span)
    if feature_set == "rr_features":
        return rr_features(np.asarray(peaks, dtype=np.int64), float(fs), span).astype(np.float32)
    raise ConfigError(
        f"side features {feature_set!r}: not rr_features or one of {', '.join(CONTEXT_SETS)}"
    )
