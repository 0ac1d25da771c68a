"""The ``.complete`` marker of a fetched PhysioNet database and the checks that read it.

The marker records every fetched file's size, SHA-256 and how it was verified; "ready" means
the marker is there and every file it names still has its size, and a full check re-hashes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from ecgzoo.errors import ConfigError
from ecgzoo.fetch.catalog import Database, Entry
from ecgzoo.fetch.transfer import sha256_file
from ecgzoo.paths import atomic_write_text

__all__ = [
    "MARKER",
    "MARKER_FORMAT",
    "is_included",
    "marker_problems",
    "normalise_includes",
    "read_marker",
    "write_marker",
]

MARKER = ".complete"
MARKER_FORMAT = 2


def normalise_includes(db: Database, include: Sequence[str] | None) -> list[str] | None:
    """``include`` as sorted folder prefixes (None: the whole database).

    Only listed databases take it; for others a non-empty ``include`` is a ``ConfigError``.
    """
    if not include:
        return None
    if not db.listed:
        raise ConfigError(f"include: {db.name} is fetched whole (only listed databases take it)")
    return sorted({p.strip("/") for p in include if p.strip("/")}) or None


def is_included(rel: str, includes: list[str] | None) -> bool:
    """Whether the relative path ``rel`` lies in one of ``includes`` (None: everything does)."""
    return includes is None or any(rel == p or rel.startswith(p + "/") for p in includes)


def read_marker(target: Path) -> dict | None:
    """The marker of ``target`` as a dict, or None when it is missing, unreadable or stale."""
    try:
        info = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("format") != MARKER_FORMAT:
        return None
    if not isinstance(info.get("files"), dict):
        return None
    return info


def marker_problems(
    db: Database, target: Path, includes: list[str] | None, full: bool, cover: bool = True
) -> list[str]:
    """Why ``target`` is not a complete copy of ``includes`` (empty when it is)."""
    info = read_marker(target)
    if info is None:
        return [f"{target}: not fetched (no valid {MARKER} marker)"]
    if (info.get("database"), info.get("version")) != (db.name, db.version):
        return [f"{target / MARKER}: records another database"]
    done = info.get("include")
    if cover and done is not None and not all(is_included(p, done) for p in includes or [""]):
        return [f"{target}: fetched only {', '.join(done)}"]
    problems = []
    for name, entry in info["files"].items():
        path = target / name
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(f"{name}: missing")
            continue
        if size != entry[0]:
            problems.append(f"{name}: size {size} bytes, {entry[0]} when fetched")
        elif full and sha256_file(path) != entry[1]:
            problems.append(f"{name}: SHA-256 differs from the verified download")
    return problems


def write_marker(
    db: Database, target: Path, files: dict[str, Entry], includes: list[str] | None
) -> None:
    """Record ``files`` (name -> size, SHA-256, how verified) as ``target``'s marker, atomically."""
    info = {
        "format": MARKER_FORMAT,
        "database": db.name,
        "version": db.version,
        "include": includes,
        "files": dict(sorted(files.items())),
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(target / MARKER, json.dumps(info, separators=(",", ":")))
