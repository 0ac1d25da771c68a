"""The PhysioNet databases ecgzoo can fetch, and the upstream checksums it pins.

Trust comes from two places, both upstream's own:

- ``SHA256SUMS.txt``: PhysioNet publishes one per project (at the top of its file tree, and a copy
  inside every project zip). Every file fetched is checked against the listing the source serves,
  so the full upstream release and a partial mirror (whose listing names only what it holds) are
  accepted by the same code.
- pinned hashes: lines copied from PhysioNet's own ``SHA256SUMS.txt`` (``fetch/pins/*.sha256``),
  checked wherever the pinned file is present, whatever the source. Hashes of a mirror's own
  repackaged zips are never pinned: the upstream zip differs from them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ecgzoo.errors import ConfigError

PHYSIONET_URL = "https://physionet.org"
UPSTREAM_ENV = "ECGZOO_PHYSIONET_URL"  # another server laid out like physionet.org (tests)
SUMS = "SHA256SUMS.txt"
# how each fetched file was verified, as the fetch marker records it
PINNED, LISTED, NONE, LISTING = "pinned", "SHA256SUMS.txt", "none", "listing"
Entry = list  # a fetched file in the marker: [size, sha256, how]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a database release.

    ``name`` is its path inside the database folder and inside ``<mirror>/<db>/<version>/``
    (unless ``mirror_path`` says otherwise, relative to the mirror root); ``url`` is absolute or
    relative to the PhysioNet base URL. ``sha256`` is pinned only when it is upstream's own.
    """

    name: str
    url: str
    sha256: str | None = None
    size: int | None = None
    extract: bool = False  # a zip whose contents are unpacked into the database folder
    member_sums: str | None = None  # the zip member holding the archive's own SHA256SUMS.txt
    pins: str | None = None  # packaged upstream SHA256SUMS lines for the members (see module doc)
    # the pins name every record of the release (mitdb); svdb's pin the 52 mirror records of 78,
    # so there a record file upstream's own listing names is not an intruder
    pins_complete: bool = True
    mirror_path: str | None = None


@dataclass(frozen=True)
class Database:
    """One version of a PhysioNet database and the files that make it up.

    ``sums`` is the project's ``SHA256SUMS.txt``, fetched first where the source has it; when
    ``listed`` the release IS the files that listing names (fetched one by one, optionally only
    those under some folders), as for the 88,000-record Challenge 2021 tree.
    """

    name: str
    version: str
    title: str
    files: tuple[RemoteFile, ...] = ()
    sums: RemoteFile | None = None
    listed: bool = False


def _files(db: str, version: str, name: str) -> str:
    return f"files/{db}/{version}/{name}"


def _project_zip(db: str, slug: str, pins: str | None, pins_complete: bool = True) -> RemoteFile:
    return RemoteFile(
        name=f"{slug}.zip",
        url=f"static/published-projects/{db}/{slug}.zip",
        extract=True,
        member_sums=f"{slug}/{SUMS}",
        pins=pins,
        pins_complete=pins_complete,
    )


def _sums(db: str, version: str) -> RemoteFile:
    return RemoteFile(name=SUMS, url=_files(db, version, SUMS))


_SCORING = (
    "weights.csv",
    "weights_abbreviations.csv",
    "dx_mapping_scored.csv",
    "dx_mapping_unscored.csv",
    "LICENSE",
)
_EVALUATION_2021 = "https://raw.githubusercontent.com/physionetchallenges/evaluation-2021/main"

CATALOG: dict[str, dict[str, Database]] = {
    "mitdb": {
        "1.0.0": Database(
            name="mitdb",
            version="1.0.0",
            title="MIT-BIH Arrhythmia Database",
            files=(_project_zip("mitdb", "mit-bih-arrhythmia-database-1.0.0", "mitdb-1.0.0"),),
        ),
    },
    "svdb": {
        "1.0.0": Database(
            name="svdb",
            version="1.0.0",
            title="MIT-BIH Supraventricular Arrhythmia Database",
            files=(
                _project_zip(
                    "svdb",
                    "mit-bih-supraventricular-arrhythmia-database-1.0.0",
                    "svdb-1.0.0",
                    pins_complete=False,
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
                    url=_files("challenge-2017", "1.0.0", "training2017.zip"),
                    extract=True,
                ),
                RemoteFile(
                    name="REFERENCE-v3.csv",
                    url=_files("challenge-2017", "1.0.0", "REFERENCE-v3.csv"),
                ),
            ),
            sums=_sums("challenge-2017", "1.0.0"),
        ),
    },
    "challenge-2021": {
        "1.0.3": Database(
            name="challenge-2021",
            version="1.0.3",
            title="Will Two Do? 12-lead ECG classification (CinC Challenge 2021)",
            # the official scoring tables live in the challenge's evaluation repository
            files=tuple(
                RemoteFile(
                    name=f"scoring/{n}",
                    url=f"{_EVALUATION_2021}/{n}",
                    mirror_path=f"challenge-2021/scoring/{n}",
                )
                for n in _SCORING
            ),
            sums=_sums("challenge-2021", "1.0.3"),
            listed=True,
        ),
    },
    "ptb-xl": {
        "1.0.3": Database(
            name="ptb-xl",
            version="1.0.3",
            title="PTB-XL, a large publicly available electrocardiography dataset",
            # the tables always come, whatever --include limits the records to
            files=tuple(
                RemoteFile(name=n, url=_files("ptb-xl", "1.0.3", n))
                for n in ("ptbxl_database.csv", "scp_statements.csv", "RECORDS")
            ),
            sums=_sums("ptb-xl", "1.0.3"),
            listed=True,
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


def default_version(database: str) -> str:
    """The newest catalogued version of ``database`` (ConfigError when unknown)."""
    versions = available_databases().get(database)
    if not versions:
        get_database(database)  # raises with the list of databases
    assert versions
    return versions[-1]


def upstream_url(remote: RemoteFile) -> str:
    """``remote``'s absolute upstream address (relative ones resolve against physionet.org)."""
    if "://" in remote.url:
        return remote.url
    base = os.environ.get(UPSTREAM_ENV) or PHYSIONET_URL
    return f"{base.rstrip('/')}/{remote.url}"


def parse_sums(text: str) -> dict[str, str]:
    """``{path: sha256}`` from ``SHA256SUMS.txt`` lines ``<hex>  <path>`` (``*`` binary marks)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, rel = line.strip().partition(" ")
        rel = rel.strip().lstrip("*")
        if digest and rel:
            out[rel] = digest.lower()
    return out


@cache
def pinned_hashes(pins: str) -> dict[str, str]:
    """Upstream's own hashes packaged as ``ecgzoo/fetch/pins/<pins>.sha256``."""
    text = resources.files("ecgzoo.fetch").joinpath("pins", f"{pins}.sha256").read_text("utf-8")
    return parse_sums(text)
