"""PhysioNet/CinC Challenge 2017 as a dataset: recordings -> fixed-length windows, splits.

Reading (folder or zip, reference files, the 300 Hz rule) is ``readers.cinc2017``; windows
(pad/trim, spectrogram, scalogram, real lengths) are ``examples.windows``. This module names the
cache key, the labels (``v3`` or ``original``) and the splits. Shapes, with
``L = round(length_s * fs)``: ``raw`` ``(n, 1, L)``, ``spectrogram`` ``(n, F, T)``,
``scalogram`` ``(n, n_scales, L // scalogram_step)``. ``meta["lengths"][split]`` holds each
example's real positions along the last axis; ``PreparedData.sampling_rate`` is that axis' rate
and ``meta["signal_fs"]`` the signal's. ``meta["random_crop_samples"]`` (from ``random_crop_s``)
asks the training loop to draw one ``transforms.random_crop`` per training batch.

Preparation streams: records are read and windowed in chunks of :data:`CHUNK` (in worker
processes when there are many) and appended to the cache entry, so memory holds one chunk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets.arrays import ArraySplit, PreparedData
from ecgzoo.datasets.cache import cached_arrays
from ecgzoo.datasets.cinc2017_options import Cinc2017Options
from ecgzoo.datasets.input_specs import window_input
from ecgzoo.datasets.streaming import ordered_map
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.examples.windows import (
    axis_lengths,
    axis_rate,
    hop,
    n_samples_for,
    prepare_windows,
    scalogram_step,
)
from ecgzoo.readers.archive import record_folder, records_dir, zip_member_text
from ecgzoo.readers.cinc2017 import (
    CLASS_NAMES,
    DATABASE,
    FS,
    ORIGINAL_REFERENCE,
    PARALLEL_MIN,
    RECORDS_DIR,
    V3_REFERENCE,
    check_rate,
    default_workers,
    load_recordings,
    parse_reference,
    read_all,
    read_reference,
    record_lengths,
)

__all__ = [
    "CLASS_NAMES",
    "DATABASE",
    "FS",
    "axis_lengths",
    "axis_rate",
    "load_cinc2017",
    "load_external",
    "load_recordings",
    "n_samples_for",
    "read_reference",
    "record_lengths",
    "record_table",
    "reference_for",
    "summary",
    "training_source",
]

CHUNK = 256  # records per streamed chunk (a multiple of the transforms' batches)


def _windows_chunk(job: tuple) -> dict[str, np.ndarray]:
    jobs, labels, ids_dtype, options = job
    read = read_all(jobs, 1)
    signals = [
        check_rate(sig, rate, FS, False, display(f"{name}.hea"))
        for (_, name, display), (sig, rate) in zip(jobs, read, strict=True)
    ]
    x, lengths = window_input(options).windows(signals, FS, "data.cinc2017")  # as models eat
    return {
        "x": x,
        "y": label_index(labels),
        "ids": np.asarray([name for _, name, _ in jobs], dtype=ids_dtype),
        "lengths": lengths,
    }


def stream_windows(
    source: Path,
    ref: Mapping[str, str],
    options: Cinc2017Options,
    n_workers: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Chunks of prepared windows of every record of ``ref`` (sorted by id), in order."""
    ids = sorted(ref)
    ids_dtype = np.asarray(ids).dtype
    workers = default_workers() if n_workers is None else max(1, int(n_workers))
    with record_folder(source, ids) as (folder, display):
        jobs = [
            ([(str(folder), r, display) for r in ids[i : i + CHUNK]],
             [ref[r] for r in ids[i : i + CHUNK]], ids_dtype, options)
            for i in range(0, len(ids), CHUNK)
        ]  # fmt: skip
        if len(ids) < PARALLEL_MIN:
            workers = 1
        yield from ordered_map(_windows_chunk, jobs, workers)


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` examples keeping class proportions (every class at least one)."""
    if n >= len(y):
        return np.arange(len(y))
    if n < 1:
        raise ConfigError(f"data.cinc2017.max_records: must be positive (got {n})")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = np.maximum(1, np.floor(counts * n / len(y)).astype(int))
    quota = np.minimum(quota, counts)
    while quota.sum() < n:  # hand leftovers to the classes with the largest remainders
        room = counts - quota
        gap = counts * n / len(y) - quota
        gap[room == 0] = -np.inf
        quota[int(np.argmax(gap))] += 1
    while quota.sum() > n:
        quota[int(np.argmax(quota))] -= 1
    picks = [
        rng.choice(np.flatnonzero(y == c), q, replace=False)
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picks))


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def training_source(root: Path) -> Path:
    """The records of a challenge folder: ``training2017/``, else ``training2017.zip``."""
    for candidate in (root / RECORDS_DIR, root / f"{RECORDS_DIR}.zip"):
        if candidate.exists():
            return candidate
    if root.is_file() and root.suffix == ".zip":
        return root
    raise DataError(f"{root}: neither {RECORDS_DIR}/ nor {RECORDS_DIR}.zip found")


def reference_for(labels: str, root: Path, source: Path) -> tuple[dict[str, str], str]:
    """The label mapping for ``labels`` (v3 or original) and a digest of its text."""
    if labels == "v3":
        path = root / V3_REFERENCE if root.is_dir() else root.parent / V3_REFERENCE
        ref = read_reference(path)
        return ref, file_sha(path)
    if source.is_dir():
        path = records_dir(source) / ORIGINAL_REFERENCE
        return read_reference(path), file_sha(path)
    text = zip_member_text(source, ORIGINAL_REFERENCE)
    if text is None:
        raise DataError(f"{source}: {ORIGINAL_REFERENCE} not found in the archive")
    ref = parse_reference(text, f"{source}:{ORIGINAL_REFERENCE}")
    return ref, hashlib.sha256(text.encode()).hexdigest()[:16]


def resolve_root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    from ecgzoo.fetch.physionet import fetch

    return fetch(*DATABASE)


def label_index(labels: Sequence[str]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(CLASS_NAMES)}
    return np.asarray([lookup[v] for v in labels], dtype=np.int64)


def splits(
    y: np.ndarray, options: Cinc2017Options, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ecgzoo.datasets.splits import stratified_holdout, stratified_kfold

    if options.fold is None:
        train_all, test = stratified_holdout(y, options.test_fraction, seed)
    else:
        train_all, test = stratified_kfold(y, options.n_folds, options.fold, seed)
    if options.val_fold is None:
        tr, va = stratified_holdout(y[train_all], options.val_fraction, seed)
    else:
        tr, va = stratified_kfold(y[train_all], options.n_val_folds, options.val_fold, seed)
    return train_all[tr], train_all[va], test


def split_name(options: Cinc2017Options) -> str:
    """How the test and validation parts were drawn, e.g. ``holdout, val fold 1/4``."""
    test = "holdout" if options.fold is None else f"fold {options.fold}/{options.n_folds}"
    if options.val_fold is None:
        return test
    return f"{test}, val fold {options.val_fold}/{options.n_val_folds}"


def load_cinc2017(
    options: Cinc2017Options,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    n_workers: int | None = None,
) -> PreparedData:
    """Prepared train/val/test splits of challenge 2017 (see the module docstring for shapes).

    ``root``: a folder with ``training2017/`` (or ``training2017.zip``) and
    ``REFERENCE-v3.csv``; default: ``ecgzoo.fetch.physionet.fetch("challenge-2017", "1.0.0")``.
    Labels come from ``REFERENCE-v3.csv`` (``labels: v3``) or ``training2017/REFERENCE.csv``
    (``labels: original``). Splits (all stratified by class, seeded): without ``fold``,
    ``test_fraction`` (0.2) for testing, then ``val_fraction`` (0.25) of the rest for
    validation, 60/20/20 overall as in the spectrogram study; with ``fold``, fold ``fold`` of a
    ``n_folds``-fold split is the test set and validation comes from the other folds; with
    ``val_fold``, validation is that fold of an ``n_val_folds``-fold split of the non-test part
    (the members of a k-fold ensemble share one test split).
    ``max_records`` keeps a stratified subset (seeded by ``seed``). The prepared arrays of all
    kept records are cached (``cached_arrays``) under a key of every option that shapes them.
    ``fill`` says what follows a recording shorter than ``length_s`` (zeros, or the recording
    tiled or mirrored); every split's ``lengths`` holds the real positions, which crops keep to.
    """
    if options.random_crop_s is not None and options.random_crop_s > options.length_s:
        raise ConfigError(
            f"data.cinc2017.random_crop_s: {options.random_crop_s} s exceeds length_s "
            f"({options.length_s} s)"
        )
    if options.transform == "spectrogram":
        hop(options)
    root = resolve_root(root)
    source = training_source(root)
    ref, ref_digest = reference_for(options.labels, root, source)
    ids_all = sorted(ref)
    y_all = label_index([ref[r] for r in ids_all])
    keep = np.arange(len(ids_all))
    if options.max_records is not None:
        keep = stratified_subset(y_all, options.max_records, seed)
    ids = [ids_all[i] for i in keep]

    shaping = options.model_dump(
        include={"labels", "length_s", "fs", "transform", "max_records", "normalise"}
    )
    if options.fill != "zero":  # absent for zero padding: earlier caches keep their keys
        shaping["fill"] = options.fill
    if options.transform == "spectrogram":
        shaping.update(nperseg=options.nperseg, noverlap=options.noverlap, fmax=options.fmax)
    if options.transform == "scalogram":
        shaping.update(n_scales=options.n_scales, step=scalogram_step(options))
    params: dict[str, Any] = {
        "root": str(source.resolve()),
        "reference": ref_digest,
        "subset_seed": seed if options.max_records is not None else None,
        **shaping,
    }

    def build() -> Iterator[dict[str, np.ndarray]]:
        return stream_windows(source, {r: ref[r] for r in ids}, options, n_workers)

    arrays = cached_arrays("cinc2017", params, build, cache_dir=cache_dir)
    x, y, groups, lengths = arrays["x"], arrays["y"], arrays["ids"], arrays["lengths"]
    train, val, test = splits(y, options, seed)
    rate = axis_rate(options)
    parts = {"train": train, "val": val, "test": test}
    meta: dict[str, Any] = {
        "dataset": "cinc2017",
        "labels": options.labels,
        "transform": options.transform,
        "signal_fs": float(options.fs),
        "n_signal_samples": n_samples_for(options),
        "split": split_name(options),
        "root": str(root),
        "lengths": {name: lengths[idx].tolist() for name, idx in parts.items()},
        "random_crop_samples": (
            None if options.random_crop_s is None else int(round(options.random_crop_s * rate))
        ),
    }
    lengths = np.asarray(lengths, dtype=np.int64)
    return PreparedData(
        train=ArraySplit(x[train], y[train], groups[train], lengths=lengths[train]),
        val=ArraySplit(x[val], y[val], groups[val], lengths=lengths[val]),
        test=ArraySplit(x[test], y[test], groups[test], lengths=lengths[test]),
        class_names=list(CLASS_NAMES),
        sampling_rate=rate,
        meta=meta,
    )


def load_external(
    path: str | Path,
    reference: str | Path | Mapping[str, str] | None,
    options: Cinc2017Options,
    *,
    resample: bool = False,
    n_workers: int | None = None,
    spec: InputSpec | None = None,
) -> ArraySplit:
    """An external test set in the challenge format, prepared exactly like ``load_cinc2017``.

    ``path``: a folder or zip of records; ``reference``: its ``RECORD,LABEL`` file (``None``:
    ``REFERENCE.csv`` inside the folder or zip). ``resample`` accepts headers at rates other
    than 300 Hz. Examples are sorted by record id; ``groups`` holds the ids. ``spec``: a trained
    model's ``InputSpec`` (``evaluate --data``), which then prepares the windows (the same
    function, with the options the model was trained with).
    """
    path = Path(path)
    if reference is None:
        if path.is_dir():
            reference = records_dir(path) / ORIGINAL_REFERENCE
        else:
            text = zip_member_text(path, ORIGINAL_REFERENCE)
            if text is None:
                raise DataError(f"{path}: no {ORIGINAL_REFERENCE} inside; pass a reference file")
            reference = parse_reference(text, f"{path}:{ORIGINAL_REFERENCE}")
    signals, labels, ids = load_recordings(
        path, reference, fs=FS, resample=resample, n_workers=n_workers
    )
    if spec is not None:
        x, lengths = spec.windows(signals, FS)
    else:
        x, lengths = prepare_windows(signals, options, FS)
    return ArraySplit(x, label_index(labels), np.asarray(ids), lengths=lengths)


# --------------------------------------------------------------------------- summary


def record_table(
    root: str | Path | None = None, labels: str = "v3"
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Record ids, their labels and their lengths in seconds (headers only, no signals)."""
    if labels not in ("v3", "original"):
        raise ConfigError(f"labels: must be 'v3' or 'original' (got {labels!r})")
    root = resolve_root(root)
    source = training_source(root)
    ref, _ = reference_for(labels, root, source)
    ids = sorted(ref)
    return ids, np.asarray([ref[r] for r in ids]), record_lengths(source, ids)


def summary(root: str | Path | None = None, labels: str = "v3") -> dict[str, Any]:
    """Class counts and recording-length distribution (seconds), for ``ecgzoo data info``.

    Reads the reference and the headers only. Returns ``{"database", "labels", "n_records",
    "class_counts": {label: n}, "length_s": {"min", "p5", "median", "mean", "p95", "max"},
    "length_histogram_s": {"<10", "10-20", ..., ">=60": n}, "median_length_s_by_class"}``.
    """
    root = resolve_root(root)
    ids, y, lengths = record_table(root, labels)
    edges = [0, 10, 20, 30, 40, 50, 60, np.inf]
    hist, _ = np.histogram(lengths, bins=edges)
    names = ["<10", "10-20", "20-30", "30-40", "40-50", "50-60", ">=60"]
    return {
        "database": "challenge-2017 1.0.0",
        "labels": labels,
        "root": str(root),
        "n_records": len(ids),
        "class_counts": {c: int(np.sum(y == c)) for c in CLASS_NAMES},
        "length_s": {
            "min": float(lengths.min()),
            "p5": float(np.percentile(lengths, 5)),
            "median": float(np.median(lengths)),
            "mean": float(lengths.mean()),
            "p95": float(np.percentile(lengths, 95)),
            "max": float(lengths.max()),
        },
        "length_histogram_s": {n: int(h) for n, h in zip(names, hist, strict=True)},
        "median_length_s_by_class": {
            c: float(np.median(lengths[y == c])) if np.any(y == c) else None for c in CLASS_NAMES
        },
    }


def external_split(
    options: Cinc2017Options, path: Any, reference: Any, spec: InputSpec | None
) -> tuple[ArraySplit, list[str], float]:
    """The registry's ``external`` hook: an external test set in the challenge format, its
    class names and the rate of the model's time axis (``evaluate --data --reference``)."""
    arrays = load_external(path, reference, options, spec=spec)
    return arrays, list(CLASS_NAMES), axis_rate(options)


def info_extras(options: Cinc2017Options) -> dict[str, Any]:
    """The registry's ``info`` hook: the recording-length table and the lengths to plot."""
    _, labels, lengths = record_table(labels=options.labels)
    rows = [
        {"statistic": k, "seconds": v}
        for k, v in summary(labels=options.labels)["length_s"].items()
    ]
    return {"tables": [("recording length", rows)], "lengths": (lengths, labels)}
