"""Beat tables with label-free context, for any database with beat annotations (or a folder).

A *table* holds every annotated beat of the records read (AAMI class or not, so the context of a
beat never depends on labels): the raw centred beat (``examples.beat_context`` segmentation),
its R-peak sample, the RR context features and its AAMI label (-1 for a beat annotation
without an AAMI class, such as ``?``; those are context only, never trained on or scored).
:func:`feature_matrix` turns a table into the features of chosen groups, per record.

Tables are cached per database and record list (``cache.cached_arrays``, streamed record by
record); group ids are ``"<database>/<record>"`` so records of two databases never collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets.cache import cached_arrays
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.examples import beat_context as bc
from ecgzoo.examples.beats import LEAD_PREFERENCE, SYMBOL_TO_CLASS, segment
from ecgzoo.examples.side_features import (
    CONTEXT_SETS,
    SIDE_FEATURE_NAMES,
    context_rows,
    features_of_set,
    record_features,
    side_features_at,
)
from ecgzoo.examples.spans import RECORD_SPAN_S
from ecgzoo.readers.wfdb_folder import WfdbFolderReader

__all__ = [
    "CONTEXT_SETS",
    "SIDE_FEATURE_NAMES",
    "context_rows",
    "features_of_set",
    "side_features_at",
]

TABLE_VERSION = 4  # bump when a table's content changes


def reader_for(database: str, folder: Path | None = None) -> WfdbFolderReader:
    """The reader of ``mitdb``, ``svdb``, or a user's WFDB ``folder`` (``database="folder"``)."""
    if database == "mitdb":
        from ecgzoo.readers.mitdb import MitdbReader

        return MitdbReader(folder) if folder is not None else MitdbReader()
    if database == "svdb":
        from ecgzoo.readers.svdb import SvdbReader

        return SvdbReader(folder)
    if database == "folder" and folder is not None:
        return WfdbFolderReader(folder, annotator="atr", require_annotations=True)
    raise DataError(f"unknown beat database {database!r} (mitdb, svdb or a folder)")


def record_table(
    reader: WfdbFolderReader, name: str, group: str, lead: str | None = None
) -> dict[str, np.ndarray]:
    """One record's beats (every beat annotation), RR context and AAMI labels (-1: none).

    ``lead``: the lead by name (case-insensitive); default MLII, else V5, else the first.
    """
    rec = reader.read(name)
    if lead is not None and lead.lower() not in [n.lower() for n in rec.lead_names]:
        raise ConfigError(  # an option mistake, not a bad record: never skipped
            f"--lead: {reader.folder / name}.hea has no lead named {lead!r} "
            f"(has {', '.join(rec.lead_names)})"
        )
    channel = rec.lead_index([lead] if lead else list(LEAD_PREFERENCE))
    signal = np.asarray(rec.signal[channel], dtype=np.float64)
    if not np.all(np.isfinite(signal)):
        raise DataError(f"{reader.folder / name}.dat: lead {rec.lead_names[channel]} has NaNs")
    peaks = np.asarray(rec.beat_samples, dtype=np.int64)
    inside = (peaks >= 0) & (peaks < signal.shape[0])  # SVDB 860 annotates past its end
    peaks, symbols = peaks[inside], np.asarray(rec.beat_symbols)[inside]
    if len(peaks) < 2:
        raise DataError(f"{reader.annotation_path(name)}: fewer than two beat annotations")
    labels = np.array([SYMBOL_TO_CLASS.get(str(s), -1) for s in symbols], np.int64)
    rr = bc.rr_context(peaks, rec.fs, RECORD_SPAN_S * rec.fs)  # one span for a 30-min record
    x, keep, _, _ = segment(signal, rec.fs, peaks, bc.context_segmentation())
    n = int(keep.sum())
    return {
        "x": x,
        "y": labels[keep],
        "sample": peaks[keep],
        "rr": rr[keep].astype(np.float32),
        "group": np.full(n, group, dtype="U32"),
        "dropped_y": labels[~keep],
    }


def _skipped(name: str, reason: str) -> dict[str, np.ndarray]:
    n = int(round(bc.BEFORE_S * bc.CONTEXT_FS)) + int(round(bc.AFTER_S * bc.CONTEXT_FS))
    empty = np.zeros(0, dtype=np.int64)
    return {
        "x": np.zeros((0, n), dtype=np.float32),
        "y": empty,
        "sample": empty,
        "rr": np.zeros((0, len(bc.RR_CONTEXT_NAMES)), dtype=np.float32),
        "group": np.zeros(0, dtype="U32"),
        "dropped_y": empty,
        "skipped": np.array([f"{name}: {reason}"[:200]], dtype="U200"),
    }


def _fingerprint(folder: Path, names: list[str]) -> list[list[Any]]:
    out = []
    for name in names:
        sizes = [
            (folder / f"{name}{ext}").stat().st_size
            for ext in (".hea", ".dat", ".atr")
            if (folder / f"{name}{ext}").is_file()
        ]
        out.append([name, *sizes])
    return out


def load_table(
    database: str,
    records: list[str] | None = None,
    folder: Path | None = None,
    lead: str | None = None,
    cache: bool = True,
    skip_unreadable: bool = True,
) -> dict[str, np.ndarray]:
    """The beat table of ``records`` (default all) of ``database`` (see module docstring).

    A record the reader refuses (``DataError``) is left out and named, with the reason, in the
    table's ``skipped`` array, unless ``skip_unreadable`` is false.
    """
    reader = reader_for(database, folder)
    names = reader.list_records() if records is None else [str(r) for r in records]
    prefix = database if database != "folder" else Path(reader.folder).name

    def build():
        for name in names:
            try:
                part = record_table(reader, name, f"{prefix}/{name}", lead)
            except DataError as exc:
                if not skip_unreadable:
                    raise
                # e.g. SVDB 820: gain 0 (uncalibrated); kept out and listed in "skipped"
                yield _skipped(name, str(exc))
                continue
            part["skipped"] = np.zeros(0, dtype="U200")
            yield part

    if not cache:
        parts = list(build())
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    params = {
        "version": TABLE_VERSION,
        "database": database,
        "folder": str(Path(reader.folder).resolve()) if database == "folder" else None,
        "records": names,
        "lead": lead,
        "segmentation": bc.context_segmentation(),
        "rr": list(bc.RR_CONTEXT_NAMES),
        "files": _fingerprint(Path(reader.folder), names),
    }
    return cached_arrays("beat-context", params, build)


def subset_table(table: dict[str, np.ndarray], groups: list[str]) -> dict[str, np.ndarray]:
    """The rows of ``table`` whose group is in ``groups`` (``skipped`` kept whole)."""
    keep = np.isin(np.asarray(table["group"]), groups)
    out = {k: np.asarray(v)[keep] for k, v in table.items() if k not in ("skipped", "dropped_y")}
    out["skipped"] = np.asarray(table["skipped"])
    out["dropped_y"] = np.asarray(table["dropped_y"])
    return out


def feature_matrix(
    table: dict[str, np.ndarray], groups: tuple[str, ...], normalise: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(X, y, group, names)`` of the AAMI-labelled beats: features of ``groups``, per record.

    Morphology and median beat use *all* the record's beats (labels unused); ``normalise``
    divides each record by its amplitude scale. Beats without an AAMI class are left out of
    the rows (not of the context).
    """
    groups = bc.check_groups(groups, "features")
    x = np.asarray(table["x"])
    group = np.asarray(table["group"])
    y = np.asarray(table["y"])
    rr = np.asarray(table["rr"])[:, bc.rr_columns(groups)]
    r_index = int(round(bc.BEFORE_S * bc.CONTEXT_FS))
    names = [bc.RR_CONTEXT_NAMES[i] for i in bc.rr_columns(groups)]
    names += bc.morphology_names(x.shape[1], groups)
    blocks = []
    # tables are written record by record, so each group is one contiguous run
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    stops = np.concatenate([starts[1:], [len(group)]])
    for a, b in zip(starts, stops, strict=True):
        blocks.append(record_features(x[a:b], rr[a:b], groups, normalise, r_index))
    X = np.concatenate(blocks) if blocks else np.zeros((0, len(names)), np.float32)
    scored = y >= 0
    return X[scored].astype(np.float32), y[scored], group[scored], names


def context_set(options: Any) -> str | None:
    """The context set beat ``options`` ask for (``rr_context``, ``rr_ratios``,
    ``rr_log_ratios``) or ``None``; ``rr_context_set`` names one directly."""
    named = getattr(options, "rr_context_set", None)
    if named is not None:
        return str(named)
    if not getattr(options, "rr_context", False):
        return None
    return "rr_context" if getattr(options, "rr_context_irregularity", True) else "rr_ratios"


def record_peaks(
    arrays: dict[str, np.ndarray],
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per record of a cached beat dataset (``beatset`` arrays): ``(rows, peaks, at)``, the rows
    of its kept beats, its R peaks (the AAMI beats, kept and dropped, ascending: the beat cache
    holds no other annotation) and where each kept row's peak sits among them."""
    record = np.asarray(arrays["record"])
    sample = np.asarray(arrays["sample"])
    d_record = np.asarray(arrays["dropped_record"])
    d_sample = np.asarray(arrays["dropped_sample"])
    for r in np.unique(record):
        rows = np.flatnonzero(record == r)
        peaks = np.unique(np.concatenate([sample[rows], d_sample[d_record == r]]))
        yield rows, peaks, np.searchsorted(peaks, sample[rows])


def side_features(arrays: dict[str, np.ndarray], feature_set: str = "rr_context") -> np.ndarray:
    """Label-free RR context of every beat of a cached beat dataset (``beatset`` arrays).

    The option ``rr_context`` of the beat task: any model gets these as side input. Only ratios
    are used, so the positions' sampling rate does not matter.
    """
    out = np.zeros((len(arrays["sample"]), len(CONTEXT_SETS[feature_set])), dtype=np.float32)
    for rows, peaks, at in record_peaks(arrays):
        out[rows] = side_features_at(peaks, 1.0, feature_set)[at]
    return out


def median_channel_beats(
    x: np.ndarray, arrays: dict[str, np.ndarray], median_of: str = "all", scale: bool = False
) -> np.ndarray:
    """``(n, 2, n_samples)``: each beat of ``x`` (the rows of ``arrays``) and the beat minus its
    record's median beat, taken over the beats ``median_of`` names
    (:func:`ecgzoo.examples.beat_context.reference_beats`), record by record: what
    ``InputSpec.with_median`` computes from a recording's peaks in use; ``scale``: each record's
    beats divided by its amplitude scale first (``beat_scale: record``)."""
    out = np.empty((len(x), 2, x.shape[-1]), dtype=np.float32)
    for rows, peaks, at in record_peaks(arrays):
        reference = bc.reference_beats(peaks, median_of)
        ref = None if reference is None else reference[at]
        out[rows] = bc.with_median_channel(x[rows], ref, scale=scale)
    return out
