"""MIT-BIH Arrhythmia Database records -> labelled heartbeats (AAMI EC57 classes).

Records are read with ``wfdb`` (one lead: MLII; records 102 and 104 have no MLII, so their
V5 lead is used, and failing both the first lead). Beat annotations are mapped to the five
AAMI EC57 classes (N: N L R e j; S: A a J S; V: V E; F: F; Q: / f Q); every other
annotation (rhythm changes, noise, ``!`` flutter waves, ``x`` non-conducted P waves, ``|``
artefacts, ...) is skipped. Over the 48 records that gives 109,494 beats:
N 90,631, S 2,781, V 7,236, F 803, Q 8,043.

Two segmentations:

``kachuee`` (Kachuee, Fazeli, Sarrafzadeh 2018; the Kaggle "ECG Heartbeat Categorization"
dataset). The lead is resampled to 125 Hz (``scipy.signal.resample_poly``, 25/72), cut into
consecutive 10 s windows from the start (the last, shorter window of 5.56 s is kept), and
each window is min-max scaled to [0, 1] on its own. R peaks are the annotated beat positions
scaled to 125 Hz (rounded). The nominal period T of a window is the median of the RR intervals
whose two beats both lie in it (the record's median RR when a window has fewer than two
beats). A beat is the scaled signal from its R peak over ``round(1.2 T)`` samples (at most
187), zero-padded to 187 (or ``pad_to``). Window edges: a beat belongs to the window that
holds its R peak (which sets T) and, when its 1.2 T span runs past the window's end, it
continues into the next window's samples (each scaled by its own window), so no beat is lost
at a window edge. Dropped: only the last beat of every record (reason
``last_beat_of_record``: it has no following beat, and the recording may stop inside it). A
kept beat whose span runs past the end of the record (7 in this database: the last beat sits
a few samples before the end) is cut there and zero-padded, and flagged in ``truncated``.
That keeps 109,446 beats (N 90,589, S 2,779, V 7,236, F 803, Q 8,039), exactly the class
counts of the Kaggle ``mitbih_train.csv`` + ``mitbih_test.csv`` (87,554 + 21,892 rows).

``centered``: the record's baseline is removed with a zero-phase 2nd-order Butterworth
high-pass at 0.5 Hz (``sosfiltfilt``), the signal (mV) is resampled to ``fs`` when it is not
360 Hz, and each beat is the window ``[R - round(before_s fs), R + round(after_s fs))``.
Beats whose window starts before the record (``record_start``) or ends after it
(``record_end``) are dropped.

Both attach eight RR features per beat, computed at 360 Hz over all AAMI beats of the record
before any beat is dropped, in seconds: previous RR, next RR, local RR (mean of the 10 RR
intervals around the beat: 5 before, 5 after, fewer at the record edges), record-average RR,
and the ratios previous/record, next/record, previous/next, local/record (the per-record
normalised features that help inter-patient S detection). The first beat has no previous
RR: it takes its next RR; the last beat takes its previous RR as next RR.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

with warnings.catch_warnings():  # wfdb's import-time pandas deprecation warnings
    warnings.simplefilter("ignore")
    import wfdb
from scipy.signal import butter, resample_poly, sosfiltfilt

from ecgzoo.config import MitbihOptions
from ecgzoo.data.arrays import ArraySplit, PreparedData
from ecgzoo.data.cache import cached_arrays
from ecgzoo.data.splits import (
    inter_patient_split,
    intra_patient_split,
    stratified_holdout,
    validation_by_group,
)
from ecgzoo.errors import ConfigError, DataError

CLASS_NAMES: list[str] = ["N", "S", "V", "F", "Q"]
AAMI_SYMBOLS: dict[str, str] = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
SYMBOL_TO_CLASS: dict[str, int] = {
    sym: CLASS_NAMES.index(cls) for cls, syms in AAMI_SYMBOLS.items() for sym in syms
}
LEAD_PREFERENCE: tuple[str, ...] = ("MLII", "V5")  # then the first lead
MITDB_FS = 360.0
MITDB_FOLDER = "mit-bih-arrhythmia-database-1.0.0"

KACHUEE_FS = 125.0
KACHUEE_WINDOW_S = 10.0
KACHUEE_LENGTH = 187
KACHUEE_SPAN = 1.2
HIGHPASS_HZ = 0.5
LOCAL_RR_INTERVALS = 10
RR_FEATURE_NAMES: list[str] = [
    "rr_prev_s",
    "rr_next_s",
    "rr_local_s",
    "rr_record_s",
    "rr_prev_over_record",
    "rr_next_over_record",
    "rr_prev_over_next",
    "rr_local_over_record",
]
PREP_VERSION = 1  # bump when the output of a segmentation changes


@dataclass
class Record:
    """One record's chosen lead and its AAMI beats."""

    name: str
    lead: str
    fs: float
    signal: np.ndarray  # float64 (n_samples,), mV
    samples: np.ndarray  # int64 R-peak positions at fs, ascending
    labels: np.ndarray  # int64 AAMI class indices


# --------------------------------------------------------------------------- reading


def list_records(db_dir: Path) -> list[str]:
    """Record names of the database: its ``RECORDS`` file, else every ``*.hea``, sorted."""
    db_dir = Path(db_dir)
    if not db_dir.is_dir():
        raise DataError(f"{db_dir}: MIT-BIH database folder not found")
    listing = db_dir / "RECORDS"
    if listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    else:
        names = sorted(p.stem for p in db_dir.glob("*.hea"))
    if not names:
        raise DataError(f"{db_dir}: no MIT-BIH records (no RECORDS file and no .hea files)")
    return names


@contextmanager
def _quiet_wfdb() -> Iterator[None]:
    """Hide the deprecation warnings wfdb's own pandas calls raise on every read."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"wfdb(\.|$)")
        yield


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _require(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{path}: file not found")


def read_beat_annotations(db_dir: Path, record: str) -> tuple[np.ndarray, np.ndarray]:
    """``(samples, labels)`` of the AAMI beats in ``<record>.atr`` (other annotations skipped)."""
    base = Path(db_dir) / str(record)
    atr = base.with_suffix(".atr")
    _require(atr)
    try:
        with _quiet_wfdb():
            ann = wfdb.rdann(str(base), "atr")
        samples = np.asarray(ann.sample, dtype=np.int64)
        symbols = np.asarray(ann.symbol)
        if len(samples) != len(symbols):
            raise ValueError("sample and symbol counts differ")
    except Exception as exc:  # wfdb raises many types on a corrupt file
        raise DataError(f"{atr}: cannot read annotations ({_first_line(exc)})") from None
    keep = np.isin(symbols, list(SYMBOL_TO_CLASS))
    samples = samples[keep]
    labels = np.array([SYMBOL_TO_CLASS[s] for s in symbols[keep]], dtype=np.int64)
    if len(samples) > 1 and np.any(np.diff(samples) < 0):
        order = np.argsort(samples, kind="stable")
        samples, labels = samples[order], labels[order]
    return samples, labels


def choose_lead(sig_names: list[str]) -> int:
    """Index of MLII, else V5, else 0."""
    for name in LEAD_PREFERENCE:
        if name in sig_names:
            return sig_names.index(name)
    return 0


def read_record(db_dir: Path, record: str) -> Record:
    """Read one record's lead (see :func:`choose_lead`) and AAMI beats; ``DataError`` naming
    the ``.hea``, ``.dat`` or ``.atr`` file that is missing or unreadable."""
    base = Path(db_dir) / str(record)
    hea, dat = base.with_suffix(".hea"), base.with_suffix(".dat")
    _require(hea)
    try:
        with _quiet_wfdb():
            header = wfdb.rdheader(str(base))
        names = list(header.sig_name or [])
        if not names or not header.fs:
            raise ValueError("no signals declared")
    except Exception as exc:
        raise DataError(f"{hea}: cannot read header ({_first_line(exc)})") from None
    _require(dat)
    channel = choose_lead(names)
    try:
        with _quiet_wfdb():
            rec = wfdb.rdrecord(str(base), channels=[channel], physical=True)
        signal = np.asarray(rec.p_signal[:, 0], dtype=np.float64)
    except Exception as exc:
        raise DataError(f"{dat}: cannot read signal ({_first_line(exc)})") from None
    if header.sig_len and len(signal) != header.sig_len:
        raise DataError(f"{dat}: truncated: {len(signal)} of {header.sig_len} samples")
    if not np.all(np.isfinite(signal)):
        raise DataError(f"{dat}: lead {names[channel]} has invalid (NaN) samples")
    samples, labels = read_beat_annotations(db_dir, record)
    if len(samples) and (samples[0] < 0 or samples[-1] >= len(signal)):
        raise DataError(f"{base.with_suffix('.atr')}: beat annotations outside the signal")
    return Record(str(record), names[channel], float(header.fs), signal, samples, labels)


def count_beats(db_dir: Path, records: list[str] | None = None) -> dict[str, dict[str, int]]:
    """AAMI beat counts per record (annotations only) plus an ``"all"`` row."""
    names = records if records is not None else list_records(db_dir)
    table: dict[str, dict[str, int]] = {}
    total = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    for name in names:
        _, labels = read_beat_annotations(db_dir, name)
        counts = np.bincount(labels, minlength=len(CLASS_NAMES))
        total += counts
        table[str(name)] = _row(counts)
    table["all"] = _row(total)
    return table


def _row(counts: np.ndarray) -> dict[str, int]:
    row = {c: int(n) for c, n in zip(CLASS_NAMES, counts, strict=True)}
    row["total"] = int(np.sum(counts))
    return row


# --------------------------------------------------------------------------- features


def rr_features(samples: np.ndarray, fs: float) -> np.ndarray:
    """The eight RR features (see the module docstring) of beats at ``samples``, float64."""
    n = len(samples)
    out = np.zeros((n, len(RR_FEATURE_NAMES)), dtype=np.float64)
    if n == 0:
        return out
    t = np.asarray(samples, dtype=np.float64) / fs
    d = np.diff(t)
    if len(d) == 0:  # a single beat: no interval at all
        d = np.array([1.0])
        prev = nxt = d.copy()
    else:
        prev = np.concatenate([d[:1], d])
        nxt = np.concatenate([d, d[-1:]])
    m = len(d)
    csum = np.concatenate([[0.0], np.cumsum(d)])
    i = np.arange(n)
    half = LOCAL_RR_INTERVALS // 2
    lo = np.clip(i - half, 0, m)
    hi = np.clip(i + half, 0, m)
    lo = np.minimum(lo, hi - 1).clip(0)
    hi = np.maximum(hi, lo + 1)
    local = (csum[hi] - csum[lo]) / (hi - lo)
    avg = float(np.mean(d))
    out[:, 0] = prev
    out[:, 1] = nxt
    out[:, 2] = local
    out[:, 3] = avg
    out[:, 4] = prev / avg
    out[:, 5] = nxt / avg
    out[:, 6] = prev / nxt
    out[:, 7] = local / avg
    return out


# --------------------------------------------------------------------------- segmentation


def _group_medians(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per ``group`` id (NaN where a group is empty), vectorised."""
    med = np.full(n_groups, np.nan)
    if len(values) == 0:
        return med
    order = np.lexsort((values, group))
    v, g = values[order], group[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    a = starts[has] + (counts[has] - 1) // 2
    b = starts[has] + counts[has] // 2
    med[has] = (v[a] + v[b]) / 2.0
    return med


def _segment_kachuee(rec: Record, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """``(x, kept_mask, truncated, dropped)`` for one record; ``truncated`` flags kept beats
    cut at the record's end, ``dropped`` is ``[(index, reason), ...]``."""
    ratio = Fraction(KACHUEE_FS / rec.fs).limit_denominator(1000)
    sig = resample_poly(rec.signal, ratio.numerator, ratio.denominator)
    n = len(sig)
    win = int(round(KACHUEE_WINDOW_S * KACHUEE_FS))
    n_win = -(-n // win)
    padded = np.empty(n_win * win)
    padded[:n] = sig
    padded[n:] = sig[-1]  # the short last window: pad with its last value (no effect on min/max)
    view = padded.reshape(n_win, win)
    lo = view.min(axis=1, keepdims=True)
    span = view.max(axis=1, keepdims=True) - lo
    span[span == 0] = 1.0
    norm = ((view - lo) / span).reshape(-1)[:n]

    r = np.rint(rec.samples * float(ratio)).astype(np.int64).clip(0, n - 1)
    n_beats = len(r)
    wid = r // win
    rr = np.diff(r)
    same = wid[1:] == wid[:-1]
    med = _group_medians(rr[same].astype(np.float64), wid[1:][same], n_win)
    fallback = float(np.median(rr)) if len(rr) else KACHUEE_FS
    period = np.where(np.isnan(med), fallback, med)[wid]
    span_len = np.minimum(np.rint(KACHUEE_SPAN * period).astype(np.int64), KACHUEE_LENGTH)

    keep = np.ones(n_beats, dtype=bool)
    dropped: list[tuple[int, str]] = []
    if n_beats:
        keep[-1] = False
        dropped.append((n_beats - 1, "last_beat_of_record"))
    truncated = r + span_len > n  # runs past the record's end: cut there, zero-padded
    span_len = np.minimum(span_len, n - r)

    rk, lk = r[keep], span_len[keep]
    steps = np.arange(length)
    idx = np.minimum(rk[:, None] + steps[None, :], n - 1)
    x = np.where(steps[None, :] < lk[:, None], norm[idx], 0.0).astype(np.float32)
    return x, keep, truncated[keep], dropped


def _segment_centered(
    rec: Record, before_s: float, after_s: float, fs: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    sos = butter(2, HIGHPASS_HZ, btype="highpass", fs=rec.fs, output="sos")
    sig = sosfiltfilt(sos, rec.signal)
    r = rec.samples
    if fs != rec.fs:
        ratio = Fraction(fs / rec.fs).limit_denominator(1000)
        sig = resample_poly(sig, ratio.numerator, ratio.denominator)
        r = np.rint(r * float(ratio)).astype(np.int64)
    n = len(sig)
    before = int(round(before_s * fs))
    after = int(round(after_s * fs))
    start, stop = r - before, r + after
    early, late = start < 0, stop > n
    dropped = [(int(i), "record_start") for i in np.flatnonzero(early)]
    dropped += [(int(i), "record_end") for i in np.flatnonzero(late & ~early)]
    keep = ~(early | late)
    idx = start[keep][:, None] + np.arange(before + after)[None, :]
    x = sig[idx].astype(np.float32)
    return x, keep, np.zeros(int(keep.sum()), dtype=bool), sorted(dropped)


def _settings(options: MitbihOptions) -> dict[str, Any]:
    """The options that change the arrays (and nothing else): the cache key's core."""
    if options.segmentation == "kachuee":
        length = KACHUEE_LENGTH if options.pad_to is None else int(options.pad_to)
        if length < KACHUEE_LENGTH:
            raise ConfigError(f"mitbih.pad_to: must be at least {KACHUEE_LENGTH} (got {length})")
        return {
            "segmentation": "kachuee",
            "length": length,
            "fs": KACHUEE_FS,
            "window_s": KACHUEE_WINDOW_S,
            "span": KACHUEE_SPAN,
        }
    before, after = options.before_s, options.after_s
    return {
        "segmentation": "centered",
        "before_s": float(before),
        "after_s": float(after),
        "fs": float(options.fs),
        "baseline": f"butter2-highpass-{HIGHPASS_HZ}Hz-sosfiltfilt",
    }


def _prepare_record(args: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    db_dir, name, settings = args
    rec = read_record(Path(db_dir), name)
    if settings["segmentation"] == "kachuee":
        x, keep, truncated, dropped = _segment_kachuee(rec, settings["length"])
    else:
        x, keep, truncated, dropped = _segment_centered(
            rec, settings["before_s"], settings["after_s"], settings["fs"]
        )
    rr = rr_features(rec.samples, rec.fs)
    drop_idx = np.array([i for i, _ in dropped], dtype=np.int64)
    return {
        "x": x,
        "y": rec.labels[keep],
        "sample": rec.samples[keep],
        "rr": rr[keep].astype(np.float32),
        "truncated": truncated,
        "lead": rec.lead,
        "dropped_sample": rec.samples[drop_idx],
        "dropped_y": rec.labels[drop_idx],
        "dropped_reason": [reason for _, reason in dropped],
    }


def _fingerprint(db_dir: Path, names: list[str]) -> list[list]:
    """Sizes of each record's files: a cheap guard against a different copy of the database."""
    out = []
    for name in names:
        sizes = []
        for ext in (".hea", ".dat", ".atr"):
            path = db_dir / f"{name}{ext}"
            _require(path)
            sizes.append(path.stat().st_size)
        out.append([str(name), *sizes])
    return out


def _resolve_records(db_dir: Path, options: MitbihOptions) -> list[str]:
    if options.records is None:
        return list_records(db_dir)
    if not db_dir.is_dir():
        raise DataError(f"{db_dir}: MIT-BIH database folder not found")
    wanted = [str(r) for r in options.records]
    listing = db_dir / "RECORDS"
    if listing.is_file():  # else each record's files are checked when read
        available = list_records(db_dir)
        unknown = [r for r in wanted if r not in available]
        if unknown:
            raise ConfigError(f"mitbih.records: not in {listing}: {', '.join(unknown)}")
    if len(set(wanted)) != len(wanted):
        raise ConfigError("mitbih.records: a record is listed twice")
    if not wanted:
        raise ConfigError("mitbih.records: empty list")
    return sorted(wanted)


def _default_workers(n_records: int) -> int:
    # A pool of 2 was slower than one process on 2 shared cores (the beats are pickled back),
    # so the default is serial; ``workers`` stays available for bigger machines.
    del n_records
    return 1


def build_beats(
    db_dir: Path, options: MitbihOptions, workers: int | None = None
) -> dict[str, np.ndarray]:
    """Segment the records named by ``options`` without the cache (see :func:`prepare_beats`)."""
    db_dir = Path(db_dir)
    names = _resolve_records(db_dir, options)
    settings = _settings(options)
    return _build(db_dir, names, settings, workers)


def _build(
    db_dir: Path, names: list[str], settings: dict[str, Any], workers: int | None
) -> dict[str, np.ndarray]:
    jobs = [(str(db_dir), name, settings) for name in names]
    workers = _default_workers(len(names)) if workers is None else workers
    if workers > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            parts = list(pool.map(_prepare_record, jobs))
    else:
        parts = [_prepare_record(job) for job in jobs]
    ids = np.array([int(n) if n.isdigit() else -1 for n in names], dtype=np.int64)
    if np.any(ids < 0):
        raise DataError(f"{db_dir}: record names must be numbers (MIT-BIH), got {names}")
    n_kept = [len(p["y"]) for p in parts]
    n_drop = [len(p["dropped_reason"]) for p in parts]
    length = parts[0]["x"].shape[1]
    return {
        "x": np.concatenate([p["x"] for p in parts]).reshape(-1, length),
        "y": np.concatenate([p["y"] for p in parts]).astype(np.int64),
        "record": np.repeat(ids, n_kept),
        "sample": np.concatenate([p["sample"] for p in parts]).astype(np.int64),
        "rr": np.concatenate([p["rr"] for p in parts]).reshape(-1, len(RR_FEATURE_NAMES)),
        "truncated": np.concatenate([p["truncated"] for p in parts]).astype(bool),
        "records": ids,
        "leads": np.array([p["lead"] for p in parts], dtype="U8"),
        "dropped_record": np.repeat(ids, n_drop),
        "dropped_sample": np.concatenate([p["dropped_sample"] for p in parts]).astype(np.int64),
        "dropped_y": np.concatenate([p["dropped_y"] for p in parts]).astype(np.int64),
        "dropped_reason": np.array(
            [r for p in parts for r in p["dropped_reason"]], dtype="U32"
        ).reshape(-1),
    }


def prepare_beats(
    db_dir: Path,
    options: MitbihOptions,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> dict[str, np.ndarray]:
    """Beats of the records named by ``options``, cached by every parameter that shapes them.

    Returns ``x`` float32 ``(n, n_samples)``, ``y`` int64 AAMI class, ``record`` int64 record
    number, ``sample`` int64 R-peak position at 360 Hz, ``rr`` float32 ``(n, 8)``
    (:data:`RR_FEATURE_NAMES`), ``truncated`` bool (kachuee: span cut at the record's end),
    ``records``/``leads`` (one per record, the lead used) and the dropped beats:
    ``dropped_record``, ``dropped_sample``, ``dropped_y``, ``dropped_reason``.
    The same parameters give byte-identical arrays, built or read from the cache.
    ``workers`` (processes; default 1) does not change the result.
    """
    db_dir = Path(db_dir)
    names = _resolve_records(db_dir, options)
    settings = _settings(options)
    params = {
        "prep_version": PREP_VERSION,
        "database": "mitdb-1.0.0",
        "settings": settings,
        "records": names,
        "files": _fingerprint(db_dir, names),
    }
    return cached_arrays(
        "mitbih", params, lambda: _build(db_dir, names, settings, workers), cache_dir=cache_dir
    )


# --------------------------------------------------------------------------- datasets


def class_counts(y: np.ndarray, class_names: list[str] | None = None) -> dict[str, int]:
    """``{"N": ..., "S": ..., ..., "total": n}`` for labels ``y``."""
    names = class_names or CLASS_NAMES
    return _row(np.bincount(np.asarray(y, dtype=np.int64), minlength=len(names))[: len(names)])


def split_class_counts(data: PreparedData) -> dict[str, dict[str, int]]:
    """Class counts per split (``train``, ``val``, ``test``, ``all``): a table-ready dict."""
    table = {
        name: class_counts(data.split(name).y, data.class_names)
        for name in ("train", "val", "test")
    }
    table["all"] = {k: sum(table[s][k] for s in ("train", "val", "test")) for k in table["train"]}
    return table


def _cap_per_class(index: np.ndarray, y: np.ndarray, cap: int, seed: int) -> np.ndarray:
    if cap < 1:
        raise ConfigError(f"mitbih.max_beats_per_class: must be at least 1 (got {cap})")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y[index]):
        members = index[y[index] == c]
        if len(members) > cap:
            members = rng.choice(members, size=cap, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep)).astype(np.int64)


def default_db_dir() -> Path:
    """The MIT-BIH folder, fetched (or found) by :func:`ecgzoo.data.physionet.fetch`."""
    from ecgzoo.data.physionet import fetch

    return Path(fetch("mitdb", "1.0.0")) / MITDB_FOLDER


def load_mitbih(
    options: MitbihOptions,
    seed: int = 0,
    db_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> PreparedData:
    """Train/val/test MIT-BIH beats as ``(n, 1, n_samples)`` float32.

    ``split="intra"``: stratified random by beat over all the selected records (paced ones
    included, like the Kaggle dataset): ``test_fraction`` for test, then ``val_fraction`` of
    the rest for validation. Beats of one patient are on both sides (optimistic scores).
    ``split="inter"``: de Chazal DS1 (training; whole records held out for validation, chosen
    so validation holds S and V beats) and DS2 (test); paced records are left out and
    ``test_fraction`` is not used. ``max_beats_per_class`` caps training beats per class
    (seeded random choice). ``groups`` are record numbers; ``features`` (``rr_features``) are
    the eight RR features of :data:`RR_FEATURE_NAMES`, four of them normalised per record.
    """
    db_dir = default_db_dir() if db_dir is None else Path(db_dir)
    arrays = prepare_beats(db_dir, options, cache_dir=cache_dir)
    x, y, record = arrays["x"], arrays["y"], arrays["record"]
    if len(y) == 0:
        raise DataError(f"{db_dir}: no beats in records {options.records}")
    meta_split: dict[str, Any] = {"split": options.split}
    if options.split == "intra":
        rest, test = intra_patient_split(y, options.test_fraction, seed)
        tr, va = stratified_holdout(y[rest], options.val_fraction, seed)
        train, val = rest[tr], rest[va]
    else:
        ds1, ds2 = inter_patient_split(record)
        if len(ds1) == 0 or len(ds2) == 0:
            raise ConfigError(
                "mitbih.records: the inter-patient split needs records of both DS1 and DS2"
            )
        tr, va = validation_by_group(record[ds1], y[ds1], options.val_fraction, seed)
        train, val, test = ds1[tr], ds1[va], ds2
        meta_split["val_records"] = sorted(int(r) for r in np.unique(record[val]))
        meta_split["excluded_beats"] = int(len(y) - len(ds1) - len(ds2))
    if options.max_beats_per_class is not None:
        train = _cap_per_class(train, y, options.max_beats_per_class, seed)

    x3 = x[:, None, :]
    feats = arrays["rr"] if options.rr_features else None

    def split(index: np.ndarray) -> ArraySplit:
        return ArraySplit(
            np.ascontiguousarray(x3[index]),
            y[index],
            record[index],
            None if feats is None else np.ascontiguousarray(feats[index], dtype=np.float32),
        )

    data = PreparedData(
        train=split(train),
        val=split(val),
        test=split(test),
        class_names=list(CLASS_NAMES),
        sampling_rate=KACHUEE_FS if options.segmentation == "kachuee" else float(options.fs),
        meta={},
    )
    reasons, counts = np.unique(arrays["dropped_reason"], return_counts=True)
    data.meta = {
        "dataset": "mitbih",
        "segmentation": options.segmentation,
        **meta_split,
        "records": [int(r) for r in arrays["records"]],
        "leads": {
            int(r): str(lead) for r, lead in zip(arrays["records"], arrays["leads"], strict=True)
        },
        "n_beats": int(len(y)),
        "beats": class_counts(y),
        "dropped": {str(k): int(v) for k, v in zip(reasons, counts, strict=True)},
        "dropped_beats": class_counts(arrays["dropped_y"]),
        "counts": split_class_counts(data),
        "feature_names": list(RR_FEATURE_NAMES) if options.rr_features else [],
    }
    return data


# --------------------------------------------------------------------------- public seam


def segment_centered(
    rec: Record, before_s: float, after_s: float, fs: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Public wrapper of the ``centered`` segmentation (used by ``ecgzoo.apply``)."""
    return _segment_centered(rec, before_s, after_s, fs)


def segment_kachuee(rec: Record, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Public wrapper of the ``kachuee`` segmentation (used by ``ecgzoo.apply``)."""
    return _segment_kachuee(rec, length)
