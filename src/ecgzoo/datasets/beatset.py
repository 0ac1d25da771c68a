"""Beat datasets of any database with reference beat annotations (``mitdb``, ``svdb``).

One pipeline for all of them: a reader lists and reads records, ``examples.beats`` cuts each
record's chosen lead (MLII, else V5, else the first) into AAMI-labelled beats, record by
record (streamed into the cache, so memory holds one record), and a split stage assembles
train/val/test. The per-database modules (``mitbih.py``, ``svdb.py``) only name their reader,
cache key and splits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets.arrays import ArraySplit, PreparedData
from ecgzoo.datasets.cache import cached_arrays
from ecgzoo.datasets.contextset import (
    CONTEXT_SETS,
    context_set,
    median_channel_beats,
    side_features,
)
from ecgzoo.datasets.input_specs import beat_input
from ecgzoo.datasets.splits import intra_patient_split, stratified_holdout, validation_by_group
from ecgzoo.datasets.streaming import default_workers, read_ahead, stream_ahead
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.examples.beats import (
    CLASS_NAMES,
    RR_FEATURE_NAMES,
    aami_labels,
    beats_from_lead,
    choose_lead,
)
from ecgzoo.readers.wfdb_folder import WfdbFolderReader


def resolve_records(reader: WfdbFolderReader, records: list[str] | None, section: str) -> list[str]:
    """The records to use: all (reader order), or ``records`` sorted after checking them."""
    if records is None:
        return reader.list_records()
    if not reader.folder.is_dir():
        raise DataError(f"{reader.folder}: {reader.name} database folder not found")
    wanted = [str(r) for r in records]
    listing = reader.folder / "RECORDS"
    if listing.is_file():  # else each record's files are checked when read
        available = reader.list_records()
        unknown = [r for r in wanted if r not in available]
        if unknown:
            raise ConfigError(f"{section}.records: not in {listing}: {', '.join(unknown)}")
    if len(set(wanted)) != len(wanted):
        raise ConfigError(f"{section}.records: a record is listed twice")
    if not wanted:
        raise ConfigError(f"{section}.records: empty list")
    return sorted(wanted)


def fingerprint(folder: Path, names: list[str]) -> list[list]:
    """Sizes of each record's files: a cheap guard against a different copy of the database."""
    out = []
    for name in names:
        sizes = []
        for ext in (".hea", ".dat", ".atr"):
            path = Path(folder) / f"{name}{ext}"
            if not path.is_file():
                raise DataError(f"{path}: file not found")
            sizes.append(path.stat().st_size)
        out.append([str(name), *sizes])
    return out


def other_lead(lead_names: list[str]) -> int:
    """Index of the lead :func:`choose_lead` does not choose, in a two-lead record."""
    if len(lead_names) != 2:
        raise DataError(f"second_lead: needs two leads, the record has {len(lead_names)}")
    return 1 - choose_lead(lead_names)


def read_lead(reader: WfdbFolderReader, name: str, second: bool = False) -> dict[str, Any]:
    """The reading stage of one record (a reader process's part): its chosen lead (MLII, else
    V5, else the first; float64 mV as wfdb converts it), or with ``second`` its other lead, and
    its AAMI-labelled beats."""
    pick = other_lead if second else choose_lead
    names = reader.lead_names(name)  # only the chosen lead is converted: a third of the reading
    rec = reader.read(name, channels=None if not names else [pick(names)])
    channel = choose_lead(rec.lead_names) if names else pick(rec.lead_names)
    lead = rec.signal[channel]
    if not np.all(np.isfinite(lead)):
        raise DataError(
            f"{reader.folder / name}.dat: lead {rec.lead_names[channel]} has invalid (NaN) "
            "samples; beats need a complete lead"
        )
    samples, labels = aami_labels(rec.beat_samples, rec.beat_symbols)
    return {"lead": lead, "lead_name": rec.lead_names[channel], "fs": rec.fs,
            "samples": samples, "labels": labels}  # fmt: skip


def cut_lead(read: dict[str, Any], settings: dict[str, Any]) -> dict:
    """The cutting stage: beat arrays of a :func:`read_lead` result (see
    :func:`ecgzoo.examples.beats.beats_from_lead`)."""
    lead, samples, labels = read["lead"], read["samples"], read["labels"]
    inside = (samples >= 0) & (samples < len(lead))
    part = beats_from_lead(lead, read["fs"], samples[inside], labels[inside], settings)
    part["lead"] = read["lead_name"]
    if not inside.all():  # annotated past the recording's end: no signal to cut
        part["dropped_sample"] = np.concatenate([part["dropped_sample"], samples[~inside]])
        part["dropped_y"] = np.concatenate([part["dropped_y"], labels[~inside]])
        reasons = np.full(int((~inside).sum()), "outside_signal", dtype="U32")
        part["dropped_reason"] = np.concatenate([part["dropped_reason"], reasons])
    return part


def record_beats(reader: WfdbFolderReader, name: str, settings: dict[str, Any]) -> dict:
    """One record's beat arrays (both stages in this process)."""
    return cut_lead(read_lead(reader, name), settings)


def _record_id(name: str) -> int:
    if not name.isdigit():
        raise DataError(f"record {name!r}: beat databases need numeric record names")
    return int(name)


def record_arrays(rid: int, p: dict[str, Any]) -> dict[str, np.ndarray]:
    """One record's cut beats (a :func:`cut_lead` result) as the arrays of a beat cache entry,
    under the record number ``rid``."""
    return {
        "x": p["x"],
        "y": p["y"],
        "record": np.full(len(p["y"]), rid, dtype=np.int64),
        "sample": p["sample"],
        "rr": p["rr"].reshape(-1, len(RR_FEATURE_NAMES)),
        "truncated": p["truncated"],
        "records": np.array([rid], dtype=np.int64),
        "leads": np.array([p["lead"]], dtype="U8"),
        "dropped_record": np.full(len(p["dropped_y"]), rid, dtype=np.int64),
        "dropped_sample": p["dropped_sample"],
        "dropped_y": p["dropped_y"],
        "dropped_reason": p["dropped_reason"],
    }


def _cut_imports() -> None:
    """What the cutting stage imports (resampling, filters), loaded while the readers read."""
    import scipy.signal  # noqa: F401


def _cut_records(
    reader: WfdbFolderReader,
    names: list[str],
    settings: dict[str, Any],
    readers: int,
    second: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Chunks of ``names``, read by ``readers`` forked processes (``0``: here), cut here."""
    read_one = partial(read_lead, reader, second=second)
    reads = read_ahead(read_one, names, readers, meanwhile=_cut_imports)
    with closing(reads):  # stops the readers when the consumer stops early
        for name, read in zip(names, reads, strict=True):
            yield record_arrays(_record_id(name), cut_lead(read, settings))


def stream_beats(
    reader: WfdbFolderReader,
    names: list[str],
    settings: dict[str, Any],
    workers: int = 1,
    second: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Per-record chunks of beat arrays, in ``names`` order.

    ``workers`` > 1: a pipeline of forked processes, each importing only what its stage needs,
    all at the same time: one or two read the records (wfdb), one cuts them
    (scipy.signal), and this one writes what it receives (no heavy import at all; see
    ``streaming``). The arrays are the same bytes as with one process. ``second``: each
    record's other lead (:func:`other_lead`).
    """
    for name in names:
        _record_id(name)
    if workers <= 1:
        yield from _cut_records(reader, names, settings, 0, second)
        return
    # one cutter takes ~0.6 of a reader's time per record: more than 2 readers would wait
    cut = partial(_cut_records, reader, names, settings, min(2, max(1, workers - 2)), second)
    yield from stream_ahead(cut)


def build_arrays(
    reader: WfdbFolderReader, names: list[str], settings: dict[str, Any], workers: int = 1
) -> dict[str, np.ndarray]:
    """All beats of ``names`` in memory (no cache): the chunks of :func:`stream_beats` joined."""
    parts = list(stream_beats(reader, names, settings, workers))
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def prepare(
    cache_name: str,
    params: dict[str, Any],
    reader: WfdbFolderReader,
    names: list[str],
    settings: dict[str, Any],
    cache_dir: Path | None = None,
    workers: int | None = None,
    second: bool = False,
) -> dict[str, np.ndarray]:
    """Beats streamed record by record into the cache entry of ``params`` (see ``cache``)."""
    return cached_arrays(
        cache_name,
        params,
        lambda: stream_beats(reader, names, settings, workers or default_workers(), second),
        cache_dir=cache_dir,
    )


def prepare_database(
    cache_name: str,
    database: str,
    prep_version: int,
    reader: WfdbFolderReader,
    options: Any,
    section: str,
    cache_dir: Path | None = None,
    workers: int | None = None,
    second: bool = False,
) -> dict[str, np.ndarray]:
    """Beats of the records ``options`` names, cached under a key of everything that shapes
    them (the key layout is the pre-reader release's, so earlier MIT-BIH entries still hit);
    ``second``: from each record's other lead (a key of its own)."""
    names = resolve_records(reader, options.records, section)
    settings = beat_input(options).beat_settings()  # what a model trained on them will eat
    params = {
        "prep_version": prep_version,
        "database": database,
        "settings": settings,
        "records": names,
        "files": fingerprint(reader.folder, names),
    }
    if second:
        params["lead"] = "second"
    return prepare(cache_name, params, reader, names, settings, cache_dir, workers, second)


def count_beats(reader: WfdbFolderReader, names: list[str]) -> dict[str, dict[str, int]]:
    """AAMI beat counts per record (annotations only) plus an ``"all"`` row."""
    table: dict[str, dict[str, int]] = {}
    total = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    for name in names:
        bs, bsym, _, _ = reader.read_beats(name)
        _, labels = aami_labels(bs, bsym)
        counts = np.bincount(labels, minlength=len(CLASS_NAMES))
        total += counts
        table[str(name)] = count_row(counts)
    table["all"] = count_row(total)
    return table


def count_row(counts: np.ndarray, names: list[str] | None = None) -> dict[str, int]:
    """``{"N": ..., ..., "total": n}`` from per-class counts."""
    row = {c: int(n) for c, n in zip(names or CLASS_NAMES, counts, strict=True)}
    row["total"] = int(np.sum(counts))
    return row


def class_counts(y: np.ndarray, class_names: list[str] | None = None) -> dict[str, int]:
    """``{"N": ..., "S": ..., ..., "total": n}`` for labels ``y``."""
    names = class_names or CLASS_NAMES
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(names))[: len(names)]
    return count_row(counts, names)


def split_class_counts(data: PreparedData) -> dict[str, dict[str, int]]:
    """Class counts per split (``train``, ``val``, ``test``, ``all``): a table-ready dict."""
    table = {
        name: class_counts(data.split(name).y, data.class_names)
        for name in ("train", "val", "test")
    }
    table["all"] = {k: sum(table[s][k] for s in ("train", "val", "test")) for k in table["train"]}
    return table


def cap_per_class(
    index: np.ndarray, y: np.ndarray, cap: int, seed: int, section: str
) -> np.ndarray:
    """At most ``cap`` (seeded random) examples of each class among ``index``."""
    if cap < 1:
        raise ConfigError(f"{section}.max_beats_per_class: must be at least 1 (got {cap})")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y[index]):
        members = index[y[index] == c]
        if len(members) > cap:
            members = rng.choice(members, size=cap, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep)).astype(np.int64)


def assemble(
    arrays: dict[str, np.ndarray],
    options: Any,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    meta_split: dict[str, Any],
    dataset: str,
    seed: int,
    section: str,
) -> PreparedData:
    """``PreparedData`` of beats from the cached arrays and ``(train, val, test)`` indices."""
    train, val, test = parts
    y, record = np.asarray(arrays["y"]), np.asarray(arrays["record"])
    if options.max_beats_per_class is not None:
        train = cap_per_class(train, y, options.max_beats_per_class, seed, section)
    excluded = [CLASS_NAMES.index(c) for c in getattr(options, "train_exclude_classes", [])]
    if excluded:  # e.g. Q: 6 DS1 beats cannot carry a class (scored in val/test all the same)
        train = train[~np.isin(y[train], excluded)]
    x = arrays["x"]
    if getattr(options, "median_beat_channel", False):
        median_of = getattr(options, "median_of", "all")
        scaled = getattr(options, "beat_scale", "none") == "record"
        x = median_channel_beats(np.asarray(x), arrays, median_of, scaled)
    feats = arrays["rr"] if options.rr_features else None
    context = context_set(options)
    if context is not None:  # issue 12: label-free RR context instead
        feats = side_features(arrays, context)

    def split(index: np.ndarray) -> ArraySplit:
        xs = np.ascontiguousarray(x[index])
        return ArraySplit(
            xs if xs.ndim == 3 else xs[:, None, :],
            y[index],
            record[index],
            None if feats is None else np.ascontiguousarray(feats[index], dtype=np.float32),
        )

    data = PreparedData(
        train=split(train),
        val=split(val),
        test=split(test),
        class_names=list(CLASS_NAMES),
        sampling_rate=125.0 if options.segmentation == "kachuee" else float(options.fs),
        meta={},
    )
    reasons, counts = np.unique(np.asarray(arrays["dropped_reason"]), return_counts=True)
    data.meta = {
        "dataset": dataset,
        "segmentation": options.segmentation,
        **meta_split,
        "records": [int(r) for r in arrays["records"]],
        "leads": {
            int(r): str(lead) for r, lead in zip(arrays["records"], arrays["leads"], strict=True)
        },
        "n_beats": int(len(y)),
        "beats": class_counts(y),
        "dropped": {str(k): int(v) for k, v in zip(reasons, counts, strict=True)},
        "dropped_beats": class_counts(np.asarray(arrays["dropped_y"])),
        "counts": split_class_counts(data),
        "median_beat_channel": bool(getattr(options, "median_beat_channel", False)),
        "median_of": str(getattr(options, "median_of", "all")),
        "beat_scale": str(getattr(options, "beat_scale", "none")),
        "train_exclude_classes": list(getattr(options, "train_exclude_classes", [])),
        "feature_names": list(RR_FEATURE_NAMES) if options.rr_features else [],
        "side_features": "rr_features" if options.rr_features else None,
    }
    if context is not None:
        data.meta["feature_names"] = list(CONTEXT_SETS[context])
        data.meta["side_features"] = context
    return data


def split_beats(
    y: np.ndarray, record: np.ndarray, options: Any, seed: int, meta: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``intra`` (stratified by beat) or ``group`` (whole records) train/val/test indices."""
    if options.split == "intra":
        rest, test = intra_patient_split(y, options.test_fraction, seed)
        tr, va = stratified_holdout(y[rest], options.val_fraction, seed)
        return rest[tr], rest[va], test
    rest, test = validation_by_group(record, y, options.test_fraction, seed)
    tr, va = validation_by_group(record[rest], y[rest], options.val_fraction, seed)
    meta["test_records"] = sorted(int(r) for r in np.unique(record[test]))
    meta["val_records"] = sorted(int(r) for r in np.unique(record[rest[va]]))
    return rest[tr], rest[va], test
