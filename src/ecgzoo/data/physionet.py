"""PhysioNet databases: a small catalog and a verified, idempotent ``fetch``.

A fetched database lives in ``<home>/physionet/<database>/<version>/``. Every downloaded file
is checked against the SHA-256 embedded in the catalog (and, for MIT-BIH, every extracted
member against the zip's own ``SHA256SUMS.txt``) before anything becomes visible there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import IO, Any

from ecgzoo.errors import ConfigError, DataError
from ecgzoo.paths import ecgzoo_home

MIRROR_ENV = "ECGZOO_PHYSIONET_MIRROR"
MARKER = ".complete"
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0
_USER_AGENT = "ecgzoo/0.1 (python urllib)"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a database release, with its expected size and SHA-256."""

    name: str
    url: str  # upstream (physionet.org) address
    sha256: str
    size: int
    extract: bool = False  # a zip whose contents are unpacked into the database folder
    member_sums: str | None = None  # zip member listing ``<sha256> <name>`` for its siblings


@dataclass(frozen=True)
class Database:
    """One version of a PhysioNet database and the files that make it up."""

    name: str
    version: str
    title: str
    files: tuple[RemoteFile, ...]


_MITDB_ZIP = "mit-bih-arrhythmia-database-1.0.0.zip"
_SVDB_ZIP = "mit-bih-supraventricular-arrhythmia-database-1.0.0.zip"

# The checksums are those of the files in the project's PhysioNet mirror.
CATALOG: dict[str, dict[str, Database]] = {
    "mitdb": {
        "1.0.0": Database(
            name="mitdb",
            version="1.0.0",
            title="MIT-BIH Arrhythmia Database",
            files=(
                RemoteFile(
                    name=_MITDB_ZIP,
                    url=f"https://physionet.org/static/published-projects/mitdb/{_MITDB_ZIP}",
                    sha256="dded624fb07f6e94c570f04ef6ac8608dcf26d17d99f1336619620492b29a1a0",
                    size=66_185_520,
                    extract=True,
                    member_sums="mit-bih-arrhythmia-database-1.0.0/SHA256SUMS.txt",
                ),
            ),
        ),
    },
    "svdb": {  # minimal entry (the data layer's reader needs it); the zip as mirrored
        "1.0.0": Database(
            name="svdb",
            version="1.0.0",
            title="MIT-BIH Supraventricular Arrhythmia Database",
            files=(
                RemoteFile(
                    name=_SVDB_ZIP,
                    url=f"https://physionet.org/static/published-projects/svdb/{_SVDB_ZIP}",
                    sha256="927e8c21c1c2aa411f43e519431b08589d496f89d8fa9e118dbae352475f9bd0",
                    size=22_324_168,
                    extract=True,
                ),
            ),
        ),
    },
    "challenge-2017": {
        "1.0.0": Database(
            name="challenge-2017",
            version="1.0.0",
            title="AF Classification from a Short Single Lead ECG (CinC Challenge 2017)",
            files=(
                RemoteFile(
                    name="training2017.zip",
                    url="https://physionet.org/files/challenge-2017/1.0.0/training2017.zip",
                    sha256="60570b4341f9b477eb150a5211820e21699be91581cd40e948cf7f166370071a",
                    size=87_441_405,
                    extract=True,
                ),
                RemoteFile(
                    name="REFERENCE-v3.csv",
                    url="https://physionet.org/files/challenge-2017/1.0.0/REFERENCE-v3.csv",
                    sha256="914873c520bfe3aa9ec399f6e8021d36bc2fd966f092580837de6d6d9c40d80f",
                    size=75_280,
                ),
            ),
        ),
    },
}


def available_databases() -> dict[str, list[str]]:
    """Supported database names and, for each, its supported versions."""
    return {name: sorted(versions) for name, versions in sorted(CATALOG.items())}


def _available_text() -> str:
    return ", ".join(f"{n} ({', '.join(v)})" for n, v in available_databases().items())


def get_database(database: str, version: str = "1.0.0") -> Database:
    """The catalog entry for ``database`` ``version``; ConfigError when not supported."""
    versions = CATALOG.get(database)
    if versions is None:
        raise ConfigError(
            f"unknown PhysioNet database {database!r}; available: {_available_text()}"
        )
    if version not in versions:
        raise ConfigError(
            f"unknown version {version!r} of PhysioNet database {database!r}; "
            f"available: {', '.join(sorted(versions))}"
        )
    return versions[version]


def database_dir(database: str, version: str = "1.0.0", home: Path | None = None) -> Path:
    """The folder where ``database`` ``version`` lives once fetched (nothing is created)."""
    db = get_database(database, version)
    return Path(home if home is not None else ecgzoo_home()) / "physionet" / db.name / db.version


def is_fetched(database: str, version: str = "1.0.0", home: Path | None = None) -> bool:
    """Whether a complete, verified copy of ``database`` ``version`` is in ``home``."""
    db = get_database(database, version)
    return _read_complete_marker(db, database_dir(database, version, home)) is not None


def fetch(
    database: str,
    version: str = "1.0.0",
    *,
    home: Path | None = None,
    mirror: str | None = None,
    progress: bool = True,
) -> Path:
    """Download, verify and unpack ``database`` ``version`` unless already done; its folder.

    ``mirror`` (default ``$ECGZOO_PHYSIONET_MIRROR``) is a local folder, a ``file://`` URL or an
    ``http(s)://`` base URL laid out ``<base>/<database>/<version>/<file>``; without one the
    files come from physionet.org.
    """
    db = get_database(database, version)
    target = database_dir(database, version, home)
    if _read_complete_marker(db, target) is not None:
        return target
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV) or None
    sources = {f.name: _source(db, f, mirror) for f in db.files}

    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / f".{db.version}.lock"):
        if _read_complete_marker(db, target) is not None:  # another process finished it
            return target
        created = not target.exists()
        target.mkdir(exist_ok=True)
        try:
            outputs: dict[str, list[str]] = {}
            for remote in db.files:
                outputs[remote.name] = _obtain(remote, sources[remote.name], target, progress)
            _write_complete_marker(db, target, outputs)
        except BaseException:
            _remove_temporaries(target, keep_parts=True)
            if created:
                with contextlib.suppress(OSError):
                    target.rmdir()  # only succeeds when nothing (not even a .part) is left
            raise
    return target


# --------------------------------------------------------------------------- marker


def _read_complete_marker(db: Database, target: Path) -> dict | None:
    """The marker's contents when it records the catalog's hashes and its outputs exist."""
    try:
        info = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    files = info.get("files", {})
    outputs = info.get("outputs", {})
    for remote in db.files:
        if not isinstance(files, dict) or files.get(remote.name) != remote.sha256:
            return None
        names = outputs.get(remote.name) if isinstance(outputs, dict) else None
        if not isinstance(names, list) or not names:
            return None
        if not all(isinstance(n, str) and (target / n).exists() for n in names):
            return None
    return info


def _write_complete_marker(db: Database, target: Path, outputs: dict[str, list[str]]) -> None:
    info = {
        "database": db.name,
        "version": db.version,
        "files": {f.name: f.sha256 for f in db.files},
        "outputs": outputs,
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    tmp = target / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(info, indent=1, sort_keys=True))
    os.replace(tmp, target / MARKER)


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _Source:
    """Where one file comes from: a local path or an HTTP(S) URL."""

    path: Path | None = None
    url: str | None = None

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else str(self.url)


def _source(db: Database, remote: RemoteFile, mirror: str | None) -> _Source:
    if not mirror:
        return _Source(url=remote.url)
    if "://" not in mirror:
        return _Source(path=Path(mirror).expanduser() / db.name / db.version / remote.name)
    parsed = urllib.parse.urlsplit(mirror)
    if parsed.scheme == "file":
        base = Path(urllib.request.url2pathname(parsed.path))
        return _Source(path=base / db.name / db.version / remote.name)
    if parsed.scheme in ("http", "https"):
        quoted = "/".join(urllib.parse.quote(p) for p in (db.name, db.version, remote.name))
        return _Source(url=f"{mirror.rstrip('/')}/{quoted}")
    raise ConfigError(
        f"PhysioNet mirror {mirror!r} ({MIRROR_ENV}): expected a folder, a file:// URL "
        "or an http(s):// URL"
    )


# --------------------------------------------------------------------------- download


def _obtain(remote: RemoteFile, source: _Source, target: Path, progress: bool) -> list[str]:
    """Fetch and verify ``remote`` into ``target``; the names it added there."""
    part = target / f"{remote.name}.part"
    _download_verified(remote, source, part, progress)
    if not remote.extract:
        os.replace(part, target / remote.name)
        return [remote.name]
    try:
        return _extract_zip(remote, part, target, progress)
    finally:
        part.unlink(missing_ok=True)


def _download_verified(remote: RemoteFile, source: _Source, part: Path, progress: bool) -> None:
    """Write ``remote`` to ``part`` and check its SHA-256; DataError (and no part) if it differs."""
    resumed = part.exists() and source.url is not None and 0 < part.stat().st_size
    digest = _download(remote, source, part, progress, resume=resumed)
    if digest != remote.sha256 and resumed:  # a stale or foreign partial file: start over
        part.unlink(missing_ok=True)
        digest = _download(remote, source, part, progress, resume=False)
    if digest != remote.sha256:
        part.unlink(missing_ok=True)
        raise DataError(
            f"{remote.name} from {source}: SHA-256 checksum mismatch "
            f"(expected {remote.sha256}, got {digest}); the file is corrupt or not the "
            "expected release"
        )


def _download(remote: RemoteFile, source: _Source, part: Path, progress: bool, resume: bool) -> str:
    """Copy or download ``source`` into ``part`` (appending when resuming); its SHA-256."""
    if source.path is not None:
        if not source.path.is_file():
            raise DataError(f"{remote.name}: not found in the PhysioNet mirror at {source.path}")
        try:
            with source.path.open("rb") as src, part.open("wb") as out:
                return _copy(src, out, hashlib.sha256(), 0, remote, progress)
        except OSError as exc:
            raise DataError(f"{remote.name}: cannot copy {source.path} to {part}: {exc}") from exc

    assert source.url is not None
    sha = hashlib.sha256()
    offset = part.stat().st_size if resume and part.exists() else 0
    if offset >= remote.size:  # a complete (or oversized) leftover: check it as it is
        with part.open("rb") as fh:
            for block in iter(lambda: fh.read(_CHUNK), b""):
                sha.update(block)
        return sha.hexdigest()
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(source.url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            if offset and response.status == 206 and _range_start(response) == offset:
                with part.open("rb") as fh:
                    for block in iter(lambda: fh.read(_CHUNK), b""):
                        sha.update(block)
                mode = "ab"
            else:
                offset, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            expected = offset + int(length) if length and length.isdigit() else None
            with part.open(mode) as out:
                _copy(response, out, sha, offset, remote, progress)
                written = out.tell()
    except urllib.error.HTTPError as exc:
        raise DataError(f"{remote.name}: cannot download {source.url}: HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        raise DataError(f"{remote.name}: cannot reach {source.url}: {exc.reason}") from exc
    except (HTTPException, OSError) as exc:
        raise DataError(
            f"{remote.name}: download from {source.url} was interrupted ({exc!r}); "
            "run the fetch again to resume"
        ) from exc
    if expected is not None and written != expected:
        raise DataError(
            f"{remote.name}: download from {source.url} was interrupted after {written} of "
            f"{expected} bytes; run the fetch again to resume"
        )
    return sha.hexdigest()


def _range_start(response: Any) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _copy(
    src: IO[bytes], out: IO[bytes], sha: Any, done: int, remote: RemoteFile, progress: bool
) -> str:
    """Stream ``src`` to ``out`` while hashing; the hex digest."""
    with _progress_bar(progress, f"{remote.name}", remote.size, done) as advance:
        for block in iter(lambda: src.read(_CHUNK), b""):
            out.write(block)
            sha.update(block)
            advance(len(block))
    return sha.hexdigest()


# --------------------------------------------------------------------------- extraction


def _extract_zip(remote: RemoteFile, archive: Path, target: Path, progress: bool) -> list[str]:
    """Unpack ``archive`` into ``target`` via a temporary sibling; the top-level names added."""
    staging = target / f".extract-{remote.name}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                root = staging.resolve()
                dests = [_safe_member_path(root, info.filename, remote.name) for info in infos]
                hashes = _extract_members(zf, infos, dests, remote, progress)
                if remote.member_sums is not None:
                    _check_member_sums(zf, remote, hashes)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise DataError(f"{remote.name}: not a valid zip archive ({exc})") from exc
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
        return tops
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _safe_member_path(root: Path, name: str, archive: str) -> Path:
    """Where member ``name`` goes under the resolved folder ``root``; DataError if it escapes."""
    unix = name.replace("\\", "/")
    parts = [p for p in unix.split("/") if p not in ("", ".")]
    if unix.startswith("/") or re.match(r"^[A-Za-z]:", unix) or ".." in parts or not parts:
        raise DataError(
            f"{archive}: refusing to extract member {name!r} (absolute path or outside the "
            "target folder)"
        )
    dest = root.joinpath(*parts)
    if not dest.resolve().is_relative_to(root):
        raise DataError(f"{archive}: refusing to extract member {name!r} (outside the target)")
    return dest


def _extract_members(
    zf: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    dests: list[Path],
    remote: RemoteFile,
    progress: bool,
) -> dict[str, str]:
    """Write each member to its destination; the SHA-256 of each file member by name."""
    hashes: dict[str, str] = {}
    total = sum(i.file_size for i in infos)
    with _progress_bar(progress, f"unpacking {remote.name}", total, 0) as advance:
        for info, dest in zip(infos, dests, strict=True):
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            sha = hashlib.sha256()
            with zf.open(info) as src, dest.open("wb") as out:
                for block in iter(lambda src=src: src.read(_CHUNK), b""):
                    out.write(block)
                    sha.update(block)
                    advance(len(block))
            hashes[info.filename] = sha.hexdigest()
    return hashes


def _check_member_sums(zf: zipfile.ZipFile, remote: RemoteFile, hashes: dict[str, str]) -> None:
    """Compare the extracted members with the archive's own checksum list."""
    assert remote.member_sums is not None
    listing = remote.member_sums
    if listing not in hashes:
        raise DataError(f"{remote.name}: checksum list {listing} is missing from the archive")
    prefix = listing.rpartition("/")[0]
    prefix = f"{prefix}/" if prefix else ""
    expected: dict[str, str] = {}
    for line in zf.read(listing).decode("utf-8", "replace").splitlines():
        digest, _, rel = line.strip().partition(" ")
        if digest:
            expected[prefix + rel.strip().lstrip("*")] = digest.lower()
    for member, digest in expected.items():
        got = hashes.get(member)
        if got is None:
            raise DataError(f"{remote.name}: member {member} listed in {listing} is missing")
        if got != digest:
            raise DataError(
                f"{remote.name}: member {member} fails its SHA-256 check against {listing} "
                f"(expected {digest}, got {got})"
            )
    unlisted = sorted(set(hashes) - set(expected) - {listing})
    if unlisted:
        raise DataError(f"{remote.name}: member {unlisted[0]} is not listed in {listing}")


# --------------------------------------------------------------------------- helpers


def _remove_temporaries(target: Path, keep_parts: bool) -> None:
    """Delete staging folders and marker temporaries (and ``.part`` files unless kept)."""
    if not target.is_dir():
        return
    for path in target.iterdir():
        if path.name.startswith(".extract-") and path.name.endswith(".tmp"):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name == f"{MARKER}.tmp" or (not keep_parts and path.suffix == ".part"):
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
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
def _progress_bar(
    enabled: bool, label: str, total: int, done: int
) -> Iterator[Callable[[int], None]]:
    """A rich byte-progress bar on stderr; yields a function taking the bytes just handled."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=total or None, completed=done)
        yield lambda n: bar.advance(task, n)
