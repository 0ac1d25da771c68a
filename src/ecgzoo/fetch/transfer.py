"""Moving bytes for ``fetch``: resumable HTTP downloads, local copies, safe unzip, locks, progress.

Every function hashes what it writes as it writes it, so no file is read twice.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import IO, Any

from ecgzoo.errors import DataError
from ecgzoo.fetch.catalog import (
    LISTED,
    LISTING,
    NONE,
    PINNED,
    SUMS,
    Entry,
    RemoteFile,
    parse_sums,
    pinned_hashes,
)
from ecgzoo.fetch.safe_zip import FETCH_LIMITS, extract, open_archive, safe_member_path  # noqa: F401

CHUNK = 1 << 20
TIMEOUT_S = 60.0
USER_AGENT = "ecgzoo/0.1 (python urllib)"


@dataclass(frozen=True)
class Source:
    """Where one file comes from: a local path or an HTTP(S) URL."""

    path: Path | None = None
    url: str | None = None

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else str(self.url)

    @property
    def resumable(self) -> bool:
        """Whether a partial copy is worth keeping (HTTP ranges; a local copy just restarts)."""
        return self.url is not None


class NotAtSource(DataError):
    """The source does not have the file (HTTP 404 or no such file in the mirror)."""


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``."""
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            sha.update(block)
    return sha.hexdigest()


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def download(
    label: str,
    source: Source,
    part: Path,
    *,
    size: int | None = None,
    resume: bool = False,
    progress: bool = False,
) -> str:
    """Copy or download ``source`` into ``part`` (appending when resuming); its SHA-256.

    A failed local copy, or one that ran out of disk, removes ``part``; an interrupted HTTP
    download keeps it so that the next fetch resumes with a ``Range`` request.
    """
    try:
        if source.path is not None:
            return _copy_local(label, source.path, part, size, progress)
        return _download_http(label, source, part, size, resume, progress)
    except BaseException as exc:
        if not source.resumable or _disk_full(exc):
            part.unlink(missing_ok=True)
        if _disk_full(exc):
            raise DataError(
                f"{label}: disk full while writing {part.parent} ({exc.strerror}); "
                "the partial file was removed, free some space and fetch again"
            ) from exc
        raise


def _copy_local(label: str, path: Path, part: Path, size: int | None, progress: bool) -> str:
    if not path.is_file():
        raise NotAtSource(f"{label}: not found in the PhysioNet mirror at {path}")
    try:
        total = size or path.stat().st_size
        with path.open("rb") as src, part.open("wb") as out:
            return copy_stream(src, out, hashlib.sha256(), 0, label, total, progress)
    except OSError as exc:
        if _disk_full(exc):
            raise
        raise DataError(f"{label}: cannot copy {path} to {part}: {exc}") from exc


def _download_http(
    label: str, source: Source, part: Path, size: int | None, resume: bool, progress: bool
) -> str:
    assert source.url is not None
    offset = part.stat().st_size if resume and part.exists() else 0
    if size is not None and offset >= size:  # a complete (or oversized) leftover: check it
        return sha256_file(part)
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(source.url, headers=headers)
    sha = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            if offset and response.status == 206 and _range_start(response) == offset:
                with part.open("rb") as fh:
                    for block in iter(lambda: fh.read(CHUNK), b""):
                        sha.update(block)
                mode = "ab"
            else:
                offset, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            expected = offset + int(length) if length and length.isdigit() else None
            with part.open(mode) as out:
                copy_stream(response, out, sha, offset, label, expected or size, progress)
                written = out.tell()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise NotAtSource(f"{label}: not found at {source.url} (HTTP 404)") from exc
        raise DataError(f"{label}: cannot download {source.url}: HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        hint = (
            ""
            if os.environ.get("ECGZOO_PHYSIONET_MIRROR")
            else " (offline? set ECGZOO_PHYSIONET_MIRROR to a local PhysioNet mirror folder or URL)"
        )
        raise DataError(f"{label}: cannot reach {source.url}: {exc.reason}{hint}") from exc
    except (HTTPException, OSError) as exc:
        if _disk_full(exc):
            raise
        raise DataError(
            f"{label}: download from {source.url} was interrupted ({exc!r}); the partial file "
            f"{part.name} is kept: run the fetch again to resume"
        ) from exc
    if expected is not None and written != expected:
        raise DataError(
            f"{label}: download from {source.url} was interrupted after {written} of "
            f"{expected} bytes; the partial file {part.name} is kept: run the fetch again "
            "to resume"
        )
    return sha.hexdigest()


def _range_start(response: Any) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def copy_stream(
    src: IO[bytes],
    out: IO[bytes],
    sha: Any,
    done: int,
    label: str,
    total: int | None,
    progress: bool,
) -> str:
    """Stream ``src`` to ``out`` while hashing; the hex digest."""
    with progress_bar(progress, label, total, done) as advance:
        for block in iter(lambda: src.read(CHUNK), b""):
            out.write(block)
            sha.update(block)
            advance(len(block))
    return sha.hexdigest()


def extract_members(
    zf: zipfile.ZipFile, root: Path, archive: str, progress: bool
) -> dict[str, tuple[str, int]]:
    """Unpack every member under the resolved folder ``root`` (names and sizes checked first,
    see :mod:`ecgzoo.fetch.safe_zip`). Returns ``{member name: (sha256, size)}`` of the files."""
    out: dict[str, tuple[str, int]] = {}
    total = sum(i.file_size for i in zf.infolist())
    with progress_bar(progress, f"unpacking {archive}", total, 0) as advance:
        sha = hashlib.sha256()

        def on_block(block: bytes) -> None:
            sha.update(block)
            advance(len(block))

        def on_member(info: zipfile.ZipInfo, _dest: Path) -> None:
            nonlocal sha
            out[info.filename] = (sha.hexdigest(), info.file_size)
            sha = hashlib.sha256()

        extract(zf, root, archive, FETCH_LIMITS, on_block=on_block, on_member=on_member)
    return out


def extract_zip(
    remote: RemoteFile, archive: Path, target: Path, progress: bool
) -> dict[str, Entry]:
    """Unpack ``archive`` into ``target`` via a temporary sibling, checking every member; the
    files added, as ``{path: [size, sha256, how verified]}``."""
    staging = target / f".extract-{remote.name.replace('/', '_')}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        with open_archive(archive, remote.name) as zf:
            hashes = extract_members(zf, staging.resolve(), remote.name, progress)
        entries = _check_members(remote, hashes, staging)
        tops = sorted(p.name for p in staging.iterdir())
        if not tops:
            raise DataError(f"{remote.name}: the zip archive is empty")
        for name in tops:
            dest = target / name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)  # a stale copy from an earlier, unfinished fetch
            elif dest.exists() or dest.is_symlink():
                dest.unlink()
            os.replace(staging / name, dest)
        return entries
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_members(
    remote: RemoteFile, hashes: dict[str, tuple[str, int]], staging: Path
) -> dict[str, Entry]:
    """Each member against the archive's own listing and the pinned upstream hashes.

    A member the listing names must match it, and every name it lists must be there (the
    listing came with the archive); a member it does not name is kept, recorded as unverified.
    """
    listing: dict[str, str] | None = None
    prefix = ""
    if remote.member_sums is not None:
        if remote.member_sums not in hashes:
            raise DataError(
                f"{remote.name}: checksum list {remote.member_sums} is missing from the archive"
            )
        prefix = remote.member_sums.rpartition("/")[0]
        prefix = f"{prefix}/" if prefix else ""
        text = staging.joinpath(*remote.member_sums.split("/")).read_text("utf-8", "replace")
        listing = {prefix + rel: sha for rel, sha in parse_sums(text).items()}
    pins = (
        {prefix + rel: sha for rel, sha in pinned_hashes(remote.pins).items()}
        if remote.pins
        else {}
    )
    entries: dict[str, Entry] = {}
    for member, (digest, size) in hashes.items():
        how = LISTING if member == remote.member_sums else NONE
        if listing is not None and member in listing:
            if listing[member] != digest:
                raise DataError(
                    f"{remote.name}: member {member} fails its SHA-256 check against "
                    f"{SUMS} (expected {listing[member]}, got {digest})"
                )
            how = LISTED
        if member in pins:
            if pins[member] != digest:
                raise DataError(
                    f"{remote.name}: member {member} differs from upstream's published SHA-256 "
                    f"(expected {pins[member]}, got {digest})"
                )
            how = PINNED
        entries[member] = [size, digest, how]
    missing = sorted(set(listing or {}) - set(hashes))
    if missing:
        raise DataError(f"{remote.name}: member {missing[0]} listed in {SUMS} is missing")
    _check_complete(remote, set(hashes), set(pins), set(listing or {}), staging)
    return entries


# files that make up a record: a mirror may not add one that upstream did not publish
_RECORD_SUFFIXES = (".hea", ".dat", ".atr", ".mat", ".xws", ".hea-")


def _check_complete(
    remote: RemoteFile, members: set[str], pins: set[str], listed: set[str], staging: Path
) -> None:
    """A database is ready only when every record it names is there and verified.

    With upstream's pinned list: every pinned file must be in the archive (a mirror that
    drops ``RECORDS`` or record 232 is incomplete) and no record file upstream did not publish
    may be added (a fake record 999). Where the pins cover only part of the release (svdb's
    52 of 78 records), a record file the archive's own verified listing names is accepted.
    Every record a ``RECORDS`` file names must have its
    header in the archive.
    """
    what = f"{remote.name}: the archive is not upstream's release"
    if pins:
        absent = sorted(pins - members)
        if absent:
            raise DataError(f"{what}: {absent[0]} is missing ({len(absent)} files in all)")
        known = pins if remote.pins_complete else pins | listed
        extra = sorted(m for m in members - known if m.endswith(_RECORD_SUFFIXES))
        if extra:
            raise DataError(f"{what}: {extra[0]} is not a file upstream published")
    for listing in sorted(m for m in members if m.rsplit("/", 1)[-1] == "RECORDS"):
        folder = listing.rpartition("/")[0]
        prefix = f"{folder}/" if folder else ""
        text = staging.joinpath(*listing.split("/")).read_text("utf-8", "replace")
        for record in text.split():
            if f"{prefix}{record}.hea" not in members:
                raise DataError(f"{what}: record {record} named in {listing} is missing")


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (a no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent fetches of one database are not guarded
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def progress_bar(
    enabled: bool, label: str, total: int | None, done: int, unit: str = "bytes"
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (bytes or files); yields a function taking the amount done."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    if unit == "bytes":
        columns: tuple = (DownloadColumn(), TransferSpeedColumn())
    else:
        columns = (MofNCompleteColumn(),)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *columns,
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=total or None, completed=done)
        yield lambda n: bar.advance(task, n)
