"""Annotate a recording's heartbeats with a beat model: detect, classify, write.

The lead is read in chunks (:meth:`SignalSource.chunks`, 30 minutes plus 10 s of context each
side), so a 24-hour Holter is never held whole; per chunk the QRS complexes are detected
(:func:`ecgzoo.examples.detect.detect_qrs`) and the beat windows cut exactly as in training
(the model's ``InputSpec.beats``). The side features (the old per-beat RR features or
the label-free ``rr_context``, as the model's ``model.json`` says) need every detected beat of
the record (record-average RR, +-60-beat irregularity), so the beats are classified once all
chunks are read. Beats too close to
the record's ends for a full window are kept as detections and labelled ``Q`` (unclassifiable).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.apply.af_gate import AfGate
from ecgzoo.apply.blend import ModelBlend, members_of
from ecgzoo.apply.chunks import ChunkBeats, ChunkTask, chunk_beats
from ecgzoo.apply.model import AppliedModel
from ecgzoo.apply.quality import Quality, Tracker
from ecgzoo.apply.signals import CHUNK_S, SignalSource
from ecgzoo.apply.threads import apply_threads, torch_threads
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.examples.beats import AAMI_CLASSES
from ecgzoo.examples.detect import (
    DEFAULT_METHOD,
    DETECT_LEADS,
    DETECT_LEADS_CHOICES,
    detect_qrs,
)
from ecgzoo.examples.signal_checks import check_rate
from ecgzoo.models.adapt import TORCH_ONLY, check_adaptation, record_probabilities
from ecgzoo.models.af_gate import check_gate_classes

UNCLASSIFIED = -1
UNUSABLE = -2  # in the summary only: a beat inside an unusable stretch


@dataclass
class Annotation:
    """The beats found in one record: ``samples`` at the record's ``fs``, ``labels`` (index into
    ``class_names``; -1 unclassified) and ``prob`` ``(n, n_classes)`` (NaN rows unclassified)."""

    record: str
    path: Path
    fs: float
    lead: str
    n_samples: int
    class_names: list[str]
    samples: np.ndarray
    labels: np.ndarray
    prob: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    quality: Quality | None = None  # None: not assessed (--no-quality)
    af_gate: dict[str, Any] | None = None  # None: no AF gate (--af-gate off)
    detected_on: tuple[str, ...] = ()  # the lead, and the lead that filled its gaps (if any)

    def usable(self) -> np.ndarray:
        """Whether each beat lies outside the unusable (noisy, flat) stretches."""
        if self.quality is None:
            return np.ones(len(self.samples), dtype=bool)
        return self.quality.beat_usable(self.samples)

    def symbols(self) -> list[str]:
        """One WFDB symbol per beat: the class name when it is an AAMI symbol, else ``Q``."""
        names = [c if c in AAMI_CLASSES else "Q" for c in self.class_names]
        return [names[i] if i >= 0 else "Q" for i in self.labels]

    def label_names(self) -> list[str]:
        return [self.class_names[i] if i >= 0 else "unclassified" for i in self.labels]


def check_compatible(model: AppliedModel, source: SignalSource) -> None:
    """Refuse data the model cannot be applied to, with one line naming the file."""
    if model.kind != "beat":
        raise ConfigError(f"{model.ref}: a recording-level model; use `ecgzoo predict`")
    if int(model.spec.n_leads) != (2 if model.input.median_channel else 1):
        raise ConfigError(
            f"{model.ref}: trained on {model.spec.n_leads} leads; annotate feeds one lead "
            f"of {source.path}"
        )
    check_rate(source.fs, f"{source.path} (QRS detection; model trained at {model.fs:g} Hz)")


#: Signals PhysioNet records carry beside ECG leads (upper case, matched as a name's start):
#: their pulses or breaths are no QRS, so they never fill a lead's detection gaps.
NOT_ECG = (
    "ABP", "ART", "BP", "NBP", "PAP", "CVP", "ICP", "PLETH", "PPG", "PULSE", "SPO2", "SAO2",
    "RESP", "CO2", "FLOW", "THOR", "ABDO", "EEG", "EOG", "EMG", "TEMP",
)  # fmt: skip


def fill_lead(lead_names: list[str], read: int) -> int | None:
    """The lead whose detection fills ``read``'s gaps: the first other lead that is not a
    :data:`NOT_ECG` signal (a blood-pressure or breathing channel), ``None`` when none is."""
    for i, name in enumerate(lead_names):
        if i != read and not name.strip().upper().startswith(NOT_ECG):
            return i
    return None


def annotate_source(
    source: SignalSource,
    model: AppliedModel | ModelBlend,
    lead: str | None = None,
    detector: str = DEFAULT_METHOD,
    chunk_s: float = CHUNK_S,
    adapt: str = "none",
    quality: bool = True,
    af_gate: AfGate | None = None,
    detect_leads: str = DETECT_LEADS,
) -> Annotation:
    """Detect and classify every beat of one lead of ``source``; ``detect_leads`` ``gaps`` (the
    default) fills that lead's detection gaps from another lead where the record has one and the
    lead's own vote has a candidate there (``gaps-unchecked``: every gap; ``one``: the lead
    alone); ``adapt`` (not ``none``)
    classifies with the model adapted to this record's own beats (inputs only, no label,
    :func:`ecgzoo.models.adapt.record_probabilities`); with ``quality``
    also mark the stretches too noisy to trust (:mod:`ecgzoo.apply.quality`); with ``af_gate``
    no beat in a stretch the rhythm model calls AF is S (:mod:`ecgzoo.models.af_gate`).
    A :class:`~ecgzoo.apply.blend.ModelBlend` averages its models on the same detected beats,
    each fed by its own InputSpec; the beats are reported at the first model's fiducial."""
    members = members_of(model)
    first = members[0]
    if isinstance(model, ModelBlend):
        model.check_adaptation(adapt)
    if check_adaptation(adapt) in TORCH_ONLY and first.engine != "torch":
        raise ConfigError(f"--adapt {adapt}: needs --engine torch (an ONNX graph is fixed)")
    if first.trees is not None and adapt not in ("none", "prior_em"):
        raise ConfigError(f"--adapt {adapt}: {first.ref} is a LightGBM model (none or prior_em)")
    if af_gate is not None:
        check_gate_classes(model.class_names, model.ref)
    for m in members:
        check_compatible(m, source)
    idx = source.lead_index(lead, first.input.leads)
    if first.input.segmentation == "kachuee":  # its 10 s windows run from the record's start
        chunk_s = source.duration_s + 1.0
    timings = {"read": 0.0, "detect": 0.0, "segment": 0.0, "classify": 0.0}
    parts: list[ChunkBeats] = []
    tracker = Tracker(source.fs)
    if detect_leads not in DETECT_LEADS_CHOICES:
        choices = ", ".join(DETECT_LEADS_CHOICES)
        raise ConfigError(f"--detect-leads: {detect_leads!r} is not one of {choices}")
    fill = fill_lead(source.lead_names, idx) if detect_leads != "one" else None
    specs = tuple(m.input for m in members)
    checked = detect_leads == "gaps"
    task = ChunkTask(source, idx, specs, detector, quality, detect_qrs, fill, checked)
    t = time.perf_counter()
    for part in chunk_beats(task, chunk_s, workers=apply_threads()):  # chunks on free cores
        for stage, seconds in part.timings.items():
            timings[stage] += seconds
        tracker.add_part(part.quality)
        parts.append(part)
    timings["chunks_wall"] = time.perf_counter() - t  # read + detect + segment, in parallel
    lead_name = source.lead_names[idx]
    if all(part.flat for part in parts):
        raise DataError(f"{source.path}: lead {lead_name} is flat (constant signal)")

    def joined(field: str, k: int) -> np.ndarray:
        return np.concatenate([getattr(part, field)[k] for part in parts])

    peaks = joined("peaks", 0) if parts else np.zeros(0, dtype=np.int64)
    if len(peaks) < 2:
        raise DataError(f"{source.path}: no beats detected in lead {lead_name}")
    t = time.perf_counter()
    kepts = [joined("kept", k) for k in range(len(members))]
    kept = np.logical_and.reduce(kepts)  # a blend classifies the beats every model can cut
    inputs = []
    for k, m in enumerate(members):  # median channel, side features or context rows: per record
        x_k, rr_k = m.input.record_inputs(joined("x", k), joined("peaks", k), kepts[k], source.fs)
        rows = kept[kepts[k]]
        inputs.append((x_k[rows], None if rr_k is None else rr_k[rows]))
    x, rr = inputs[0]

    def predict(adapted) -> np.ndarray:
        if adapted is not None:
            return replace(first, torch_model=adapted).proba(x, rr)
        probabilities = [m.proba(*inp) for m, inp in zip(members, inputs, strict=True)]
        return probabilities[0] if len(members) == 1 else ModelBlend.average(probabilities)

    prob = np.full((len(peaks), len(model.class_names)), np.nan, dtype=np.float32)
    gate_summary, closed = None, None
    if af_gate is not None:  # the same lead, read again a block of windows at a time
        t_gate = time.perf_counter()
        beat_af = af_gate.beat_probabilities(
            lambda a, b: source.read(idx, a, b), source.n_samples, source.fs, peaks
        )
        gate_summary = af_gate.summary(beat_af)
        timings["af_gate"] = time.perf_counter() - t_gate
        closed = partial(af_gate.close, class_names=model.class_names, beat_af=beat_af[kept])
    with torch_threads(apply_threads()):  # no 2-thread forward on a busy machine
        torch_model = first.torch_model if adapt in TORCH_ONLY else None
        prob[kept] = record_probabilities(
            adapt, predict, torch_model, first.spec, x, rr, closed=closed
        )
    timings["classify"] = time.perf_counter() - t - timings.get("af_gate", 0.0)
    labels = np.where(kept, np.nan_to_num(prob, nan=-1).argmax(axis=1), UNCLASSIFIED)
    return Annotation(
        record=source.name,
        path=source.path,
        fs=source.fs,
        lead=lead_name,
        n_samples=source.n_samples,
        class_names=model.class_names,
        samples=peaks.astype(np.int64),
        labels=labels.astype(np.int64),
        prob=prob,
        timings=timings,
        quality=tracker.result(source.n_samples),
        af_gate=gate_summary,
        detected_on=(lead_name,) if fill is None else (lead_name, source.lead_names[fill]),
    )


def summarise(ann: Annotation, trend_s: float = 60.0) -> dict[str, Any]:
    """Beat counts per class, ectopic burden, longest run of each class, heart-rate trend."""
    names = ann.label_names()
    usable = ann.usable()  # beats in unusable (noisy, flat) stretches are counted apart
    labels = np.where(usable, ann.labels, UNUSABLE)
    counts = {c: int(np.sum(labels == i)) for i, c in enumerate(ann.class_names)}
    counts["unclassified"] = int(np.sum(labels == UNCLASSIFIED))
    counts["unusable"] = int(np.sum(labels == UNUSABLE))
    classified = max(int(usable.sum()) - counts["unclassified"], 1)
    ectopic = [c for c in ann.class_names if c in ("S", "V", "F")]
    burden = {c: 100.0 * counts[c] / classified for c in ectopic}
    runs: dict[str, dict[str, Any]] = {}
    edges = np.flatnonzero(np.diff(labels)) + 1 if len(labels) else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], edges]).astype(np.int64)
    lengths = np.diff(np.concatenate([starts, [len(labels)]]))
    for i, c in enumerate(ann.class_names):
        mine = labels[starts] == i if len(labels) else np.zeros(0, dtype=bool)
        if not np.any(mine):
            runs[c] = {"beats": 0, "start_s": None}
            continue
        best = int(np.argmax(np.where(mine, lengths, -1)))
        runs[c] = {
            "beats": int(lengths[best]),
            "start_s": float(ann.samples[starts[best]] / ann.fs),
        }
    t = ann.samples / ann.fs
    rr = np.diff(t)
    ok = (rr > 0.2) & (rr < 3.0) & usable[1:] & usable[:-1]
    bins = (t[1:][ok] // trend_s).astype(np.int64)
    hr = 60.0 / rr[ok]
    trend = []
    if len(bins):  # bins ascend with time: one split, not one scan of every beat per minute
        keys, first = np.unique(bins, return_index=True)
        for b, part in zip(keys, np.split(hr, first[1:]), strict=True):
            trend.append({"t_s": float(b * trend_s), "hr_bpm": float(np.median(part))})
    return {
        "record": ann.record,
        "path": str(ann.path),
        "lead": ann.lead,
        "fs": ann.fs,
        "duration_s": ann.n_samples / ann.fs,
        "n_beats": len(names),
        "n_beats_usable": int(usable.sum()),
        "counts": counts,
        "ectopic_burden_percent": burden,
        "ectopic_burden_total_percent": float(sum(burden.values())),
        "longest_runs": runs,
        "mean_hr_bpm": float(np.median(hr)) if len(hr) else None,
        "hr_trend": trend,
        "quality": None if ann.quality is None else ann.quality.summary(),
        "af_gate": ann.af_gate,
        "detected_on": list(ann.detected_on),
        "timings_s": ann.timings,
    }
