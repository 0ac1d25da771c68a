"""A multi-label task of real size from MIT-BIH and SVDB: rhythms and ectopic beats per window.

Every record (read by ``readers.mitdb`` / ``readers.svdb``, both leads) is resampled to one
rate (128 Hz by default, SVDB's own) and cut into windows of ``window_s`` seconds. A window is
labelled with every rhythm in force in it (the WFDB ``+`` annotations' aux notes, ``(AFIB`` ->
``AFIB``: the rhythm in force at its start and any that begins inside it), ``other`` for a
rhythm outside the chosen labels, and ``S_beat`` / ``V_beat`` when it holds a beat of the
AAMI S (``A a J S``) / V (``V E``) class. Targets are multi-hot float32.

A record without any rhythm annotation (51 of the 52 SVDB records of the mirror: SVDB's
``.atr`` files annotate beats, and one record has a single ``(N``) has unknown rhythms, not
absent ones: with rhythm labels it is left out; with beat labels only (``S_beat``, ``V_beat``)
every record takes part.

Splits are by record (no record on two sides; MIT-BIH 201 and 202 come from one patient and
form one group), stratified by each window's rarest label (scikit-learn's
``StratifiedGroupKFold`` via :mod:`ecgzoo.datasets.splits`). The leads are kept in each record's
order (MIT-BIH: MLII first in 45 of 48 records; SVDB: ECG1, ECG2): the task is lead-agnostic.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets.arrays import ArraySplit, PreparedData
from ecgzoo.datasets.beatset import fingerprint
from ecgzoo.datasets.cache import cached_arrays
from ecgzoo.datasets.rhythm_windows_options import RhythmWindowsOptions
from ecgzoo.datasets.splits import check_disjoint, group_holdout
from ecgzoo.errors import DataError
from ecgzoo.examples import transforms
from ecgzoo.examples.beats import AAMI_SYMBOLS
from ecgzoo.examples.multilabel import positives
from ecgzoo.readers.records import Record

PREP_VERSION = 1
PACED = ("102", "104", "107", "217")  # MIT-BIH records with paced beats (AAMI leaves them out)
SAME_PATIENT = {"mitdb/202": "mitdb/201"}  # MIT-BIH 201 and 202 are one patient
BEAT_LABELS = {"S_beat": AAMI_SYMBOLS["S"], "V_beat": AAMI_SYMBOLS["V"]}
OTHER = "other"

__all__ = ["load_rhythm_windows", "prepare", "rhythm_code", "window_targets"]


def rhythm_code(aux: str) -> str:
    """``"(AFIB"`` -> ``"AFIB"`` (the aux note of a WFDB rhythm annotation)."""
    return str(aux).strip().strip("\x00").lstrip("(").strip()


def window_targets(
    record: Record, starts: np.ndarray, length: int, labels: list[str], fs: float
) -> np.ndarray:
    """Multi-hot ``(len(starts), len(labels))`` of windows ``[s, s + length)`` at ``fs`` Hz.

    Annotation samples are at ``record.fs`` and are mapped onto ``fs`` first.
    """
    scale = fs / record.fs
    index = {name: k for k, name in enumerate(labels)}
    y = np.zeros((len(starts), len(labels)), dtype=np.float32)
    ends = starts + length
    r_at = np.floor(np.asarray(record.rhythm_samples, dtype=np.float64) * scale).astype(np.int64)
    codes = [rhythm_code(a) for a in record.rhythm_labels]
    for j, (at, code) in enumerate(zip(r_at, codes, strict=True)):
        # in force from ``at`` until the next rhythm change (or the end of the record)
        until = r_at[j + 1] if j + 1 < len(r_at) else np.iinfo(np.int64).max
        hit = (starts < until) & (ends > at)
        k = index.get(code, index.get(OTHER))
        if k is not None:
            y[hit, k] = 1.0
    b_at = np.floor(np.asarray(record.beat_samples, dtype=np.float64) * scale).astype(np.int64)
    for name, symbols in BEAT_LABELS.items():
        if name not in index:
            continue
        at = b_at[np.isin(record.beat_symbols, list(symbols))]
        # windows holding at least one such beat: count beats before each end and start
        inside = np.searchsorted(np.sort(at), ends) - np.searchsorted(np.sort(at), starts)
        y[inside > 0, index[name]] = 1.0
    return y


def _readers(options: RhythmWindowsOptions) -> dict[str, Any]:
    from ecgzoo.readers.mitdb import MitdbReader
    from ecgzoo.readers.svdb import SvdbReader

    made = {"mitdb": MitdbReader, "svdb": SvdbReader}
    return {db: made[db]() for db in options.databases}


def record_ids(options: RhythmWindowsOptions, readers: dict[str, Any]) -> list[str]:
    """``db/record`` ids of the selected records (paced MIT-BIH records left out if asked)."""
    ids = []
    for db, reader in readers.items():
        for name in reader.list_records():
            if db == "mitdb" and options.exclude_paced and name in PACED:
                continue
            ids.append(f"{db}/{name}")
    if options.records is not None:
        unknown = sorted(set(options.records) - set(ids))
        if unknown:
            raise DataError(
                f"data.rhythm_windows.records: unknown record(s) {', '.join(unknown)} "
                "(write them as mitdb/100 or svdb/802)"
            )
        ids = [i for i in ids if i in set(options.records)]
    if not ids:
        raise DataError("data.rhythm_windows: no records selected")
    return ids


def _windows(job: tuple[Any, str, RhythmWindowsOptions]) -> dict[str, np.ndarray]:
    reader, rid, options = job
    rec = reader.read(rid.split("/", 1)[1])
    fs = float(options.fs)
    sig = transforms.resample(np.nan_to_num(rec.signal[:2]), rec.fs, fs).astype(np.float32)
    length = int(round(options.window_s * fs))
    hop = int(round((options.hop_s or options.window_s) * fs))
    starts = np.arange(0, sig.shape[-1] - length + 1, hop, dtype=np.int64)
    x = np.stack([sig[:, s : s + length] for s in starts]) if len(starts) else None
    if x is None:
        x = np.zeros((0, sig.shape[0], length), dtype=np.float32)
    elif options.normalise:
        x = transforms.normalise(x)
    if len(rec.rhythm_samples) == 0 and set(options.labels) - set(BEAT_LABELS):
        # No rhythm annotation at all (51 of the 52 SVDB records of the mirror): its rhythms
        # are unknown, not absent, so its windows cannot carry rhythm targets; leave it out.
        starts, x = starts[:0], x[:0]
    n = len(starts)
    group = SAME_PATIENT.get(rid, rid)
    return {
        "x": x.astype(np.float32),
        "y": window_targets(rec, starts, length, list(options.labels), fs),
        "record": np.asarray([rid] * n, dtype="U16"),
        "group": np.asarray([group] * n, dtype="U16"),
        "start": starts,
    }


def prepare(options: RhythmWindowsOptions, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Cached windows: ``x`` (n, 2, window), multi-hot ``y``, ``record``, ``group``, ``start``."""
    readers = _readers(options)
    ids = record_ids(options, readers)
    params: dict[str, Any] = {
        "prep_version": PREP_VERSION,
        "databases": {db: "1.0.0" for db in readers},
        "records": ids,
        "files": {
            db: fingerprint(r.folder, [i.split("/", 1)[1] for i in ids if i.startswith(db + "/")])
            for db, r in readers.items()
        },
        **options.model_dump(exclude={"records", "test_fraction", "val_fraction"}),
    }

    def build() -> Iterator[dict[str, np.ndarray]]:
        for rid in ids:
            yield _windows((readers[rid.split("/", 1)[0]], rid, options))

    return cached_arrays("rhythm_windows", params, build, cache_dir=cache_dir)


def strata(y: np.ndarray) -> np.ndarray:
    """Each window's rarest label (``n_labels`` when it has none), for stratified splits."""
    counts = y.sum(axis=0)
    rarity = np.where(y > 0, counts[None, :], np.inf)
    return np.where(np.isfinite(rarity).any(axis=1), np.argmin(rarity, axis=1), y.shape[1])


def load_rhythm_windows(
    options: RhythmWindowsOptions, seed: int = 0, cache_dir: Path | None = None
) -> PreparedData:
    """Train/val/test windows split by record (group-aware, stratified by rarest label)."""
    arrays = prepare(options, cache_dir)
    y = np.asarray(arrays["y"])
    groups = np.asarray(arrays["group"])
    if len(np.unique(groups)) < 3:
        raise DataError("data.rhythm_windows: need at least 3 records (patients) to split")
    s = strata(y)
    rest, test = group_holdout(groups, s, options.test_fraction, seed)
    tr, va = group_holdout(groups[rest], s[rest], options.val_fraction, seed)
    parts = {"train": rest[tr], "val": rest[va], "test": test}
    check_disjoint(groups, **parts)
    x = arrays["x"]
    splits = {k: ArraySplit(np.asarray(x[i]), y[i], groups[i]) for k, i in parts.items()}
    names = list(options.labels)
    fs = float(options.fs)
    return PreparedData(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        class_names=names,
        sampling_rate=fs,
        meta={
            "dataset": "rhythm_windows",
            "multilabel": True,
            "signal_fs": fs,
            "records": {
                k: sorted(set(np.asarray(arrays["record"])[i].tolist())) for k, i in parts.items()
            },  # fmt: skip
            "positives": {k: positives(y[i], names) for k, i in parts.items()},
            "random_crop_samples": None,
        },
    )


def label_groups(class_names: list[str]) -> dict[str, tuple[str, ...]] | None:
    """The registry's ``label_groups`` hook: rhythms and ectopic beats, for a class list that
    holds beat labels (``None`` otherwise)."""
    beats = tuple(n for n in class_names if n in BEAT_LABELS)
    if not beats:
        return None
    rhythms = tuple(n for n in class_names if n not in BEAT_LABELS)
    return {"rhythms": rhythms, "ectopic beats": beats} if rhythms else {"ectopic beats": beats}
