"""What a model eats: one description, used by training and by every use of the model.

An :class:`InputSpec` says how a recording becomes model-ready arrays: the kind of example
(``beats`` cut around R peaks, a fixed-length ``window`` of one lead, a ``multilabel`` window of
named leads, or ``beat_features``: the context table of a tree model), the signal rate and
length, the fill, the lead preference, the transform, the side-feature set and its
standardisation, the crop used for voting, and the fiducial convention of the beat cut.

It is written into ``model.json`` (key ``input``) when a model is trained, and
:meth:`InputSpec.prepare` is the only way ``apply``, ``explain``, ``export`` and
``evaluate --data`` turn a signal into inputs. It calls the very functions the datasets'
preparation calls (``examples.beats.segment``, ``examples.windows.prepare_windows``,
``examples.multilabel.window_of``, ``contextset.side_features_at``, ``contextset.record_features``),
so a training example and the same beat or recording through the apply path are the same
arrays (``tests/test_input_spec.py`` checks it for every shipped model).

Fiducial convention (``fiducial``): beats are cut around ``r_peak``, the sample the reference
annotation marks in training (MIT-BIH/SVDB ``.atr``) and the sample the QRS detector returns in
use. Another convention (an aligned or shifted cut) is a new value of ``fiducial``, handled in
:meth:`InputSpec.beats` and so in training and use alike.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.examples.beat_context import (
    MEDIAN_OF,
    context_segmentation,
    reference_beats,
    with_median_channel,
)
from ecgzoo.examples.beats import (
    HIGHPASS_HZ,
    KACHUEE_FS,
    KACHUEE_SPAN,
    KACHUEE_WINDOW_S,
    segment,
)
from ecgzoo.examples.fiducial import align_peaks, fiducial_description
from ecgzoo.examples.multilabel import window_of
from ecgzoo.examples.side_features import CONTEXT_SETS, context_rows, features_of_set
from ecgzoo.examples.signal_checks import check_rate
from ecgzoo.examples.spans import RECORD_SPAN_S, record_spans
from ecgzoo.examples.windows import prepare_windows

KINDS = ("beats", "window", "multilabel", "beat_features")
#: Leads standing in for a preferred lead a recording lacks: MLII is a modified lead II, so a
#: 12-lead record's II is closest to what the beat models learnt (order MLII, II, V5, first).
EQUIVALENT_LEADS: dict[str, tuple[str, ...]] = {"mlii": ("ii",)}
SEGMENTATIONS = ("kachuee", "centered")
TRANSFORMS = ("raw", "spectrogram", "scalogram")
#: what a beat model may take beside its beats: the per-beat RR (``rr_features``) or a
#: label-free context set (``examples.side_features.CONTEXT_SETS``)
SIDE_FEATURE_SETS = ("rr_features", *CONTEXT_SETS)
#: ``r_peak``: the peaks as given (the reference annotation in training, the detector's output in
#: use); ``qrs_extremum``: both moved to the extremum of the band-passed QRS (``examples.fiducial``)
FIDUCIALS = ("r_peak", "qrs_extremum")


@dataclass(frozen=True)
class Prepared:
    """Model-ready arrays of one recording.

    ``x``: float32 ``(n, leads, samples)`` (beats: one row per kept peak; windows: one row);
    ``features``: raw side features ``(n, n_features)`` as the dataset stores them (not yet
    standardised; :meth:`InputSpec.standardise` does that), or ``None``; ``kept``: boolean mask
    over the given peaks (beats) or ``None``; ``lengths``: real positions along x's last axis.
    """

    x: np.ndarray
    features: np.ndarray | None = None
    kept: np.ndarray | None = None
    lengths: np.ndarray | None = None


@dataclass(frozen=True)
class InputSpec:
    """How a signal becomes a model's input (see the module docstring)."""

    kind: str
    fs: float  # the rate the model's signal is at (before any transform)
    length: int  # signal samples per example (beats: the beat; windows: round(length_s * fs))
    leads: tuple[str, ...] = ()  # beats/window: preference (first present, else lead 0);
    # multilabel: the leads required, in this order
    segmentation: str | None = None  # beats: kachuee or centered
    before_s: float | None = None  # centered beats: window before / after the fiducial
    after_s: float | None = None
    lowpass_hz: float | None = None  # centered beats: the baseline high-pass is a band-pass
    fiducial: str = "r_peak"
    median_channel: bool = False  # beats: a 2nd channel, the beat minus the record's median beat
    median_of: str = "all"  # the beats that median is over (beat_context.MEDIAN_OF)
    beat_scale: str = "none"  # record: beats divided by the record's amplitude scale first
    # beats: record-level statistics (median beat, mean RR) of a longer recording are taken
    # over spans of this many seconds, the training records' length (examples.spans)
    record_span_s: float = RECORD_SPAN_S
    length_s: float | None = None  # windows
    fill: str = "zero"
    normalise: bool = False
    transform: str = "raw"
    nperseg: int = 256
    noverlap: int = 224
    fmax: float | None = None
    n_scales: int = 32
    scalogram_step: int | None = None
    side_features: str | None = None
    feature_mean: tuple[float, ...] = ()
    feature_std: tuple[float, ...] = ()
    crop: int | None = None  # trained on random crops of this many positions: vote over crops
    feature_groups: tuple[str, ...] = ()  # beat_features: the context groups of the table
    amplitude_normalise: bool = True  # beat_features: per-record amplitude scaling

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.kind == "beats" and self.segmentation not in SEGMENTATIONS:
            problems.append(f"segmentation {self.segmentation!r}")
        if self.transform not in TRANSFORMS:
            problems.append(f"transform {self.transform!r}")
        if self.side_features is not None and self.side_features not in SIDE_FEATURE_SETS:
            problems.append(f"side_features {self.side_features!r}")
        if self.median_of not in MEDIAN_OF:
            problems.append(f"median_of {self.median_of!r}")
        if self.beat_scale not in ("none", "record") or (
            self.beat_scale == "record" and not self.median_channel
        ):
            problems.append(f"beat_scale {self.beat_scale!r} (none, or record with the median)")
        if self.fiducial not in FIDUCIALS:
            problems.append(f"fiducial {self.fiducial!r}")
        if not (isinstance(self.fs, int | float) and math.isfinite(self.fs) and self.fs > 0):
            problems.append(f"fs {self.fs!r}")
        span = self.record_span_s
        if not (isinstance(span, int | float) and math.isfinite(span) and span > 0):
            problems.append(f"record_span_s {span!r}")
        if not (isinstance(self.length, int) and self.length > 0):
            problems.append(f"length {self.length!r}")
        if len(self.feature_mean) != len(self.feature_std):
            problems.append("feature_mean and feature_std differ in length")
        if not all(math.isfinite(v) for v in (*self.feature_mean, *self.feature_std)):
            problems.append("non-finite feature standardisation")
        if any(v <= 0 for v in self.feature_std):
            problems.append("feature_std not positive")
        if self.lowpass_hz is not None and not (
            self.segmentation == "centered" and 0.5 < self.lowpass_hz < self.fs / 2
        ):
            problems.append(f"lowpass_hz {self.lowpass_hz!r}")
        if problems:
            raise DataError(f"input spec: invalid {problems[0]}")

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (what ``model.json`` holds under ``input``)."""
        out = dataclasses.asdict(self)
        for key in ("leads", "feature_mean", "feature_std", "feature_groups"):
            out[key] = list(out[key])
        if out["median_of"] == "all":  # the default, which model.json files before it lack
            del out["median_of"]
        if out["record_span_s"] == RECORD_SPAN_S:  # likewise
            del out["record_span_s"]
        if out["beat_scale"] == "none":  # likewise
            del out["beat_scale"]
        if out["lowpass_hz"] is None:  # likewise
            del out["lowpass_hz"]
        return out

    @classmethod
    def from_json(cls, tree: Any, where: str = "model.json") -> InputSpec:
        """The spec from :meth:`to_json`'s dict; ``DataError`` naming ``where`` otherwise."""
        if not isinstance(tree, dict):
            raise DataError(f"{where}: input: expected an object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(tree) - known)
        if unknown:
            raise DataError(f"{where}: input: unknown key {unknown[0]!r}")
        args = dict(tree)
        for key in ("leads", "feature_groups"):
            if key in args:
                if not isinstance(args[key], list) or not all(
                    isinstance(v, str) for v in args[key]
                ):
                    raise DataError(f"{where}: input: {key} must be a list of names")
                args[key] = tuple(args[key])
        for key in ("feature_mean", "feature_std"):
            if key in args:
                vals = args[key]
                if not isinstance(vals, list) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in vals
                ):
                    raise DataError(f"{where}: input: {key} must be a list of numbers")
                args[key] = tuple(float(v) for v in vals)
        try:
            return cls(**args)
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise DataError(f"{where}: input: {exc}") from None

    def replace(self, **changes: Any) -> InputSpec:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ parts

    @property
    def n_features(self) -> int:
        return len(self.feature_mean)

    def beat_settings(self) -> dict[str, Any]:
        """The ``examples.beats`` segmentation settings (the beat cache key's core)."""
        if self.segmentation == "kachuee":
            return {
                "segmentation": "kachuee",
                "length": int(self.length),
                "fs": KACHUEE_FS,
                "window_s": KACHUEE_WINDOW_S,
                "span": KACHUEE_SPAN,
            }
        settings: dict[str, Any] = {
            "segmentation": "centered",
            "before_s": float(self.before_s),
            "after_s": float(self.after_s),
            "fs": float(self.fs),
            "baseline": f"butter2-highpass-{HIGHPASS_HZ}Hz-sosfiltfilt",
        }
        if self.lowpass_hz is not None:  # as examples.beats.beat_settings writes it
            settings["lowpass_hz"] = float(self.lowpass_hz)
        if self.fiducial != "r_peak":  # the training beats are cut at the aligned peaks too
            # (examples.beats.beats_from_lead reads this key; without it an aligned model was
            # trained on reference peaks and applied on aligned ones)
            settings["fiducial"] = fiducial_description(self.fiducial)
        return settings

    def lead_index(self, lead_names: list[str], lead: str | None = None) -> int:
        """The lead to feed a single-lead model: ``lead`` by name (case-insensitive) or index,
        else the first of :attr:`leads` present (or its :data:`EQUIVALENT_LEADS`: II for
        MLII), else lead 0."""
        return self.lead_index_of(lead_names, self.leads, lead)

    @staticmethod
    def lead_index_of(lead_names: list[str], preference: tuple[str, ...], lead: str | None) -> int:
        """:meth:`lead_index` for a given ``preference``."""
        lowered = [str(n).lower() for n in lead_names]
        if lead is not None:
            if lead.lower() in lowered:
                return lowered.index(lead.lower())
            if lead.isdigit() and int(lead) < len(lowered):
                return int(lead)
            raise DataError(f"no lead named {lead!r} (leads: {', '.join(map(str, lead_names))})")
        for name in preference:
            for candidate in (name.lower(), *EQUIVALENT_LEADS.get(name.lower(), ())):
                if candidate in lowered:
                    return lowered.index(candidate)
        return 0

    def beats(
        self, signal: np.ndarray, fs: float, peaks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(x, kept)``: float32 ``(n_kept, 1, length)`` beats of a 1-D ``signal`` (mV at
        ``fs``) cut at ``peaks`` exactly as the training beats were, and the kept mask."""
        peaks = np.asarray(peaks, dtype=np.int64)
        settings = self.beat_settings()
        if self.kind == "beat_features":
            settings = context_segmentation()
        x, keep, _, _ = segment(np.asarray(signal, dtype=np.float64), float(fs), peaks, settings)
        return x[:, None, :], keep

    def align(self, signal: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
        """The R ``peaks`` moved to the model's :attr:`fiducial` (as given for ``r_peak``): the
        same function moves the reference peaks of the training beats."""
        peaks = np.asarray(peaks, dtype=np.int64)
        if self.fiducial == "r_peak":
            return peaks
        return align_peaks(np.asarray(signal, dtype=np.float64), float(fs), peaks, self.fiducial)

    def with_median(
        self, x: np.ndarray, peaks: np.ndarray, kept: np.ndarray | None, fs: float
    ) -> np.ndarray:
        """One record's beats ``(n, 1, length)`` with the median-beat channel when the model
        takes it (over the record's beats given, or those :attr:`median_of` names;
        without labels; one median per :attr:`record_span_s` span of a long recording).
        ``peaks``: all the record's R peaks (samples at ``fs``), ``kept``: which of them ``x``
        holds (all when ``None``)."""
        if not self.median_channel:
            return x
        peaks = np.asarray(peaks, dtype=np.int64)
        mine = np.ones(len(peaks), dtype=bool) if kept is None else np.asarray(kept, dtype=bool)
        reference = None
        span = self.record_span_s * float(fs)
        if self.median_of != "all":
            reference = reference_beats(peaks, self.median_of, span)
            if reference is not None:
                reference = reference[mine]
        spans = record_spans(peaks, span)[mine]  # as the RR context's
        scale = self.beat_scale == "record"
        return with_median_channel(np.asarray(x)[:, 0, :], reference, spans, scale)

    def raw_side_features(self, peaks: np.ndarray, fs: float) -> np.ndarray | None:
        """Raw side features ``(n, n_features)`` of every beat at ``peaks`` (all the record's
        beats: the context spans the record), or ``None`` when the model takes none.

        The label-free context sets use only ratios of intervals, so they are computed on the
        sample positions (rate 1), exactly as the beat datasets compute them."""
        if self.side_features is None:
            return None
        rate = 1.0 if self.side_features in CONTEXT_SETS else float(fs)
        span = self.record_span_s * float(fs)  # in samples, whatever ``rate`` says
        return features_of_set(self.side_features, np.asarray(peaks, dtype=np.int64), rate, span)

    def standardise(self, features: np.ndarray | None) -> np.ndarray | None:
        """Side features as the model takes them: ``(raw - mean) / std`` in float32."""
        if features is None or not self.feature_mean:
            return None
        mean = np.asarray(self.feature_mean, dtype=np.float32)
        std = np.asarray(self.feature_std, dtype=np.float32)
        return ((np.asarray(features, dtype=np.float32) - mean) / std).astype(np.float32)

    def windows(
        self, signals: list[np.ndarray], fs: float, section: str = "model input"
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(x, lengths)`` of single-lead recordings (1-D, mV at ``fs``), prepared as the
        window datasets prepare theirs (float32 signals, ``examples.windows``)."""
        sigs = [np.asarray(s, dtype=np.float32) for s in signals]
        x, lengths = prepare_windows(sigs, self, float(fs), section=section)
        return np.ascontiguousarray(x, dtype=np.float32), lengths

    # ------------------------------------------------------------------ prepare

    def prepare(
        self,
        signal: np.ndarray,
        fs: float,
        peaks: np.ndarray | None = None,
        *,
        lead_names: list[str] | None = None,
        lead: str | None = None,
    ) -> Prepared:
        """Model-ready arrays of one recording: ``signal`` in mV at ``fs``, 1-D (one lead) or
        ``(n_leads, n_samples)`` with ``lead_names`` (the lead is then chosen by :attr:`leads`
        or by ``lead``). Beat kinds need the R ``peaks`` (ascending samples of the signal)."""
        fs = check_rate(fs, "signal")
        signal = np.asarray(signal)
        if np.iscomplexobj(signal) or not np.issubdtype(signal.dtype, np.number):
            raise DataError(f"signal: expected real numbers, got {signal.dtype}")
        if self.kind == "multilabel":
            if signal.ndim != 2 or lead_names is None:
                raise DataError("signal: a multi-label model needs (n_leads, n_samples) and names")
            x, real = window_of(signal, list(lead_names), fs, self, "signal")
            return Prepared(x[None], lengths=np.array([real], dtype=np.int64))
        if signal.ndim == 2:
            names = lead_names or [f"lead{i}" for i in range(signal.shape[0])]
            signal = signal[self.lead_index(names, lead)]
        if signal.ndim != 1 or len(signal) == 0:
            raise DataError(f"signal: expected one lead (1-D), got shape {signal.shape}")
        if self.kind == "window":
            x, lengths = self.windows([signal], fs)
            return Prepared(x, lengths=lengths)
        if peaks is None:
            raise DataError("signal: a beat model needs the R peaks (detect them first)")
        peaks = self.align(signal, fs, peaks)
        x, kept = self.beats(signal, fs, peaks)
        x, features = self.record_inputs(x, peaks, kept, fs)
        return Prepared(x, features, kept)

    def record_inputs(
        self, x: np.ndarray, peaks: np.ndarray, kept: np.ndarray, fs: float
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """A record's inputs from its cut beats ``x`` (the ``kept`` of its R ``peaks`` at
        ``fs``): median channel, raw side features or context rows; ``prepare`` and
        ``annotate`` (which cuts chunk by chunk) both end here."""
        x = self.with_median(x, peaks, kept, fs)
        if self.kind == "beat_features":
            return x, context_rows(x[:, 0], peaks, fs, kept, self)
        side = self.raw_side_features(peaks, fs)
        return x, None if side is None else side[kept]
