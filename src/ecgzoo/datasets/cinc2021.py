"""PhysioNet/CinC Challenge 2021 (12-lead) as a multi-label dataset of fixed-length recordings.

``readers.cinc2021`` reads records and the scored classes; ``examples.multilabel`` turns each
into ``(n_leads, round(length_s * fs))`` float32 (leads by name, resampled, first ``length_s``
seconds or zero-padded) and a multi-hot target over the scored classes (codes joined by ``|``
are one class). Preparation streams chunks of :data:`CHUNK` records into a memory-mapped cache
entry (in worker processes when ``workers`` > 1), so the full 88,000-record training set never
has to fit in memory. Splits: seeded, stratified by each record's rarest scored class (records
with none form their own stratum); ``groups`` are ``source/NAME``. The multi-label training
itself is another stage's: this module prepares arrays, targets and class names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets.arrays import ArraySplit, PreparedData, multilabel_data
from ecgzoo.datasets.cache import cached_arrays
from ecgzoo.datasets.cinc2021_options import Cinc2021Options
from ecgzoo.datasets.splits import stratified_holdout, stratified_kfold
from ecgzoo.datasets.streaming import ordered_map
from ecgzoo.errors import DataError
from ecgzoo.examples.multilabel import multi_hot, recording_window
from ecgzoo.readers.cinc2021 import Cinc2021Reader, default_paths

PREP_VERSION = 1
CHUNK = 64  # records per streamed chunk


def _chunk(job: tuple[Cinc2021Reader, list[str], Cinc2021Options, np.dtype]) -> dict:
    reader, names, options, ids_dtype = job
    xs, lengths, targets, ages, sexes, groups = [], [], [], [], [], []
    for name in names:
        rec = reader.read(name)
        x, real = recording_window(rec, options)
        xs.append(x)
        lengths.append(real)
        targets.append(reader.scored(rec.labels))
        ages.append(np.nan if rec.age is None else rec.age)
        sexes.append(rec.sex or "")
        groups.append(rec.patient)
    return {
        "x": np.stack(xs).astype(np.float32),
        "y": multi_hot(targets, len(reader.classes.abbreviations)),
        "ids": np.asarray(names, dtype=ids_dtype),
        "groups": np.asarray(groups, dtype=ids_dtype),
        "lengths": np.asarray(lengths, dtype=np.int64),
        "age": np.asarray(ages, dtype=np.float32),
        "sex": np.asarray(sexes, dtype="U1"),
    }


def prepare(
    options: Cinc2021Options,
    root: Path | None = None,
    scoring: Path | None = None,
    cache_dir: Path | None = None,
    workers: int = 1,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Cached arrays (``x``, ``y`` multi-hot, ``ids``, ``groups``, ``lengths``, ``age``, ``sex``)
    of the selected records, and the scored class names."""
    if root is None or scoring is None:
        d_root, d_scoring = default_paths()
        root, scoring = root or d_root, scoring or d_scoring
    reader = Cinc2021Reader(root, scoring, options.sources)
    names = reader.list_records()
    if options.max_records is not None:
        names = names[: options.max_records]
    files = []
    for name in names:
        base = Path(root) / name
        sizes = [p.stat().st_size for p in (base.with_suffix(".hea"), base.with_suffix(".mat"))
                 if p.is_file()]  # fmt: skip
        files.append([name, *sizes])
    params: dict[str, Any] = {
        "prep_version": PREP_VERSION,
        "database": "challenge-2021",
        "root": str(Path(root).resolve()),
        "classes": reader.classes.abbreviations,
        "files": files,
        **options.model_dump(include={"leads", "fs", "length_s", "normalise"}),
    }
    ids_dtype = np.asarray(names).dtype
    jobs = [(reader, names[i : i + CHUNK], options, ids_dtype) for i in range(0, len(names), CHUNK)]

    def build() -> Iterator[dict]:
        return ordered_map(_chunk, jobs, workers)

    arrays = cached_arrays("cinc2021", params, build, cache_dir=cache_dir)
    return arrays, reader.classes.abbreviations


def _strata(y: np.ndarray) -> np.ndarray:
    """Each record's rarest scored class (``n_classes`` when it has none)."""
    counts = y.sum(axis=0)
    rarity = np.where(y > 0, counts[None, :], np.inf)
    return np.where(np.isfinite(rarity).any(axis=1), np.argmin(rarity, axis=1), y.shape[1])


def load_cinc2021(
    options: Cinc2021Options,
    seed: int = 0,
    root: Path | None = None,
    scoring: Path | None = None,
    cache_dir: Path | None = None,
    workers: int = 1,
) -> PreparedData:
    """Train/val/test multi-label 2021 recordings: ``x`` ``(n, n_leads, L)``, ``y`` float32
    multi-hot ``(n, n_classes)``; ``meta["lengths"]`` per split, ``meta["multilabel"]``."""
    arrays, class_names = prepare(options, root, scoring, cache_dir, workers)
    y = np.asarray(arrays["y"])
    if len(y) < 3:
        raise DataError(f"challenge-2021: {len(y)} record(s) are too few to split")
    strata = _strata(y)
    if options.n_folds is None:
        rest, test = stratified_holdout(strata, options.test_fraction, seed)
    else:  # k-fold: every record is tested once over the n_folds runs
        rest, test = stratified_kfold(strata, options.n_folds, options.fold, seed)
    tr, va = stratified_holdout(strata[rest], options.val_fraction, seed)
    parts = {"train": rest[tr], "val": rest[va], "test": test}
    x, groups, lengths = arrays["x"], np.asarray(arrays["groups"]), np.asarray(arrays["lengths"])
    splits = {k: ArraySplit(np.asarray(x[i]), y[i], groups[i]) for k, i in parts.items()}
    return multilabel_data("cinc2021", splits, parts, y, lengths, class_names, options)
