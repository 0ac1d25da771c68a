"""Records in a folder or a zip, and the names errors show for them.

A zip is never extracted as is: only members whose bare file name is a wanted record file are
copied, under that bare name, into a private temporary folder removed afterwards. Every failure
while copying (a bit flip: ``zlib.error`` or a CRC mismatch; an encrypted or deflate64 member;
a truncated member) is one ``DataError`` line naming the archive AND the member; errors found
later while reading a copied file name ``archive:member`` too, never the private temporary path.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from ecgzoo.errors import DataError
from ecgzoo.fetch import safe_zip
from ecgzoo.fetch.safe_zip import open_archive
from ecgzoo.readers.wfdb_io import Display, FolderNames

MEMBER_RE = re.compile(r"^([A-Za-z0-9_\-]+)\.(hea|mat|dat|atr)$")
MAX_MEMBER_BYTES = safe_zip.MEMBER_LIMITS.member_bytes  # no record file comes near this


class ArchiveNames:
    """``display`` for files copied out of a zip: ``archive:member`` (picklable)."""

    def __init__(self, archive: Path, members: dict[str, str]) -> None:
        self.archive = Path(archive)
        self.members = members

    def __call__(self, name: str) -> str:
        return f"{self.archive}:{self.members.get(name, name)}"


def records_dir(folder: Path) -> Path:
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


@contextlib.contextmanager
def open_zip(archive: Path) -> Iterator[zipfile.ZipFile]:
    """A zip opened for reading; ``DataError`` when missing or not a zip."""
    with open_archive(archive) as zf:
        yield zf


def zip_index(zf: zipfile.ZipFile, archive: Path) -> dict[str, zipfile.ZipInfo]:
    """Bare member file name (``A00001.hea``) -> member, for record files only."""
    index: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if MEMBER_RE.match(base):
            if base in index:
                raise DataError(f"{archive}: member {base} appears twice in the archive")
            index[base] = info
    return index


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive: Path) -> bytes:
    """The bytes of one member; one ``DataError`` line naming archive and member on failure."""
    return safe_zip.read_member(zf, info, str(archive))


def zip_member_text(archive: Path, name: str) -> str | None:
    """The text of the zip member whose bare file name is ``name`` (None if absent)."""
    with open_zip(archive) as zf:
        for info in zf.infolist():
            if info.filename.replace("\\", "/").rsplit("/", 1)[-1] == name:
                return read_member(zf, info, archive).decode("utf-8", errors="replace")
    return None


@contextlib.contextmanager
def record_folder(
    source: Path, records: Sequence[str], suffixes: tuple[str, ...] = (".hea", ".mat")
) -> Iterator[tuple[Path, Display]]:
    """``(folder, display)``: a folder holding ``<record><suffix>`` for every record.

    A folder is used in place; a zip has just those members copied into a temporary folder,
    and ``display`` names them ``archive:member``. A missing file raises ``DataError``.
    """
    if source.is_dir():
        folder = records_dir(source)
        for record in records:
            for suffix in suffixes:
                if not (folder / f"{record}{suffix}").is_file():
                    raise DataError(
                        f"{folder / (record + suffix)}: file missing for record {record} "
                        "listed in the reference"
                    )
        yield folder, FolderNames(folder)
        return
    if not source.is_file():
        raise DataError(f"{source}: no such folder or zip file")
    with open_zip(source) as zf, tempfile.TemporaryDirectory(prefix="ecgzoo-zip-") as tmp:
        index = zip_index(zf, source)
        out = Path(tmp)
        members: dict[str, str] = {}
        for record in records:
            for suffix in suffixes:
                info = index.get(f"{record}{suffix}")
                if info is None:
                    raise DataError(
                        f"{source}: {record}{suffix} missing for record {record} "
                        "listed in the reference"
                    )
                (out / f"{record}{suffix}").write_bytes(read_member(zf, info, source))
                members[f"{record}{suffix}"] = info.filename
        yield out, ArchiveNames(source, members)
