"""Cache of prepared arrays, keyed by the parameters that produced them, memory-mappable.

An entry is a folder ``<cache>/<name>/<key>/`` holding one ``.npy`` per array and
``complete.json`` (the parameters and the array names), written last. Arrays of more than
:data:`MMAP_MIN_BYTES` are opened with ``mmap_mode="r"``, so a dataset larger than memory is
read in the slices a caller indexes, never whole.

A builder may return the arrays at once (a dict) or *stream* them: an iterable of dicts, one
per record or chunk of records, each array concatenated along its first axis. Streamed chunks
are appended to the ``.npy`` files after a header with room for any row count, completed at the
end (the data are written once), so preparation holds one chunk in memory, however large the
dataset.

Safety: an entry is built in a hidden temporary folder and renamed into place (never a
half-written entry); two processes building the same entry are serialised by a lock file; an
entry that cannot be read (any unreadable or missing file, a corrupt ``.npy``, a leftover of an
earlier release's ``.npz`` that is damaged: ``BadZipFile``) is deleted and rebuilt; running out
of disk space while writing raises one ``DataError`` line and leaves nothing behind.

Keys are those of the earlier ``.npz`` cache (same :func:`cache_key`), and a ``<key>.npz`` left
by an earlier release is converted to the folder layout on first use (documented migration).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.paths import ecgzoo_home

CACHE_VERSION = 1  # bump when a preparation algorithm changes its output
MARKER = "complete.json"
MMAP_MIN_BYTES = 1 << 20  # smaller arrays are read into memory (and mmap cannot map 0 bytes)
PLACEHOLDER_ROWS = 10**15  # a header written for this many rows has room for any real count

Arrays = dict[str, np.ndarray]


def cache_key(name: str, params: dict[str, Any]) -> str:
    """A stable short hash of ``name`` and JSON-serialisable ``params``."""
    blob = json.dumps({"name": name, "v": CACHE_VERSION, "params": params}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def entry_dir(name: str, params: dict[str, Any], cache_dir: Path | None = None) -> Path:
    """The folder the entry for ``params`` lives in (it may not exist yet)."""
    folder = Path(cache_dir or ecgzoo_home() / "prepared") / name
    return folder / cache_key(name, params)


def read_entry(path: Path) -> Arrays:
    """The arrays of a complete entry (large ones memory-mapped); raises on any damage."""
    info = json.loads((path / MARKER).read_text())
    out: Arrays = {}
    for key in info["arrays"]:
        file = path / f"{key}.npy"
        mode = "r" if file.stat().st_size > MMAP_MIN_BYTES else None
        out[key] = np.load(file, mmap_mode=mode, allow_pickle=False)
    return out


def npy_header(dtype: np.dtype, shape: tuple[int, ...], size: int | None = None) -> bytes:
    """A version 1.0 ``.npy`` header for a C-ordered array, space-padded to ``size`` bytes.

    ``np.load`` accepts any padding; ``size`` (a multiple of 64, the length of a longer header)
    keeps the data aligned.
    """
    buf = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    out = buf.getvalue()
    if size is None or size == len(out):
        return out
    if size < len(out) or size % 64:
        raise ValueError(f"cannot pad a {len(out)}-byte .npy header to {size} bytes")
    prefix = 10  # magic (6), version (2), header length (uint16, 2)
    text = out[prefix:].rstrip(b"\n").ljust(size - prefix - 1) + b"\n"
    return out[:8] + struct.pack("<H", len(text)) + text


class _StreamWriter:
    """Appends chunks of named arrays to one ``.npy`` per array; ``finish`` writes the shapes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta: dict[str, tuple[np.dtype, tuple[int, ...], int]] = {}
        self.handles: dict[str, Any] = {}

    def add(self, chunk: Mapping[str, np.ndarray]) -> None:
        if self.meta and set(chunk) != set(self.meta):
            raise ValueError(f"chunk arrays {sorted(chunk)} differ from {sorted(self.meta)}")
        for key, value in chunk.items():
            arr = np.ascontiguousarray(value)
            if arr.dtype.hasobject:
                raise ValueError(f"{key}: object arrays cannot be cached")
            if arr.ndim == 0:
                arr = arr.reshape(1)
            if key not in self.meta:
                self.meta[key] = (arr.dtype, arr.shape[1:], 0)
                self.handles[key] = open(self.folder / f"{key}.npy", "wb")  # noqa: SIM115
                # room for the header of any row count; filled in by finish()
                self.handles[key].write(npy_header(arr.dtype, (PLACEHOLDER_ROWS, *arr.shape[1:])))
            dtype, tail, rows = self.meta[key]
            if arr.dtype != dtype or arr.shape[1:] != tail:
                raise ValueError(f"{key}: chunk {arr.dtype}{arr.shape} does not match {dtype}")
            self.handles[key].write(memoryview(arr).cast("B"))  # C-contiguous: no copy
            self.meta[key] = (dtype, tail, rows + arr.shape[0])

    def finish(self) -> list[str]:
        for key, handle in self.handles.items():
            dtype, tail, rows = self.meta[key]
            # The data were written once, after a header sized for any row count: rewrite
            # the header in place (padded to that size) rather than copying the data again.
            size = handle.seek(0, os.SEEK_CUR)
            handle.seek(0)
            handle.write(
                npy_header(dtype, (rows, *tail), len(npy_header(dtype, (PLACEHOLDER_ROWS, *tail))))
            )
            handle.seek(size)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        return list(self.meta)

    def close(self) -> None:
        for handle in self.handles.values():
            with contextlib.suppress(OSError):
                handle.close()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def sweep_stale_builds(folder: Path) -> list[Path]:
    """Remove ``.<entry>.tmp-*`` build folders a killed build left (SIGKILL, power loss).

    A build holds its entry's lock for as long as it writes; a build folder whose lock can be
    taken at once has no live writer, so it is removed. Returns the folders removed.
    """
    removed = []
    for tmp in sorted(folder.glob(".*.tmp-*")):
        entry = tmp.name[1:].rsplit(".tmp-", 1)[0]
        lock = folder / f".{entry}.lock"
        try:
            with open(lock, "a+") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                try:
                    shutil.rmtree(tmp, ignore_errors=True)
                    removed.append(tmp)
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        except OSError:
            continue  # a live build holds it (or the folder is not ours to lock)
    return removed


def _try_read(path: Path) -> Arrays | None:
    if not (path / MARKER).is_file():
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)  # no marker: never finished
        return None
    try:
        return read_entry(path)
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile):
        shutil.rmtree(path, ignore_errors=True)  # corrupt entry: rebuild
        return None


def _migrate_npz(npz: Path) -> Arrays | None:
    """The arrays of an earlier release's ``<key>.npz`` entry (``None`` if it is damaged)."""
    try:
        with np.load(npz, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None
    finally:
        npz.unlink(missing_ok=True)
        npz.with_suffix(".json").unlink(missing_ok=True)


@contextlib.contextmanager
def _disk_errors(folder: Path) -> Iterator[None]:
    """Writing errors as one line: disk full, or any other OS refusal."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DataError(
                f"{folder}: no space left on the device while writing prepared arrays "
                "(nothing was kept; free space or point ECGZOO_HOME elsewhere)"
            ) from None
        raise DataError(f"{folder}: cannot write prepared arrays ({exc.strerror})") from None


def _write(path: Path, params: dict[str, Any], produced: Arrays | Iterable[Arrays]) -> None:
    with _disk_errors(path.parent):
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    writer = _StreamWriter(tmp)
    try:
        chunks = [produced] if isinstance(produced, Mapping) else produced
        for chunk in chunks:  # the builder's own errors pass through unchanged
            with _disk_errors(path.parent):
                writer.add(chunk)
        with _disk_errors(path.parent):
            names = writer.finish()
            marker = {"arrays": names, "params": params, "version": CACHE_VERSION}
            (tmp / MARKER).write_text(json.dumps(marker, sort_keys=True, indent=1))
            os.replace(tmp, path)
    except BaseException:
        writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def cached_arrays(
    name: str,
    params: dict[str, Any],
    build: Callable[[], Arrays | Iterable[Arrays]],
    cache_dir: Path | None = None,
) -> Arrays:
    """The arrays for ``params``, building and saving them only when not cached.

    ``build`` returns a dict of arrays, or an iterable of such dicts (chunks, streamed to disk).
    The result is always read back from the entry (large arrays memory-mapped), so a cold and a
    warm call return the same bytes.
    """
    path = entry_dir(name, params, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{path.parent}: cannot create the cache folder ({exc.strerror})") from None
    found = _try_read(path)
    if found is not None:
        return found
    sweep_stale_builds(path.parent)
    with _locked(path.parent / f".{path.name}.lock"):
        found = _try_read(path)  # another process may have built it meanwhile
        if found is not None:
            return found
        npz = path.parent / f"{path.name}.npz"
        old = _migrate_npz(npz) if npz.is_file() else None
        _write(path, params, old if old is not None else build())
    try:
        return read_entry(path)
    except (OSError, ValueError, EOFError, KeyError) as exc:
        raise DataError(f"{path}: prepared arrays unreadable right after writing ({exc})") from None
