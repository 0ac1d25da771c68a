"""PhysioNet databases: a verified, idempotent, resumable ``fetch``.

A fetched database lives in ``<home>/physionet/<database>/<version>/``. Every file is checked
against the project's own ``SHA256SUMS.txt`` (served beside the files, or inside the project zip)
and against the upstream hashes pinned in :mod:`ecgzoo.fetch.catalog` before anything becomes
visible there, so the full physionet.org release and a partial mirror are accepted by the same
code. A ``.complete`` marker records every file's size and SHA-256: "ready" means the marker is
there and every file it names still has its size (:func:`is_fetched`); ``verify=True`` re-hashes.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ecgzoo.errors import ConfigError, DataError
from ecgzoo.fetch.catalog import (
    CATALOG,
    LISTED,
    LISTING,
    NONE,
    PINNED,
    SUMS,
    Database,
    Entry,
    RemoteFile,
    available_databases,
    default_version,
    get_database,
    parse_sums,
    upstream_url,
)
from ecgzoo.fetch.marker import (
    MARKER,
    is_included,
    marker_problems,
    normalise_includes,
    read_marker,
    write_marker,
)
from ecgzoo.fetch.transfer import (
    NotAtSource,
    Source,
    download,
    exclusive_lock,
    extract_zip,
    progress_bar,
    safe_member_path,
    sha256_file,
)
from ecgzoo.paths import ecgzoo_home

__all__ = [
    "CATALOG",
    "Database",
    "RemoteFile",
    "available_databases",
    "database_dir",
    "fetch",
    "fetch_summary",
    "get_database",
    "is_fetched",
    "verify_fetched",
]

MIRROR_ENV = "ECGZOO_PHYSIONET_MIRROR"


def _resolve(database: str, version: str | None) -> Database:
    return get_database(database, version or default_version(database))


def database_dir(database: str, version: str | None = None, home: Path | None = None) -> Path:
    """The folder where ``database`` ``version`` lives once fetched (nothing is created)."""
    db = _resolve(database, version)
    return Path(home if home is not None else ecgzoo_home()) / "physionet" / db.name / db.version


def is_fetched(
    database: str,
    version: str | None = None,
    home: Path | None = None,
    include: Sequence[str] | None = None,
) -> bool:
    """Whether a complete copy is there: the marker, and every file it records at its size."""
    db = _resolve(database, version)
    target = database_dir(db.name, db.version, home)
    return not marker_problems(db, target, normalise_includes(db, include), full=False)


def verify_fetched(
    database: str,
    version: str | None = None,
    home: Path | None = None,
    *,
    include: Sequence[str] | None = None,
    full: bool = True,
) -> list[str]:
    """What is wrong with the fetched copy (empty when nothing): missing or resized files, and
    with ``full`` files whose SHA-256 no longer matches the one verified at fetch time.

    ``include`` also asks that those folders were fetched; without it, what was fetched is
    checked (for :func:`is_fetched`, without it means the whole database).
    """
    db = _resolve(database, version)
    target = database_dir(db.name, db.version, home)
    return marker_problems(
        db, target, normalise_includes(db, include), full, cover=include is not None
    )


def fetch_summary(
    database: str, version: str | None = None, home: Path | None = None
) -> dict[str, object]:
    """Files, bytes and how many files were verified which way, from the fetch marker."""
    db = _resolve(database, version)
    info = read_marker(database_dir(db.name, db.version, home)) or {}
    files: dict[str, Entry] = info.get("files", {})
    hows = Counter(entry[2] for entry in files.values())
    return {
        "files": len(files),
        "bytes": sum(int(entry[0]) for entry in files.values()),
        "pinned": hows[PINNED],
        "listed": hows[LISTED],
        "unverified": sorted(name for name, entry in files.items() if entry[2] == NONE),
        "include": info.get("include"),
    }


def fetch(
    database: str,
    version: str | None = None,
    *,
    home: Path | None = None,
    mirror: str | None = None,
    progress: bool = True,
    include: Sequence[str] | None = None,
    verify: bool = False,
) -> Path:
    """Download, verify and unpack ``database`` ``version`` unless already done; its folder.

    ``mirror`` (default ``$ECGZOO_PHYSIONET_MIRROR``) is a local folder, a ``file://`` URL or an
    ``http(s)://`` base URL laid out ``<base>/<database>/<version>/<file>``; without one the
    files come from physionet.org (``$ECGZOO_PHYSIONET_URL`` names a server laid out like it).
    ``include`` limits a listed database (challenge-2021) to folders such as
    ``training/georgia``. A copy that fails the quick check (or, with ``verify``, the full hash
    check) is fetched again.
    """
    db = _resolve(database, version)
    includes = normalise_includes(db, include)
    target = database_dir(db.name, db.version, home)
    if not marker_problems(db, target, includes, verify):
        return target
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV) or None
    sources = {f.name: _source(db, f, mirror) for f in db.files}

    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target.parent / f".{db.version}.lock"):
        # another process may have finished it meanwhile (a failed full check is not re-run)
        if not verify and not marker_problems(db, target, includes, full=False):
            return target
        created = not target.exists()
        target.mkdir(exist_ok=True)
        previous = read_marker(target)
        if previous and previous.get("include") and includes:  # keep what was fetched before
            includes = sorted(set(previous["include"]) | set(includes))
        (target / MARKER).unlink(missing_ok=True)  # no longer true: never trusted again
        try:
            files: dict[str, Entry] = {}
            listing = _fetch_listing(db, mirror, target, files)
            for remote in db.files:
                files.update(_obtain(remote, sources[remote.name], target, listing, progress))
            if db.listed:
                assert listing is not None
                files.update(_obtain_listed(db, listing, includes, mirror, target, progress))
            write_marker(db, target, files, includes)
        except BaseException:
            _remove_temporaries(target)
            if created:
                (target / SUMS).unlink(missing_ok=True)
                _remove_empty_tree(target)
            raise
        _remove_temporaries(target, parts=True)  # leftovers of earlier, failed fetches
    return target


# --------------------------------------------------------------------------- sources


def _source(db: Database, remote: RemoteFile, mirror: str | None) -> Source:
    if not mirror:
        return Source(url=upstream_url(remote))
    rel = remote.mirror_path or f"{db.name}/{db.version}/{remote.name}"
    if "://" not in mirror:
        return Source(path=Path(mirror).expanduser().joinpath(*rel.split("/")))
    parsed = urllib.parse.urlsplit(mirror)
    if parsed.scheme == "file":
        base = Path(urllib.request.url2pathname(parsed.path))
        return Source(path=base.joinpath(*rel.split("/")))
    if parsed.scheme in ("http", "https"):
        quoted = "/".join(urllib.parse.quote(p) for p in rel.split("/"))
        return Source(url=f"{mirror.rstrip('/')}/{quoted}")
    raise ConfigError(
        f"PhysioNet mirror {mirror!r} ({MIRROR_ENV}): expected a folder, a file:// URL "
        "or an http(s):// URL"
    )


# --------------------------------------------------------------------------- download


def _fetch_listing(
    db: Database, mirror: str | None, target: Path, files: dict[str, Entry]
) -> dict[str, str] | None:
    """The project's ``SHA256SUMS.txt`` from the source, kept in ``target``; None if it has none."""
    if db.sums is None:
        return None
    source = _source(db, db.sums, mirror)
    part = target / f"{SUMS}.part"
    try:
        digest = download(SUMS, source, part)
    except NotAtSource:
        if db.listed:
            raise DataError(
                f"{db.name} {db.version}: {source} is missing, and it lists the files to fetch"
            ) from None
        return None  # a mirror without it: files are kept, recorded as not verified
    listing = parse_sums(part.read_text("utf-8", errors="replace"))
    if not listing:
        part.unlink(missing_ok=True)
        raise DataError(f"{SUMS} from {source}: no '<sha256>  <file>' lines")
    files[SUMS] = [part.stat().st_size, digest, LISTING]
    os.replace(part, target / SUMS)
    return listing


def _expected(remote: RemoteFile, listing: dict[str, str] | None) -> tuple[str | None, str]:
    """The SHA-256 ``remote`` must have and where that comes from."""
    listed = (listing or {}).get(remote.name)
    if remote.sha256 is not None:
        if listed is not None and listed != remote.sha256:
            raise DataError(
                f"{remote.name}: the source's {SUMS} gives {listed}, upstream published "
                f"{remote.sha256}; the source is not the expected release"
            )
        return remote.sha256, PINNED
    if listed is not None:
        return listed, LISTED
    return None, NONE


def _download_checked(
    label: str, source: Source, part: Path, expected: str | None, size: int | None, progress: bool
) -> str:
    """Download into ``part`` and check it; DataError (and no part) when the hash differs."""
    resumed = part.exists() and source.resumable and part.stat().st_size > 0
    digest = download(label, source, part, size=size, resume=resumed, progress=progress)
    if expected is not None and digest != expected and resumed:
        part.unlink(missing_ok=True)  # a stale or foreign partial file: start over
        digest = download(label, source, part, size=size, progress=progress)
    if expected is not None and digest != expected:
        part.unlink(missing_ok=True)
        raise DataError(
            f"{label} from {source}: SHA-256 checksum mismatch (expected {expected}, got "
            f"{digest}); the file is corrupt or not the expected release"
        )
    return digest


def _obtain(
    remote: RemoteFile,
    source: Source,
    target: Path,
    listing: dict[str, str] | None,
    progress: bool,
) -> dict[str, Entry]:
    """Fetch and verify ``remote`` into ``target``; the files it added there."""
    expected, how = _expected(remote, listing)
    dest = safe_member_path(target.resolve(), remote.name, "catalog")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = _download_checked(remote.name, source, part, expected, remote.size, progress)
    if not remote.extract:
        size = part.stat().st_size
        os.replace(part, dest)
        return {remote.name: [size, digest, how]}
    try:
        return extract_zip(remote, part, target, progress)
    finally:
        part.unlink(missing_ok=True)


def _obtain_listed(
    db: Database,
    listing: dict[str, str],
    includes: list[str] | None,
    mirror: str | None,
    target: Path,
    progress: bool,
) -> dict[str, Entry]:
    """Every file the listing names (under ``includes``), one by one; already-good ones kept."""
    assert db.sums is not None
    wanted = {rel: sha for rel, sha in listing.items() if is_included(rel, includes)}
    if not wanted:
        raise DataError(f"{db.name} {db.version}: {SUMS} lists no file under {includes}")
    base = db.sums.url.rpartition("/")[0]
    root = target.resolve()
    out: dict[str, Entry] = {}
    with progress_bar(progress, f"{db.name} files", len(wanted), 0, unit="files") as advance:
        for rel, sha in sorted(wanted.items()):
            dest = safe_member_path(root, rel, SUMS)
            if not (dest.is_file() and sha256_file(dest) == sha):  # resume file by file
                dest.parent.mkdir(parents=True, exist_ok=True)
                source = _source(db, RemoteFile(name=rel, url=f"{base}/{rel}"), mirror)
                part = dest.with_name(dest.name + ".part")
                _download_checked(rel, source, part, sha, None, False)
                os.replace(part, dest)
            out[rel] = [dest.stat().st_size, sha, LISTED]
            advance(1)
    return out


# --------------------------------------------------------------------------- helpers


def _remove_temporaries(target: Path, parts: bool = False) -> None:
    """Delete staging folders and marker temporaries (and, with ``parts``, ``.part`` files)."""
    if not target.is_dir():
        return
    for path in target.iterdir():
        if path.name.startswith(".extract-") and path.name.endswith(".tmp"):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name == f"{MARKER}.tmp":
            path.unlink(missing_ok=True)
    if parts:
        for path in target.rglob("*.part"):
            path.unlink(missing_ok=True)


def _remove_empty_tree(target: Path) -> None:
    """Remove ``target`` if it holds only empty folders (a kept ``.part`` keeps it)."""
    for path in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            try:
                path.rmdir()
            except OSError:
                pass
    try:
        target.rmdir()
    except OSError:
        pass
