"""The one way ecgzoo unpacks a zip: checked names, size caps, streaming, one-line errors.

Used by ``data fetch`` (a whole database archive), ``predict`` (a zip of recordings) and the
record readers (single members read into memory). Before a byte is written, the archive's
declared sizes are checked against caps: no member over ``member_bytes``, no more than
``total_bytes`` in all, and no member (over 1 MB) or archive (over 64 MB unpacked) expanding
more than ``ratio`` times its compressed size: real ECG archives expand 1.4-4x, a zip bomb
hundreds of times. Members are then streamed and counted as they are written (a header that
lies about its size is caught by the count and the CRC). Encrypted members, unsupported
compression, corrupt data and truncated members are one :class:`~ecgzoo.errors.DataError`
naming the archive and the member. Clean-up of what was written is the caller's (a temporary
folder removed in ``finally``; the CLI turns SIGTERM into an exception so that runs too).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ecgzoo.errors import DataError

__all__ = [
    "FETCH_LIMITS",
    "PREDICT_LIMITS",
    "ZipLimits",
    "check_archive",
    "extract",
    "open_archive",
    "read_member",
    "safe_member_path",
]

CHUNK = 1 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)


@dataclass(frozen=True)
class ZipLimits:
    """Caps on what one archive may unpack to."""

    total_bytes: int
    member_bytes: int
    ratio: float = 100.0


#: A PhysioNet database archive (the largest used here unpacks to 150 MB).
FETCH_LIMITS = ZipLimits(total_bytes=16 << 30, member_bytes=4 << 30)
#: A zip of recordings given to ``predict``.
PREDICT_LIMITS = ZipLimits(total_bytes=4 << 30, member_bytes=256 << 20)
#: One record file read into memory.
MEMBER_LIMITS = ZipLimits(total_bytes=64 << 20, member_bytes=64 << 20)


@contextlib.contextmanager
def open_archive(archive: Path, label: str | None = None) -> Iterator[zipfile.ZipFile]:
    """``archive`` opened for reading; missing, unreadable or not a zip is one line."""
    label = label or str(archive)
    try:
        zf = zipfile.ZipFile(archive)
    except FileNotFoundError:
        raise DataError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{label}: a folder, not a zip file") from None
    except (zipfile.BadZipFile, OSError, *_ZIP_ERRORS) as exc:
        raise DataError(f"{label}: not a valid zip archive ({_first_line(exc)})") from None
    with zf:
        yield zf


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_member(info: zipfile.ZipInfo, label: str, limits: ZipLimits) -> None:
    where = f"{label}: member {info.filename}"
    if info.flag_bits & 0x1:
        raise DataError(f"{where} is encrypted; ecgzoo reads unencrypted archives only")
    if info.file_size > limits.member_bytes:
        raise DataError(
            f"{where} unpacks to {info.file_size:,} bytes (the limit is {limits.member_bytes:,})"
        )
    if info.file_size > (1 << 20) and info.file_size > limits.ratio * max(info.compress_size, 1):
        raise DataError(
            f"{where} expands {info.file_size / max(info.compress_size, 1):.0f} times "
            f"(a zip bomb? the limit is {limits.ratio:g})"
        )


def check_archive(
    infos: list[zipfile.ZipInfo], label: str, limits: ZipLimits, dest: Path | None = None
) -> int:
    """Refuse (one line) members or totals over ``limits``; the total bytes to unpack.

    With ``dest``, also refuse when its file system has not that much room left.
    """
    for info in infos:
        _check_member(info, label, limits)
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > limits.total_bytes:
        raise DataError(
            f"{label}: unpacks to {total:,} bytes in all (the limit is {limits.total_bytes:,})"
        )
    if total > (64 << 20) and total > limits.ratio * max(packed, 1):
        raise DataError(f"{label}: expands {total / max(packed, 1):.0f} times (a zip bomb?)")
    if dest is not None:
        free = shutil.disk_usage(dest).free
        if total > free:
            raise DataError(f"{label}: unpacks to {total:,} bytes, {dest} has {free:,} free")
    return total


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out, label: str, on_block) -> None:
    where = f"{label}: member {info.filename}"
    written = 0
    try:
        with zf.open(info) as src:
            while block := src.read(CHUNK):
                written += len(block)
                if written > info.file_size:  # zipfile bounds this too; never trust one check
                    raise DataError(f"{where} is larger than its header says")
                out.write(block)
                on_block(block)
    except NotImplementedError:
        raise DataError(
            f"{where}: compression method {info.compress_type} is not supported "
            "(re-zip it with deflate)"
        ) from None
    except _ZIP_ERRORS as exc:
        raise DataError(f"{where} is corrupt ({_first_line(exc)})") from None
    if written != info.file_size:
        raise DataError(f"{where} is truncated ({written} of {info.file_size} bytes)")


def read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, limits: ZipLimits = MEMBER_LIMITS
) -> bytes:
    """The bytes of one member, within ``limits``; one line naming archive and member."""
    import io

    _check_member(info, label, limits)
    buf = io.BytesIO()
    _stream(zf, info, buf, label, lambda _b: None)
    return buf.getvalue()


def safe_member_path(root: Path, name: str, archive: str) -> Path:
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


def extract(
    zf: zipfile.ZipFile,
    root: Path,
    label: str,
    limits: ZipLimits,
    select: Callable[[zipfile.ZipInfo], str | None] | None = None,
    on_block: Callable[[bytes], None] | None = None,
    on_member: Callable[[zipfile.ZipInfo, Path], None] | None = None,
) -> list[tuple[zipfile.ZipInfo, Path]]:
    """Unpack the members ``select`` keeps (by default all, under their own paths) into the
    resolved folder ``root``; returns ``(member, file)`` pairs of the files written.

    ``select(info)`` returns the relative path to write a member to, or None to skip it; two
    members bound for one path are refused (a zip can hold one name twice). ``on_block``
    sees every block written (hashing, progress), ``on_member`` each finished file.
    """
    root = root.resolve()
    plan: list[tuple[zipfile.ZipInfo, Path]] = []
    seen: dict[Path, str] = {}
    for info in zf.infolist():
        rel = info.filename if select is None else select(info)
        if rel is None:
            continue
        dest = safe_member_path(root, rel, label)
        if info.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        if dest in seen:
            raise DataError(
                f"{label}: members {seen[dest]} and {info.filename} would both be "
                f"{rel} (refusing to pick one)"
            )
        seen[dest] = info.filename
        plan.append((info, dest))
    check_archive([i for i, _ in plan], label, limits, root)
    for info, dest in plan:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as fh:
            _stream(zf, info, fh, label, on_block or (lambda _b: None))
        if on_member is not None:
            on_member(info, dest)
    return plan
