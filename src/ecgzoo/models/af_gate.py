"""The AF gate (issue 19): no supraventricular ectopic beat inside atrial fibrillation.

By the AAMI convention a beat in atrial fibrillation is N, never S: there is no sinus rhythm
for it to be early against. A beat model sees an irregularly irregular rhythm as a run of early
narrow beats and calls many of them S (MIT-BIH 219). The gate asks a *rhythm* model instead:
the record's lead is cut into :data:`WINDOW_S` windows from its start, the rhythm model
(:data:`RHYTHM_MODEL`, trained on CinC 2017 recordings only) gives each window its probability
of AF, and in every window at or above :data:`THRESHOLD` each beat's S probability is moved to N.
V, F and Q probabilities are left as they are (a V call resting on a split between S and N can
become N). Only the signal is read, never a label.

The threshold was chosen on MIT-BIH DS1 and SVDB (training records), never on DS2:
the lowest of 0.5, 0.6, ..., 0.98 at which at most 2 % of the S beats of each lie in closed
windows (``docs/notes/beats5.md``, ``benchmarks/af_gate_threshold.py``).

This module holds the array arithmetic; :mod:`ecgzoo.apply.af_gate` runs the rhythm model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecgzoo.errors import ConfigError

RHYTHM_MODEL = "pretrained:cinc2017"
AF_CLASS = "A"
WINDOW_S = 30.0  # the rhythm model's training crop
THRESHOLD = 0.95
MIN_LAST_S = 10.0  # a shorter last window joins the one before it


def window_edges(n_samples: int, fs: float) -> np.ndarray:
    """Edges ``(k + 1,)`` of the record's windows: :data:`WINDOW_S` each from sample 0, the
    last one up to the end (joined to the one before when shorter than :data:`MIN_LAST_S`)."""
    n_samples = int(n_samples)
    step = max(int(round(WINDOW_S * float(fs))), 1)
    starts = np.arange(0, max(n_samples, 1), step, dtype=np.int64)
    if len(starts) > 1 and n_samples - starts[-1] < MIN_LAST_S * float(fs):
        starts = starts[:-1]
    return np.append(starts, n_samples).astype(np.int64)


def beat_window_probability(
    peaks: np.ndarray, edges: np.ndarray, window_p: np.ndarray
) -> np.ndarray:
    """Each beat's AF probability: that of the window its R peak lies in."""
    window_p = np.asarray(window_p, dtype=np.float64)
    if len(window_p) == 0:
        return np.zeros(len(peaks))
    k = np.searchsorted(np.asarray(edges), np.asarray(peaks), side="right") - 1
    return window_p[np.clip(k, 0, len(window_p) - 1)]


def check_gate_classes(class_names: Sequence[str], where: str) -> tuple[int, int]:
    """Indices of N and S in ``class_names``; a model without both cannot be gated."""
    names = list(class_names)
    if "N" not in names or "S" not in names:
        raise ConfigError(f"--af-gate: {where} has no N and S classes ({', '.join(names)})")
    return names.index("N"), names.index("S")


def close_supraventricular(
    prob: np.ndarray,
    class_names: Sequence[str],
    beat_af: np.ndarray,
    threshold: float = THRESHOLD,
    where: str = "the model",
) -> np.ndarray:
    """``prob`` with each S probability moved to N where ``beat_af >= threshold`` (a copy;
    rows of NaN, beats that were not classified, stay NaN)."""
    n_idx, s_idx = check_gate_classes(class_names, where)
    beat_af = np.asarray(beat_af)
    if beat_af.shape != (len(prob),):
        raise ValueError(f"beat_af: {beat_af.shape} for {len(prob)} beats")
    out = np.array(prob, copy=True)
    closed = (beat_af >= threshold) & np.isfinite(out).all(axis=1)
    out[closed, n_idx] += out[closed, s_idx]
    out[closed, s_idx] = 0.0
    return out
