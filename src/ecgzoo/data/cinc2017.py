"""PhysioNet/CinC Challenge 2017 (AF classification from a short single-lead ECG).

Layout read here (the challenge format): a folder, or a zip, of ``<record>.hea`` /
``<record>.mat`` pairs (int16, 1000 units/mV, 300 Hz, 9-61 s, read with ``wfdb``) and a
reference file of ``RECORD,LABEL`` lines (no header, CRLF tolerated) with labels
``N`` (normal), ``A`` (atrial fibrillation), ``O`` (other rhythm) and ``~`` (too noisy).

Sampling rate: every challenge recording is 300 Hz, so a header with another rate means the
file is not what it claims to be and raises ``DataError`` (naming the header), unless the caller
asks for resampling (``load_recordings(..., resample=True)``, ``load_external(...,
resample=True)``), for example to score an external set recorded at another rate. After
reading, ``Cinc2017Options.fs`` resamples everything (``resample_poly``) when it is not 300.

A zip is never extracted as is: only members whose file name is ``<record>.hea`` /
``<record>.mat`` for a record in the reference are copied, under their bare file name, into a
private temporary folder, which is removed afterwards.

``x`` shapes (``PreparedData`` / ``ArraySplit``), with ``L = round(length_s * fs)``:

- ``transform: raw`` -> ``(n, 1, L)`` signals in mV (z-scored when ``normalise``), zero-padded
  at the end or trimmed at the end;
- ``transform: spectrogram`` -> ``(n, F, T)`` log STFT magnitude (``transforms.log_spectrogram``
  with ``nperseg``, ``noverlap``, ``fmax``), frequency rows as channels, frames as samples;
- ``transform: scalogram`` -> ``(n, n_scales, L // scalogram_step)`` Morlet ``|cwt|``.

``meta["lengths"][split]`` holds, per example, how many positions along the last axis of ``x``
are real signal rather than padding; ``PreparedData.sampling_rate`` is the rate of that axis
(samples, frames or columns per second) and ``meta["signal_fs"]`` the signal's rate.
``meta["random_crop_samples"]`` (from ``random_crop_s``) asks the training loop to draw one
``transforms.random_crop`` per training batch; evaluation uses the full ``x`` or
``transforms.multi_crop`` voting.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.config import Cinc2017Options
from ecgzoo.data import transforms
from ecgzoo.data.arrays import ArraySplit, PreparedData
from ecgzoo.errors import ConfigError, DataError

CLASS_NAMES: list[str] = ["N", "A", "O", "~"]
FS: float = 300.0
DATABASE = ("challenge-2017", "1.0.0")
RECORDS_DIR = "training2017"
V3_REFERENCE = "REFERENCE-v3.csv"
ORIGINAL_REFERENCE = "REFERENCE.csv"

_RECORD_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
_MEMBER_RE = re.compile(r"^([A-Za-z0-9_\-]+)\.(hea|mat)$")
_MAX_MEMBER_BYTES = 64 << 20  # no challenge file comes near this; guards against zip bombs
_PARALLEL_MIN = 400  # below this many records, reading in one process is faster


# --------------------------------------------------------------------------- reference


def _parse_reference(text: str, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    text = text.lstrip("\ufeff")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2 or not _RECORD_RE.match(parts[0]):
            raise DataError(f"{name}: line {lineno}: expected 'RECORD,LABEL', got {line[:60]!r}")
        record, label = parts
        if label not in CLASS_NAMES:
            raise DataError(
                f"{name}: line {lineno}: unknown label {label!r} for {record} "
                f"(expected one of {', '.join(CLASS_NAMES)})"
            )
        if record in out:
            raise DataError(f"{name}: line {lineno}: record {record} is listed twice")
        out[record] = label
    if not out:
        raise DataError(f"{name}: reference file lists no records")
    return out


def read_reference(path: str | Path) -> dict[str, str]:
    """``{record: label}`` from a ``RECORD,LABEL`` file (no header; CRLF tolerated).

    A malformed line, an unknown label or a record listed twice raises ``DataError`` naming the
    file and line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: reference file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read reference file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: reference file is not UTF-8 text") from None
    return _parse_reference(text, str(path))


def _as_reference(reference: str | Path | Mapping[str, str]) -> tuple[dict[str, str], str]:
    if isinstance(reference, Mapping):
        ref = dict(reference)
        for record, label in ref.items():
            if not _RECORD_RE.match(str(record)):
                raise DataError(f"reference: invalid record name {record!r}")
            if label not in CLASS_NAMES:
                raise DataError(f"reference: unknown label {label!r} for {record}")
        return ref, "reference"
    return read_reference(reference), str(reference)


# --------------------------------------------------------------------------- record sources


def _records_dir(folder: Path) -> Path:
    """``folder`` when it holds ``.hea`` files, else its only subfolder that does."""
    if any(folder.glob("*.hea")):
        return folder
    subs = [d for d in sorted(folder.iterdir()) if d.is_dir() and any(d.glob("*.hea"))]
    if len(subs) == 1:
        return subs[0]
    if not subs:
        raise DataError(f"{folder}: no .hea record headers found in this folder")
    names = ", ".join(d.name for d in subs)
    raise DataError(f"{folder}: several folders hold records ({names}); name one of them")


def _zip_index(zf: zipfile.ZipFile, archive: Path) -> dict[str, zipfile.ZipInfo]:
    """Bare member file name (``A00001.hea``) -> member, for record files only."""
    index: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if _MEMBER_RE.match(base):
            if base in index:
                raise DataError(f"{archive}: member {base} appears twice in the archive")
            index[base] = info
    return index


def _zip_member_text(archive: Path, name: str) -> str | None:
    """The text of the zip member whose bare file name is ``name`` (None if absent)."""
    with _open_zip(archive) as zf:
        for info in zf.infolist():
            if info.filename.replace("\\", "/").rsplit("/", 1)[-1] == name:
                if info.file_size > _MAX_MEMBER_BYTES:
                    raise DataError(f"{archive}: member {info.filename} is implausibly large")
                return zf.read(info).decode("utf-8", errors="replace")
    return None


@contextlib.contextmanager
def _open_zip(archive: Path) -> Iterator[zipfile.ZipFile]:
    try:
        with zipfile.ZipFile(archive) as zf:
            yield zf
    except FileNotFoundError:
        raise DataError(f"{archive}: file not found") from None
    except zipfile.BadZipFile as exc:
        raise DataError(f"{archive}: not a valid zip archive ({exc})") from None


@contextlib.contextmanager
def _record_folder(
    source: Path, records: Sequence[str], suffixes: tuple[str, ...] = (".hea", ".mat")
) -> Iterator[Path]:
    """A folder holding ``<record><suffix>`` for every record; DataError naming a missing one.

    A folder is used in place; a zip has just those members copied into a temporary folder.
    """
    if source.is_dir():
        folder = _records_dir(source)
        for record in records:
            for suffix in suffixes:
                if not (folder / f"{record}{suffix}").is_file():
                    raise DataError(
                        f"{folder / (record + suffix)}: file missing for record {record} "
                        "listed in the reference"
                    )
        yield folder
        return
    if not source.is_file():
        raise DataError(f"{source}: no such folder or zip file")
    with _open_zip(source) as zf, tempfile.TemporaryDirectory(prefix="ecgzoo-cinc-") as tmp:
        index = _zip_index(zf, source)
        out = Path(tmp)
        for record in records:
            for suffix in suffixes:
                info = index.get(f"{record}{suffix}")
                if info is None:
                    raise DataError(
                        f"{source}: {record}{suffix} missing for record {record} "
                        "listed in the reference"
                    )
                if info.file_size > _MAX_MEMBER_BYTES:
                    raise DataError(f"{source}: member {info.filename} is implausibly large")
                (out / f"{record}{suffix}").write_bytes(zf.read(info))
        yield out


# --------------------------------------------------------------------------- reading


def _read_record(stem: str) -> tuple[np.ndarray, float]:
    """One single-lead record as float32 mV and its sampling rate; DataError when unreadable."""
    import wfdb

    name = Path(stem).name
    hea = f"{stem}.hea"
    try:
        rec = wfdb.rdrecord(stem, physical=True)
    except Exception as exc:  # wfdb raises many kinds for malformed files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{hea}: cannot read record ({msg})") from None
    if rec.n_sig != 1:
        raise DataError(f"{hea}: expected 1 signal (single lead), found {rec.n_sig}")
    if list(rec.file_name) != [f"{name}.mat"]:
        raise DataError(f"{hea}: signal file {rec.file_name[0]!r} is not {name}.mat")
    if (rec.units[0] or "mV").lower() not in ("mv", "millivolt"):
        raise DataError(f"{hea}: signal units are {rec.units[0]!r}, expected mV")
    sig = np.asarray(rec.p_signal[:, 0], dtype=np.float32)
    if sig.size == 0:
        raise DataError(f"{hea}: record has no samples")
    np.nan_to_num(sig, copy=False)  # wfdb marks invalid samples as NaN
    return sig, float(rec.fs)


def _read_chunk(stems: list[str]) -> list[tuple[np.ndarray, float]]:
    return [_read_record(s) for s in stems]


def _default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def _read_all(stems: list[str], n_workers: int | None) -> list[tuple[np.ndarray, float]]:
    """Read records, in ``n_workers`` forked processes on Linux (serially elsewhere).

    Fork, not spawn: spawned workers re-import the caller's ``__main__`` (breaking scripts
    without a main guard, stdin and notebooks). The workers only run wfdb and numpy, imported
    here before forking. A pool that breaks falls back to reading serially.
    """
    import wfdb  # noqa: F401  (imported before forking)

    n_workers = _default_workers() if n_workers is None else max(1, int(n_workers))
    if n_workers == 1 or len(stems) < _PARALLEL_MIN or sys.platform != "linux":
        return _read_chunk(stems)
    size = max(50, len(stems) // (n_workers * 8))
    chunks = [stems[i : i + size] for i in range(0, len(stems), size)]
    try:
        with ProcessPoolExecutor(n_workers, mp_context=get_context("fork")) as pool:
            return [item for part in pool.map(_read_chunk, chunks) for item in part]
    except BrokenProcessPool:
        return _read_chunk(stems)


def load_recordings(
    folder_or_zip: str | Path,
    reference: str | Path | Mapping[str, str],
    *,
    fs: float = FS,
    resample: bool = False,
    n_workers: int | None = None,
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Read every record of ``reference``: ``(signals, labels, record ids)`` sorted by record id.

    ``folder_or_zip``: a folder of ``<record>.hea``/``.mat`` pairs (or whose only subfolder
    holds them), or a zip of them (members found by bare file name, copied to a temporary
    folder). ``reference``: a ``RECORD,LABEL`` file or a ready ``{record: label}`` mapping.
    Signals are 1D float32 in mV at ``fs`` Hz. A record whose header states another rate raises
    ``DataError`` unless ``resample`` (then it is resampled to ``fs``). A record listed in the
    reference without its ``.hea`` or ``.mat`` raises ``DataError`` naming it. Reading runs in
    ``n_workers`` processes (default: up to 2).
    """
    ref, _ = _as_reference(reference)
    ids = sorted(ref)
    source = Path(folder_or_zip)
    with _record_folder(source, ids) as folder:
        read = _read_all([str(folder / r) for r in ids], n_workers)
        signals: list[np.ndarray] = []
        for record, (sig, rate) in zip(ids, read, strict=True):
            if abs(rate - fs) > 1e-6:
                if not resample:
                    raise DataError(
                        f"{folder / record}.hea: sampling rate {rate:g} Hz, expected {fs:g} Hz "
                        "(challenge-2017 records are 300 Hz; ask for resampling to accept it)"
                    )
                sig = transforms.resample(sig, rate, fs)
            signals.append(sig)
    return signals, [ref[r] for r in ids], ids


# --------------------------------------------------------------------------- preparation


def _signal_fs(options: Cinc2017Options) -> float:
    return float(options.fs)


def _hop(options: Cinc2017Options) -> int:
    if options.noverlap >= options.nperseg:
        raise ConfigError(
            f"data.cinc2017.noverlap: must be smaller than nperseg ({options.nperseg}), "
            f"got {options.noverlap}"
        )
    return options.nperseg - options.noverlap


def _scalogram_step(options: Cinc2017Options) -> int:
    fs = _signal_fs(options)
    return options.scalogram_step or max(1, int(round(fs / 10.0)))


def axis_rate(options: Cinc2017Options) -> float:
    """Positions per second along the last axis of ``x`` for these options."""
    fs = _signal_fs(options)
    if options.transform == "spectrogram":
        return fs / _hop(options)
    if options.transform == "scalogram":
        return fs / _scalogram_step(options)
    return fs


def n_samples_for(options: Cinc2017Options) -> int:
    """Signal length in samples after pad/trim."""
    return max(1, int(round(options.length_s * _signal_fs(options))))


def _axis_lengths(options: Cinc2017Options, lengths: np.ndarray) -> np.ndarray:
    """Real positions along x's last axis, from real signal samples."""
    if options.transform == "spectrogram":
        frames = (lengths - options.nperseg) // _hop(options) + 1
        return np.clip(frames, 0, None).astype(np.int64)
    if options.transform == "scalogram":
        return (lengths // _scalogram_step(options)).astype(np.int64)
    return lengths.astype(np.int64)


def _prepare(
    signals: list[np.ndarray], options: Cinc2017Options, fs_in: float = FS
) -> tuple[np.ndarray, np.ndarray]:
    """Resample, normalise, pad/trim and transform: ``(x, lengths along x's last axis)``."""
    fs = _signal_fs(options)
    if fs != fs_in:
        signals = [transforms.resample(s, fs_in, fs) for s in signals]
    if options.normalise:
        signals = [transforms.normalise(s[None, :])[0] for s in signals]
    length = n_samples_for(options)
    x, lengths = transforms.pad_or_trim(signals, length)
    x = x[:, None, :]  # (n, 1, L)
    if options.transform == "raw":
        return x, lengths
    if options.transform == "spectrogram":
        _hop(options)
        if length < options.nperseg:
            raise ConfigError(
                f"data.cinc2017.length_s: {length} samples are fewer than nperseg={options.nperseg}"
            )
        chunks = [
            transforms.log_spectrogram(
                x[i : i + 256], fs, options.nperseg, options.noverlap, fmax=options.fmax
            )[:, 0]
            for i in range(0, len(x), 256)
        ]
    else:
        step = _scalogram_step(options)
        if length < step:
            raise ConfigError(f"data.cinc2017.scalogram_step: {step} exceeds the {length} samples")
        chunks = [
            transforms.scalogram(x[i : i + 64], fs, options.n_scales, step=step)[:, 0]
            for i in range(0, len(x), 64)
        ]
    return np.concatenate(chunks).astype(np.float32), _axis_lengths(options, lengths)


def _stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
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


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _training_source(root: Path) -> Path:
    """The records of a challenge folder: ``training2017/``, else ``training2017.zip``."""
    for candidate in (root / RECORDS_DIR, root / f"{RECORDS_DIR}.zip"):
        if candidate.exists():
            return candidate
    if root.is_file() and root.suffix == ".zip":
        return root
    raise DataError(f"{root}: neither {RECORDS_DIR}/ nor {RECORDS_DIR}.zip found")


def _reference_for(labels: str, root: Path, source: Path) -> tuple[dict[str, str], str]:
    """The label mapping for ``labels`` (v3 or original) and a digest of its text."""
    if labels == "v3":
        path = root / V3_REFERENCE if root.is_dir() else root.parent / V3_REFERENCE
        ref = read_reference(path)
        return ref, _file_sha(path)
    if source.is_dir():
        path = _records_dir(source) / ORIGINAL_REFERENCE
        return read_reference(path), _file_sha(path)
    text = _zip_member_text(source, ORIGINAL_REFERENCE)
    if text is None:
        raise DataError(f"{source}: {ORIGINAL_REFERENCE} not found in the archive")
    ref = _parse_reference(text, f"{source}:{ORIGINAL_REFERENCE}")
    return ref, hashlib.sha256(text.encode()).hexdigest()[:16]


def _resolve_root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    from ecgzoo.data.physionet import fetch

    return fetch(*DATABASE)


def _label_index(labels: Sequence[str]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(CLASS_NAMES)}
    return np.asarray([lookup[v] for v in labels], dtype=np.int64)


def _splits(
    y: np.ndarray, options: Cinc2017Options, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ecgzoo.data.splits import stratified_holdout, stratified_kfold

    if options.fold is None:
        train_all, test = stratified_holdout(y, options.test_fraction, seed)
    else:
        train_all, test = stratified_kfold(y, options.n_folds, options.fold, seed)
    tr, va = stratified_holdout(y[train_all], options.val_fraction, seed)
    return train_all[tr], train_all[va], test


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
    ``REFERENCE-v3.csv``; default: ``ecgzoo.data.physionet.fetch("challenge-2017", "1.0.0")``.
    Labels come from ``REFERENCE-v3.csv`` (``labels: v3``) or ``training2017/REFERENCE.csv``
    (``labels: original``). Splits (all stratified by class, seeded): without ``fold``,
    ``test_fraction`` (0.2) for testing, then ``val_fraction`` (0.25) of the rest for
    validation, 60/20/20 overall as in the spectrogram study; with ``fold``, fold ``fold`` of a
    ``n_folds``-fold split is the test set and validation comes from the other folds.
    ``max_records`` keeps a stratified subset (seeded by ``seed``). The prepared arrays of all
    kept records are cached (``cached_arrays``) under a key of every option that shapes them.
    """
    if options.random_crop_s is not None and options.random_crop_s > options.length_s:
        raise ConfigError(
            f"data.cinc2017.random_crop_s: {options.random_crop_s} s exceeds length_s "
            f"({options.length_s} s)"
        )
    if options.transform == "spectrogram":
        _hop(options)
    root = _resolve_root(root)
    source = _training_source(root)
    ref, ref_digest = _reference_for(options.labels, root, source)
    ids_all = sorted(ref)
    y_all = _label_index([ref[r] for r in ids_all])
    keep = np.arange(len(ids_all))
    if options.max_records is not None:
        keep = _stratified_subset(y_all, options.max_records, seed)
    ids = [ids_all[i] for i in keep]

    shaping = options.model_dump(
        include={"labels", "length_s", "fs", "transform", "max_records", "normalise"}
    )
    if options.transform == "spectrogram":
        shaping.update(nperseg=options.nperseg, noverlap=options.noverlap, fmax=options.fmax)
    if options.transform == "scalogram":
        shaping.update(n_scales=options.n_scales, step=_scalogram_step(options))
    params: dict[str, Any] = {
        "root": str(source.resolve()),
        "reference": ref_digest,
        "subset_seed": seed if options.max_records is not None else None,
        **shaping,
    }

    def build() -> dict[str, np.ndarray]:
        signals, labels, rec_ids = load_recordings(
            source, {r: ref[r] for r in ids}, fs=FS, n_workers=n_workers
        )
        x, lengths = _prepare(signals, options)
        return {
            "x": x,
            "y": _label_index(labels),
            "ids": np.asarray(rec_ids),
            "lengths": lengths,
        }

    from ecgzoo.data.cache import cached_arrays

    arrays = cached_arrays("cinc2017", params, build, cache_dir=cache_dir)
    x, y, groups, lengths = arrays["x"], arrays["y"], arrays["ids"], arrays["lengths"]
    train, val, test = _splits(y, options, seed)
    rate = axis_rate(options)
    parts = {"train": train, "val": val, "test": test}
    meta: dict[str, Any] = {
        "dataset": "cinc2017",
        "labels": options.labels,
        "transform": options.transform,
        "signal_fs": _signal_fs(options),
        "n_signal_samples": n_samples_for(options),
        "split": "holdout" if options.fold is None else f"fold {options.fold}/{options.n_folds}",
        "root": str(root),
        "lengths": {name: lengths[idx].tolist() for name, idx in parts.items()},
        "random_crop_samples": (
            None if options.random_crop_s is None else int(round(options.random_crop_s * rate))
        ),
    }
    return PreparedData(
        train=ArraySplit(x[train], y[train], groups[train]),
        val=ArraySplit(x[val], y[val], groups[val]),
        test=ArraySplit(x[test], y[test], groups[test]),
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
) -> ArraySplit:
    """An external test set in the challenge format, prepared exactly like ``load_cinc2017``.

    ``path``: a folder or zip of records; ``reference``: its ``RECORD,LABEL`` file (``None``:
    ``REFERENCE.csv`` inside the folder or zip). ``resample`` accepts headers at rates other
    than 300 Hz. Examples are sorted by record id; ``groups`` holds the ids.
    """
    path = Path(path)
    if reference is None:
        if path.is_dir():
            reference = _records_dir(path) / ORIGINAL_REFERENCE
        else:
            text = _zip_member_text(path, ORIGINAL_REFERENCE)
            if text is None:
                raise DataError(f"{path}: no {ORIGINAL_REFERENCE} inside; pass a reference file")
            reference = _parse_reference(text, f"{path}:{ORIGINAL_REFERENCE}")
    signals, labels, ids = load_recordings(
        path, reference, fs=FS, resample=resample, n_workers=n_workers
    )
    x, _ = _prepare(signals, options)
    return ArraySplit(x, _label_index(labels), np.asarray(ids))


# --------------------------------------------------------------------------- summary


def _header_rate_and_length(text: str, name: str) -> tuple[float, int]:
    """Sampling rate and length from a header's record line (``A00001 1 300 9000 ...``)."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        try:
            rate = float(fields[2].split("/")[0])
            n = int(fields[3])
        except (IndexError, ValueError):
            break
        return rate, n
    raise DataError(f"{name}: malformed record line in header")


def record_lengths(source: str | Path, records: Sequence[str]) -> np.ndarray:
    """Length in seconds of each record, from its header alone (no signal is read)."""
    source = Path(source)
    out = np.empty(len(records), dtype=np.float64)
    if source.is_dir():
        folder = _records_dir(source)
        for i, record in enumerate(records):
            hea = folder / f"{record}.hea"
            try:
                text = hea.read_text(errors="replace")
            except FileNotFoundError:
                raise DataError(f"{hea}: header missing for record {record}") from None
            rate, n = _header_rate_and_length(text, str(hea))
            out[i] = n / rate
        return out
    with _open_zip(source) as zf:
        index = _zip_index(zf, source)
        for i, record in enumerate(records):
            info = index.get(f"{record}.hea")
            if info is None:
                raise DataError(f"{source}: {record}.hea missing for record {record}")
            text = zf.read(info).decode("utf-8", errors="replace")
            rate, n = _header_rate_and_length(text, f"{source}:{info.filename}")
            out[i] = n / rate
    return out


def record_table(
    root: str | Path | None = None, labels: str = "v3"
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Record ids, their labels and their lengths in seconds (headers only, no signals)."""
    if labels not in ("v3", "original"):
        raise ConfigError(f"labels: must be 'v3' or 'original' (got {labels!r})")
    root = _resolve_root(root)
    source = _training_source(root)
    ref, _ = _reference_for(labels, root, source)
    ids = sorted(ref)
    return ids, np.asarray([ref[r] for r in ids]), record_lengths(source, ids)


def summary(root: str | Path | None = None, labels: str = "v3") -> dict[str, Any]:
    """Class counts and recording-length distribution (seconds), for ``ecgzoo data info``.

    Reads the reference and the headers only. Returns ``{"database", "labels", "n_records",
    "class_counts": {label: n}, "length_s": {"min", "p5", "median", "mean", "p95", "max"},
    "length_histogram_s": {"<10", "10-20", ..., ">=60": n}, "median_length_s_by_class"}``.
    """
    root = _resolve_root(root)
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
