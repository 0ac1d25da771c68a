"""PTB-XL as a multi-label dataset with its official folds (Wagner et al. 2020; Strodthoff et al.
2021): the options, a two-level memory-mapped cache, the split and what ``data info`` shows.

Preparation has two cached levels. The *signals* entry holds every ECG of the release at one
rate (``(n, n_leads, round(length_s * fs))`` float32, leads by name, first ``length_s`` s or
zero-padded, as :func:`ecgzoo.examples.multilabel.recording_window` makes them for the
2021 records), read from WFDB in chunks of :data:`CHUNK` records by worker processes (all cores
by default) and streamed to disk; every task shares it. The *task* entry holds the ECGs with at
least one label of the task (the benchmark drops the others, as its ``select_data`` does),
ordered train, validation, test, each by ``strat_fold`` then ``ecg_id``, so that each split is a
contiguous slice of a memory-mapped array: a training run's memory is set by its batch, not by
the dataset (21,799 ECGs at 500 Hz are 5.2 GB of float32).

Split: the official ``strat_fold`` (folds 1-8 train, 9 validation, 10 test by default); the
folds keep each patient in one fold, and :func:`load_ptbxl` checks that no patient is in two
splits. Classes: the task's labels that occur in more than ``min_samples`` ECGs (0, the
benchmark's setting: every label that occurs), sorted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets.arrays import ArraySplit, PreparedData, multilabel_data
from ecgzoo.datasets.ptbxl_options import PtbxlOptions  # noqa: F401 (re-exported)

PREP_VERSION = 2  # 2: records read by read_format16 (same values)
CHUNK = 64  # ECGs per streamed chunk
SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")


def _signals_chunk(job: tuple[list[Path], PtbxlOptions]) -> dict[str, np.ndarray]:
    from ecgzoo.examples.multilabel import recording_window
    from ecgzoo.readers.ptbxl import read_format16
    from ecgzoo.readers.wfdb_io import read_wfdb

    bases, options = job
    xs, lengths = [], []
    for base in bases:
        rec = read_format16(base) or read_wfdb(
            base, database="ptbxl", expected_fs=(float(options.fs),)
        )
        if rec.fs != options.fs:
            from ecgzoo.errors import DataError

            raise DataError(f"{base}.hea: {rec.fs:g} Hz, expected {options.fs} Hz")
        x, real = recording_window(rec, options)
        xs.append(x)
        lengths.append(real)
    return {"x": np.stack(xs).astype(np.float32), "lengths": np.asarray(lengths, np.int64)}


def default_workers() -> int:
    """Every core: reading WFDB records is CPU-bound (header parsing, scaling, float copies)."""
    return max(1, os.cpu_count() or 1)


def _reader(options: PtbxlOptions, root: Path | None) -> Any:
    from ecgzoo.readers.ptbxl import PtbxlReader, default_root

    return PtbxlReader(root or (Path(options.root) if options.root else default_root()))


def _rank(fold: int, options: PtbxlOptions) -> int:
    return 2 if fold == options.test_fold else 1 if fold == options.val_fold else 0


def prepare(
    options: PtbxlOptions,
    root: Path | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> tuple[dict[str, np.ndarray], list[str], Any]:
    """The task's cached arrays (``x``, ``y`` multi-hot, ``ids`` ecg_id, ``groups`` patient,
    ``folds``, ``lengths``, ``age``, ``sex``) in split order, its class names and the reader."""
    from ecgzoo.datasets.cache import cache_key, cached_arrays
    from ecgzoo.datasets.streaming import ordered_map
    from ecgzoo.errors import DataError
    from ecgzoo.examples.multilabel import multi_hot
    from ecgzoo.readers.ptbxl import task_labels

    reader = _reader(options, root)
    rows = reader.rows[: options.max_records] if options.max_records else reader.rows
    rows = sorted(rows, key=lambda r: (r.strat_fold, r.ecg_id))
    bases = [reader.base(r, options.fs) for r in rows]  # a missing file stops here, named
    sig_params: dict[str, Any] = {
        "prep_version": PREP_VERSION,
        "database": "ptb-xl",
        "root": str(reader.root.resolve()),
        "files": [
            [r.ecg_id, b.with_suffix(".dat").stat().st_size]
            for r, b in zip(rows, bases, strict=True)
        ],
        **options.model_dump(include={"fs", "leads", "length_s", "normalise"}),
    }
    jobs = [(bases[i : i + CHUNK], options) for i in range(0, len(bases), CHUNK)]
    n_workers = default_workers() if workers is None else workers

    def build_signals() -> Iterator[dict]:
        return ordered_map(_signals_chunk, jobs, n_workers)

    signals = cached_arrays("ptbxl-signals", sig_params, build_signals, cache_dir=cache_dir)

    labels = [
        task_labels(r.scp_codes, reader.statements, options.task, options.min_likelihood)
        for r in rows
    ]  # fmt: skip
    counts = Counter(x for ls in labels for x in ls)
    classes = sorted(c for c, n in counts.items() if n > options.min_samples)
    index = {c: k for k, c in enumerate(classes)}
    picked = [i for i, ls in enumerate(labels) if any(x in index for x in ls)]
    if not picked:
        raise DataError(f"{reader.root}: no ECG has a label of task {options.task}")
    picked.sort(key=lambda i: (_rank(rows[i].strat_fold, options), rows[i].strat_fold))
    task_params = {
        "signals": cache_key("ptbxl-signals", sig_params),
        "picked": [rows[i].ecg_id for i in picked],
        "classes": classes,
        **options.model_dump(include={"task", "min_likelihood", "val_fold", "test_fold"}),
    }

    def build_task() -> Iterator[dict]:
        x, lengths = signals["x"], signals["lengths"]
        for s in range(0, len(picked), CHUNK * 8):
            part = picked[s : s + CHUNK * 8]
            sel = [rows[i] for i in part]
            yield {
                "x": np.asarray(x[part], dtype=np.float32),
                "lengths": np.asarray(lengths[part], dtype=np.int64),
                "y": multi_hot(
                    [[index[c] for c in labels[i] if c in index] for i in part], len(classes)
                ),  # fmt: skip
                "ids": np.asarray([r.ecg_id for r in sel], dtype=np.int64),
                "groups": np.asarray([r.patient_id for r in sel], dtype="U12"),
                "folds": np.asarray([r.strat_fold for r in sel], dtype=np.int64),
                "age": np.asarray([np.nan if r.age is None else r.age for r in sel], np.float32),
                "sex": np.asarray([r.sex or "" for r in sel], dtype="U1"),
            }

    arrays = cached_arrays("ptbxl", task_params, build_task, cache_dir=cache_dir)
    return arrays, classes, reader


#: Label groups of the PTB-XL tasks loaded in this process, by their class names (filled by
#: :func:`load_ptbxl`; ``ecgzoo.train.multilabel.label_groups`` asks :func:`known_groups`).
_GROUPS: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}


def known_groups(class_names: list[str]) -> dict[str, tuple[str, ...]] | None:
    """The label groups of a PTB-XL task with exactly these classes, if one was loaded."""
    return _GROUPS.get(tuple(class_names))


def check_patients_disjoint(groups: np.ndarray, parts: dict[str, slice], where: str) -> None:
    """DataError naming a patient found in two splits (PTB-XL's folds never do that)."""
    from ecgzoo.errors import DataError

    seen: dict[str, str] = {}
    for name, part in parts.items():
        for patient in set(np.asarray(groups[part]).tolist()):
            if patient in seen:
                raise DataError(
                    f"{where}: patient {patient} is in both the {seen[patient]} and the {name} "
                    "split: the strat_fold split is not patient-disjoint"
                )
            seen[patient] = name


def load_ptbxl(
    options: PtbxlOptions,
    seed: int = 0,
    root: Path | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> PreparedData:
    """Train/val/test PTB-XL ECGs of one task by ``strat_fold``; the splits are memory-mapped
    slices. ``seed`` is unused: the official folds fix the split."""
    from ecgzoo.readers.ptbxl import DB_CSV, label_groups

    arrays, classes, reader = prepare(options, root, cache_dir, workers)
    folds = np.asarray(arrays["folds"])
    ranks = np.where(folds == options.test_fold, 2, np.where(folds == options.val_fold, 1, 0))
    ends = np.searchsorted(ranks, [1, 2, 3])  # ranks are sorted by construction
    parts = {
        "train": slice(0, ends[0]),
        "val": slice(ends[0], ends[1]),
        "test": slice(ends[1], None),
    }
    groups, lengths, y = np.asarray(arrays["groups"]), np.asarray(arrays["lengths"]), arrays["y"]
    check_patients_disjoint(groups, parts, str(reader.root / DB_CSV))
    x = arrays["x"]
    splits = {  # slices of a memory-mapped x: views, never copies
        k: ArraySplit(x[p], np.asarray(y[p]), groups[p], lengths=lengths[p])
        for k, p in parts.items()
    }
    _GROUPS[tuple(classes)] = label_groups(classes, reader.statements, options.task)
    return multilabel_data(
        "ptbxl", splits, parts, y, lengths, classes, options,
        task=options.task,
        folds={k: sorted(set(folds[p].tolist())) for k, p in parts.items()},
        label_groups={k: list(v) for k, v in _GROUPS[tuple(classes)].items()},
    )  # fmt: skip


def fold_table(options: PtbxlOptions, root: Path | None = None) -> list[dict[str, Any]]:
    """One row per ``strat_fold``: ECGs, patients, and ECGs per diagnostic superclass (any
    likelihood above ``min_likelihood``), from the table alone (no signal is read)."""
    from ecgzoo.readers.ptbxl import task_labels

    reader = _reader(options, root)
    rows = reader.rows[: options.max_records] if options.max_records else reader.rows
    out = []
    for fold in range(1, 11):
        inside = [r for r in rows if r.strat_fold == fold]
        supers = Counter(
            c
            for r in inside
            for c in task_labels(
                r.scp_codes, reader.statements, "superdiagnostic", options.min_likelihood
            )  # fmt: skip
        )
        split = ("train", "val", "test")[_rank(fold, options)]
        row: dict[str, Any] = {"fold": str(fold), "split": split, "ECGs": len(inside)}
        row["patients"] = len({r.patient_id for r in inside})
        row.update({c: supers.get(c, 0) for c in SUPERCLASSES})
        out.append(row)
    total: dict[str, Any] = {"fold": "all", "split": ""}
    for key in ("ECGs", "patients", *SUPERCLASSES):
        total[key] = sum(r[key] for r in out)
    total["patients"] = len({r.patient_id for r in rows})
    return [*out, total]


def release_line(root: Path) -> str:
    """One line on a fetched copy: the whole 1.0.3 release, or a partial one and how much."""
    from ecgzoo.readers.ptbxl import release_summary

    s = release_summary(root)
    records = s["records"]
    rates = f"{records[100]:,} records at 100 Hz, {records[500]:,} at 500 Hz"  # type: ignore[index]
    if s["partial"]:
        return (
            f"partial copy of PTB-XL 1.0.3: {s['rows']:,} of its "
            f"{s['full_records']:,} ECGs in ptbxl_database.csv ({rates}; RECORDS lists "
            f"{s['listed']:,})"
        )
    return f"PTB-XL 1.0.3, the whole release: {s['rows']:,} ECGs ({rates})"


def info_extras(options: PtbxlOptions) -> dict[str, Any]:
    """The registry's ``info`` hook: ECGs per ``strat_fold`` and superclass."""
    return {"tables": [("ptbxl: ECGs per strat_fold and superclass", fold_table(options))]}
