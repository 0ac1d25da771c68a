"""PhysioNet/CinC Challenge 2017 (``challenge-2017`` 1.0.0): single-lead AF recordings.

A folder, or a zip, of ``<record>.hea`` / ``<record>.mat`` pairs (int16, 1000 units/mV,
300 Hz, 9-61 s) and a reference file of ``RECORD,LABEL`` lines (no header, CRLF tolerated)
with labels ``N`` (normal), ``A`` (atrial fibrillation), ``O`` (other rhythm), ``~`` (noisy).
Every challenge recording is 300 Hz: a header at another rate is refused unless the caller
asks for resampling. Invalid samples (NaN) are set to 0, as the challenge's own code does.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.readers.archive import (
    open_zip,
    read_member,
    record_folder,
    records_dir,
    zip_index,
)
from ecgzoo.readers.records import Record
from ecgzoo.readers.records import resample as resample_signal
from ecgzoo.readers.wfdb_io import Display, FolderNames, read_wfdb

CLASS_NAMES: list[str] = ["N", "A", "O", "~"]
FS: float = 300.0
DATABASE = ("challenge-2017", "1.0.0")
RECORDS_DIR = "training2017"
V3_REFERENCE = "REFERENCE-v3.csv"
ORIGINAL_REFERENCE = "REFERENCE.csv"
PARALLEL_MIN = 400  # below this many records, reading in one process is faster

_RECORD_RE = re.compile(r"^[A-Za-z0-9_\-]+$")


# --------------------------------------------------------------------------- reference


def parse_reference(text: str, name: str) -> dict[str, str]:
    """``{record: label}`` from the text of a ``RECORD,LABEL`` file called ``name``."""
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
    return parse_reference(text, str(path))


def as_reference(reference: str | Path | Mapping[str, str]) -> tuple[dict[str, str], str]:
    """A reference file or a ready mapping, checked: ``({record: label}, its name)``."""
    if isinstance(reference, Mapping):
        ref = dict(reference)
        for record, label in ref.items():
            if not _RECORD_RE.match(str(record)):
                raise DataError(f"reference: invalid record name {record!r}")
            if label not in CLASS_NAMES:
                raise DataError(f"reference: unknown label {label!r} for {record}")
        return ref, "reference"
    return read_reference(reference), str(reference)


# --------------------------------------------------------------------------- records


def read_record(folder: Path, name: str, display: Display | None = None) -> Record:
    """One single-lead challenge record (float64 mV, NaN set to 0); ``DataError`` naming it."""
    show = display or FolderNames(folder)
    rec = read_wfdb(Path(folder) / name, database="cinc2017", display=show)
    hea = show(f"{name}.hea")
    if rec.n_leads != 1:
        raise DataError(f"{hea}: expected 1 signal (single lead), found {rec.n_leads}")
    files = _signal_files(Path(folder) / f"{name}.hea")
    if files != [f"{name}.mat"]:
        raise DataError(f"{hea}: signal file {files[0]!r} is not {name}.mat")
    np.nan_to_num(rec.signal, copy=False)  # wfdb marks invalid samples as NaN
    return rec


def _signal_files(hea: Path) -> list[str]:
    lines = [ln.split() for ln in hea.read_text(errors="replace").splitlines()]
    return [f[0] for f in lines[1:] if f and not f[0].startswith("#")]


def _read_chunk(jobs: list[tuple[str, str, Display]]) -> list[tuple[np.ndarray, float]]:
    out = []
    for folder, name, display in jobs:
        rec = read_record(Path(folder), name, display)
        out.append((rec.signal[0].astype(np.float32), rec.fs))
    return out


def default_workers() -> int:
    """Processes for reading: up to 2 (the records are small; more did not pay on 2 cores)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def read_all(
    jobs: list[tuple[str, str, Display]], n_workers: int | None
) -> list[tuple[np.ndarray, float]]:
    """Read ``(folder, record, display)`` jobs as float32 signals in ``n_workers`` processes.

    Fork, not spawn: spawned workers re-import the caller's ``__main__``. A pool that breaks
    falls back to reading serially.
    """
    import wfdb  # noqa: F401  (imported before forking)

    n_workers = default_workers() if n_workers is None else max(1, int(n_workers))
    if n_workers == 1 or len(jobs) < PARALLEL_MIN or sys.platform != "linux":
        return _read_chunk(jobs)
    size = max(50, len(jobs) // (n_workers * 8))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    try:
        with ProcessPoolExecutor(n_workers, mp_context=get_context("fork")) as pool:
            return [item for part in pool.map(_read_chunk, chunks) for item in part]
    except BrokenProcessPool:
        return _read_chunk(jobs)


def check_rate(signal: np.ndarray, rate: float, fs: float, resample: bool, hea: str) -> np.ndarray:
    """``signal`` at ``fs``: refused when the header rate differs, unless ``resample``."""
    if abs(rate - fs) <= 1e-6:
        return signal
    if not resample:
        raise DataError(
            f"{hea}: sampling rate {rate:g} Hz, expected {fs:g} Hz "
            "(challenge-2017 records are 300 Hz; ask for resampling to accept it)"
        )
    return resample_signal(signal, rate, fs)


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
    holds them), or a zip of them. ``reference``: a ``RECORD,LABEL`` file or a ready
    ``{record: label}`` mapping. Signals are 1D float32 in mV at ``fs`` Hz. A record whose
    header states another rate raises ``DataError`` unless ``resample``. A record listed in the
    reference without its ``.hea`` or ``.mat`` raises ``DataError`` naming it.
    """
    ref, _ = as_reference(reference)
    ids = sorted(ref)
    with record_folder(Path(folder_or_zip), ids) as (folder, display):
        read = read_all([(str(folder), r, display) for r in ids], n_workers)
        signals = [
            check_rate(sig, rate, fs, resample, display(f"{r}.hea"))
            for r, (sig, rate) in zip(ids, read, strict=True)
        ]
    return signals, [ref[r] for r in ids], ids


# --------------------------------------------------------------------------- headers only


def header_rate_and_length(text: str, name: str) -> tuple[float, int]:
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
        folder = records_dir(source)
        for i, record in enumerate(records):
            hea = folder / f"{record}.hea"
            try:
                text = hea.read_text(errors="replace")
            except FileNotFoundError:
                raise DataError(f"{hea}: header missing for record {record}") from None
            rate, n = header_rate_and_length(text, str(hea))
            out[i] = n / rate
        return out
    with open_zip(source) as zf:
        index = zip_index(zf, source)
        for i, record in enumerate(records):
            info = index.get(f"{record}.hea")
            if info is None:
                raise DataError(f"{source}: {record}.hea missing for record {record}")
            text = read_member(zf, info, source).decode("utf-8", errors="replace")
            rate, n = header_rate_and_length(text, f"{source}:{info.filename}")
            out[i] = n / rate
    return out


class Cinc2017Reader:
    """Records of a challenge-2017 folder, with their reference label (``labels``)."""

    name = "cinc2017"

    def __init__(self, folder: str | Path, reference: str | Path | Mapping[str, str]) -> None:
        self.folder = records_dir(Path(folder))
        self.reference, _ = as_reference(reference)

    def list_records(self) -> list[str]:
        """The reference's records, sorted."""
        return sorted(self.reference)

    def read(self, record: str) -> Record:
        """One record at 300 Hz (another rate is refused) with its label."""
        rec = read_record(self.folder, record)
        check_rate(rec.signal[0], rec.fs, FS, False, str(self.folder / f"{record}.hea"))
        rec.labels = [self.reference[record]]
        return rec
