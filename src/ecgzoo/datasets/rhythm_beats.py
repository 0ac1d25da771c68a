"""N beats of many more patients: recordings the 2017 challenge labels by rhythm.

MIT-BIH DS1 and SVDB hold 22 + 52 patients; a beat model meets N beats of shapes and rhythms
none of them had, and calls some of them S or V (on the SVDB development folds most of its
errors are false S, two fifths of them in records of irregular, AF-like rhythm). The 2017
challenge holds single-lead recordings (9-61 s, 300 Hz, a hand-held device close to lead I)
labelled by rhythm in ``REFERENCE-v3.csv``: 4,458 normal rhythm (``N``) and 651 atrial
fibrillation (``A``), whose beats AAMI calls N too. With ``data.mitbih.rhythm_database:
cinc2017`` the recordings of ``rhythm_labels`` each give up to ``rhythm_beats_per_record`` beats
labelled N to the training part.

Which beats is decided without any beat label, from the signal and its record label only:

* the peaks are ``examples.detect.detect_qrs`` (the detector ``annotate`` uses);
* a record is used when it has at least :data:`MIN_BEATS` peaks, a median RR in
  :data:`MEDIAN_RR_S`, and upright beats (the median R height over the local baseline is
  positive; inverted recordings would teach that an inverted QRS is normal);
* in a normal-rhythm recording a beat is *clean* when the RR before and after it are both
  within :data:`RR_BAND` of the record's median RR (an ectopic beat is early, or followed by a
  pause; the record label says the rhythm, not that every beat is sinus);
* in an AF recording the rhythm is irregular by definition, so a beat is clean when its QRS
  (:data:`SHAPE_S` each side of the peak) correlates at least :data:`MIN_CORRELATION` with the
  record's median QRS (a ventricular beat has another shape);
* up to ``per_record`` clean beats, a seeded choice per record, are labelled N; every other
  peak is labelled Q, so it is cut, gives the RR context and the median beat their neighbours,
  and is left out of training (the option needs ``train_exclude_classes: [Q]``).

Record numbers are ``RECORD_OFFSET`` + the record's number (``A00001`` -> 200001), clear of
MIT-BIH (100-234), SVDB (800-894) and second-lead copies (10100-10234).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets.beatset import cut_lead, record_arrays
from ecgzoo.datasets.cache import cached_arrays
from ecgzoo.datasets.input_specs import beat_input
from ecgzoo.errors import DataError
from ecgzoo.examples.beats import CLASS_NAMES

PREP_VERSION = 1
RECORD_OFFSET = 200_000
MIN_BEATS = 10
MEDIAN_RR_S = (0.4, 1.5)  # 40-150 beats a minute: outside it the detection is suspect
RR_BAND = (0.85, 1.2)  # normal rhythm: a clean beat's RR before and after, over the median RR
BASELINE_S = 0.2  # half-width of the window whose median is a peak's baseline
SHAPE_S = 0.1  # AF: half-width of the QRS window compared with the record's median QRS
MIN_CORRELATION = 0.9
RHYTHMS = ("N", "A")
RECORD_NAME = re.compile(r"^A(\d{5})$")
N_CLASS, Q_CLASS = CLASS_NAMES.index("N"), CLASS_NAMES.index("Q")


def record_number(name: str) -> int:
    """``A00001`` -> ``RECORD_OFFSET + 1``; another name is a ``DataError``."""
    match = RECORD_NAME.match(name)
    if match is None:
        raise DataError(f"challenge-2017 record {name!r}: expected a name such as A00001")
    return RECORD_OFFSET + int(match.group(1))


def clean_beats(peaks: np.ndarray, fs: float) -> np.ndarray:
    """Normal rhythm: boolean mask of the peaks whose RR before and after are within
    ``RR_BAND`` of the record's median RR (the first and last peak, with one side unknown,
    are never clean)."""
    clean = np.zeros(len(peaks), dtype=bool)
    if len(peaks) < 3:
        return clean
    rr = np.diff(np.asarray(peaks, dtype=np.float64)) / fs
    ratio = rr / np.median(rr)
    regular = (ratio >= RR_BAND[0]) & (ratio <= RR_BAND[1])
    clean[1:-1] = regular[:-1] & regular[1:]
    return clean


def typical_beats(signal: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
    """AF: boolean mask of the peaks whose QRS window correlates at least ``MIN_CORRELATION``
    with the record's median QRS window (the first and last peak are never chosen)."""
    half = int(round(SHAPE_S * fs))
    typical = np.zeros(len(peaks), dtype=bool)
    inside = (peaks >= half) & (peaks < len(signal) - half)
    if inside.sum() < 3:
        return typical
    windows = signal[peaks[inside][:, None] + np.arange(-half, half + 1)]
    windows = windows - windows.mean(axis=1, keepdims=True)
    median = np.median(windows, axis=0)
    norms = np.linalg.norm(windows, axis=1) * np.linalg.norm(median)
    correlation = windows @ median / np.maximum(norms, 1e-12)
    typical[inside] = correlation >= MIN_CORRELATION
    typical[[0, -1]] = False
    return typical


def upright(signal: np.ndarray, fs: float, peaks: np.ndarray) -> bool:
    """Whether the record's median R height over its local baseline (the median of the
    signal within ``BASELINE_S`` of the peak) is positive."""
    half = int(round(BASELINE_S * fs))
    inside = peaks[(peaks >= half) & (peaks < len(signal) - half)]
    if len(inside) == 0:
        return False
    windows = signal[inside[:, None] + np.arange(-half, half + 1)]
    return bool(np.median(signal[inside] - np.median(windows, axis=1)) > 0)


def beat_labels(
    signal: np.ndarray, fs: float, rid: int, per_record: int, rhythm: str = "N"
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(peaks, labels)`` of one recording of ``rhythm`` (N for the chosen clean beats, Q
    for every other peak), or ``None`` when the record is not used (module docstring)."""
    from ecgzoo.examples.detect import detect_qrs

    peaks = detect_qrs(signal, fs)
    if len(peaks) < MIN_BEATS:
        return None
    median_rr = float(np.median(np.diff(peaks))) / fs
    if not MEDIAN_RR_S[0] <= median_rr <= MEDIAN_RR_S[1] or not upright(signal, fs, peaks):
        return None
    mask = clean_beats(peaks, fs) if rhythm == "N" else typical_beats(signal, fs, peaks)
    clean = np.flatnonzero(mask)
    chosen = np.random.default_rng(rid).choice(clean, min(per_record, len(clean)), replace=False)
    labels = np.full(len(peaks), Q_CLASS, dtype=np.int64)
    labels[chosen] = N_CLASS
    return peaks, labels


def rhythm_records(root: Path, rhythms: Sequence[str]) -> tuple[Path, dict[str, str], str]:
    """``(records source, {record: label}, reference digest)``: the recordings of a
    challenge-2017 folder whose v3 label is one of ``rhythms``."""
    from ecgzoo.datasets.cinc2017 import reference_for, training_source

    source = training_source(root)
    reference, digest = reference_for("v3", root, source)
    chosen = {name: label for name, label in sorted(reference.items()) if label in rhythms}
    if not chosen:
        raise DataError(f"{root}: no record labelled {'/'.join(rhythms)} in its reference")
    return source, chosen, digest


def prepare_rhythm_beats(
    options: Any,
    per_record: int,
    rhythms: Sequence[str] = ("N",),
    root: Path | None = None,
    cache_dir: Path | None = None,
) -> dict[str, np.ndarray]:
    """Beat arrays (as ``mitbih.prepare_beats``) of the used recordings of ``rhythms``, cut as
    the beat ``options`` cut MIT-BIH's; cached by everything that shapes them."""
    from ecgzoo.datasets.cinc2017 import resolve_root

    unknown = sorted(set(rhythms) - set(RHYTHMS))
    if unknown:
        raise DataError(f"rhythm_labels: {unknown} not among {list(RHYTHMS)}")
    root = resolve_root(root)
    source, labels, digest = rhythm_records(root, rhythms)
    settings = beat_input(options).beat_settings()  # the same cut as the MIT-BIH beats
    params = {
        "prep_version": PREP_VERSION,
        "database": "challenge-2017-1.0.0 rhythm-labelled",
        "rhythms": sorted(rhythms),
        "settings": settings,
        "per_record": int(per_record),
        "reference": digest,
        "source_bytes": source.stat().st_size if source.is_file() else len(labels),
        "rule": [MIN_BEATS, list(MEDIAN_RR_S), list(RR_BAND), BASELINE_S, SHAPE_S,
                 MIN_CORRELATION],
    }  # fmt: skip

    def build() -> Iterator[dict[str, np.ndarray]]:
        from ecgzoo.readers.cinc2017 import FS, load_recordings

        signals, rhythm_of, names = load_recordings(source, labels)
        used = 0
        for name, signal, rhythm in zip(names, signals, rhythm_of, strict=True):
            rid = record_number(name)
            lead = np.asarray(signal, dtype=np.float64)
            found = beat_labels(lead, FS, rid, per_record, rhythm)
            if found is None:
                continue
            read = {"lead": lead, "lead_name": "single", "fs": FS,
                    "samples": found[0], "labels": found[1]}  # fmt: skip
            used += 1
            yield record_arrays(rid, cut_lead(read, settings))
        if used == 0:
            raise DataError(f"{source}: no recording of {'/'.join(rhythms)} passed the beat rule")

    return cached_arrays("cinc2017_rhythm_beats", params, build, cache_dir=cache_dir)
