"""PhysioNet fetch: real MIT-BIH data from the local mirror (as a folder and over loopback HTTP),
plus small crafted databases for corrupt, interrupted and malicious downloads."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest

from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.fetch import marker as fetch_marker
from ecgzoo.fetch import physionet
from ecgzoo.fetch.physionet import (
    Database,
    RemoteFile,
    available_databases,
    database_dir,
    fetch,
    fetch_summary,
    is_fetched,
)

MITDB_ZIP = "mit-bih-arrhythmia-database-1.0.0.zip"
MITDB_FOLDER = "mit-bih-arrhythmia-database-1.0.0"


# --------------------------------------------------------------------------- helpers


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(root: Path, handler: type[http.server.BaseHTTPRequestHandler] = _QuietHandler):
    """Serve ``root`` on a loopback port in a daemon thread; yields the base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(root))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(home: Path) -> list[Path]:
    """Temporary files or folders a fetch may leave behind."""
    return [
        p
        for p in home.rglob("*")
        if p.name.endswith((".part", ".tmp")) or p.name.startswith(".extract-")
    ]


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tiny_members(seed: int = 0) -> dict[str, bytes]:
    """Members of a small database: two files, one of them big enough to split, and sums."""
    big = hashlib.shake_256(f"ecgzoo-{seed}".encode()).digest(256 * 1024)
    files = {"tiny-1.0/a.dat": big, "tiny-1.0/a.hea": b"a 1 360 1000\n"}
    sums = "".join(f"{sha256(d)} {n.split('/')[-1]}\n" for n, d in files.items())
    return {**files, "tiny-1.0/SHA256SUMS.txt": sums.encode()}


@pytest.fixture
def tiny_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Build a mirror folder holding a crafted database ``tiny`` 1.0 and add it to the catalog.

    ``make(zip_bytes, catalog_sha=None)`` writes ``tiny.zip`` and a small ``labels.csv``; the
    catalog records ``catalog_sha`` (default: the zip's real hash). Returns the mirror root.
    """

    def make(data: bytes, catalog_sha: str | None = None, member_sums: bool = True) -> Path:
        mirror = tmp_path / "mirror"
        folder = mirror / "tiny" / "1.0"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tiny.zip").write_bytes(data)
        labels = b"a,N\r\n"
        (folder / "labels.csv").write_bytes(labels)
        db = Database(
            name="tiny",
            version="1.0",
            title="crafted test database",
            files=(
                RemoteFile(
                    name="tiny.zip",
                    url="http://upstream.invalid/tiny.zip",
                    sha256=catalog_sha or sha256(data),
                    size=len(data),
                    extract=True,
                    member_sums="tiny-1.0/SHA256SUMS.txt" if member_sums else None,
                ),
                RemoteFile(
                    name="labels.csv",
                    url="http://upstream.invalid/labels.csv",
                    sha256=sha256(labels),
                    size=len(labels),
                ),
            ),
        )
        monkeypatch.setitem(physionet.CATALOG, "tiny", {"1.0": db})
        return mirror

    return make


@pytest.fixture(scope="module")
def mirror_url(physionet_mirror: Path) -> Iterator[str]:
    """The real mirror served over loopback HTTP."""
    with serve(physionet_mirror) as url:
        yield url


# --------------------------------------------------------------------------- real MIT-BIH


@pytest.mark.slow  # a whole database
def test_fetch_mitdb_from_local_mirror_is_idempotent(
    tmp_path: Path, physionet_mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    assert not is_fetched("mitdb", home=home)
    root = fetch("mitdb", "1.0.0", home=home, mirror=str(physionet_mirror), progress=False)

    assert root == home / "physionet" / "mitdb" / "1.0.0" == database_dir("mitdb", home=home)
    records = root / MITDB_FOLDER
    assert len(list(records.glob("*.hea"))) == 48
    assert len(list(records.glob("*.dat"))) == 48
    assert (records / "100.hea").read_text().startswith("100 2 360 650000")
    assert is_fetched("mitdb", "1.0.0", home=home)
    assert not (root / MITDB_ZIP).exists()  # the verified zip is removed once unpacked
    assert leftovers(home) == []

    marker = root / ".complete"
    stamp = marker.stat().st_mtime_ns
    folder_inode = records.stat().st_ino
    calls = []  # a second fetch is a stat per file: nothing downloaded, unpacked or hashed
    for name in ("download", "extract_zip", "sha256_file"):
        real = getattr(physionet, name)
        spy = partial(lambda real, name, *a, **k: calls.append(name) or real(*a, **k), real, name)
        monkeypatch.setattr(physionet, name, spy)
    monkeypatch.setattr(fetch_marker, "sha256_file", physionet.sha256_file)
    assert fetch("mitdb", home=home, mirror=str(physionet_mirror), progress=False) == root
    assert calls == []
    assert marker.stat().st_mtime_ns == stamp
    assert records.stat().st_ino == folder_inode


@pytest.mark.slow  # a whole database
def test_fetch_mitdb_over_http_with_env_defaults(
    tmp_path: Path, mirror_url: str, physionet_mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ECGZOO_HOME", str(home))
    monkeypatch.setenv("ECGZOO_PHYSIONET_MIRROR", mirror_url)

    root = fetch("mitdb", progress=False)

    assert root == home / "physionet" / "mitdb" / "1.0.0"
    records = root / MITDB_FOLDER
    assert len(list(records.glob("*.hea"))) == 48
    # every record file was checked against upstream's own hashes pinned in the catalog
    summary = fetch_summary("mitdb")
    assert summary["files"] == 147 and summary["pinned"] == 146
    assert summary["unverified"] == []
    marker = json.loads((root / ".complete").read_text())
    with zipfile.ZipFile(physionet_mirror / "mitdb" / "1.0.0" / MITDB_ZIP) as zf:
        sums = zf.read(f"{MITDB_FOLDER}/SHA256SUMS.txt").decode().split()
    assert marker["files"][f"{MITDB_FOLDER}/100.dat"][1] == sums[sums.index("100.dat") - 1]
    # the extracted records are byte-identical to the mirror's zip members
    with zipfile.ZipFile(physionet_mirror / "mitdb" / "1.0.0" / MITDB_ZIP) as zf:
        for name in ("100.hea", "208.atr", "234.dat"):
            assert (records / name).read_bytes() == zf.read(f"{MITDB_FOLDER}/{name}")
    assert leftovers(home) == []


def test_mitdb_fixture_has_all_records(mitdb_dir: Path) -> None:
    assert mitdb_dir.name == MITDB_FOLDER
    assert len(list(mitdb_dir.glob("*.hea"))) == 48
    assert (mitdb_dir / "RECORDS").read_text().split()[:2] == ["100", "101"]


def test_cinc2017_fixture_has_recordings_and_v3_labels(cinc2017_dir: Path) -> None:
    """Uses the shared test cache (a few seconds the first time, then a no-op)."""
    assert cinc2017_dir == database_dir("challenge-2017", home=cinc2017_dir.parents[2])
    assert len(list((cinc2017_dir / "training2017").glob("A*.mat"))) == 7528
    labels = (cinc2017_dir / "REFERENCE-v3.csv").read_text().split()
    assert len(labels) == 7528 and labels[0].startswith("A00001,")
    assert sorted({row.split(",")[1] for row in labels}) == ["A", "N", "O", "~"]


def test_corrupt_mitdb_download_is_refused(tmp_path: Path, physionet_mirror: Path) -> None:
    bad = tmp_path / "bad-mirror"
    (bad / "mitdb" / "1.0.0").mkdir(parents=True)
    with (physionet_mirror / "mitdb" / "1.0.0" / MITDB_ZIP).open("rb") as fh:
        head = fh.read(64 * 1024)  # a truncated copy of the real zip
    (bad / "mitdb" / "1.0.0" / MITDB_ZIP).write_bytes(head)
    home = tmp_path / "home"

    with serve(bad) as url, pytest.raises(DataError) as info:
        fetch("mitdb", home=home, mirror=url, progress=False)

    message = str(info.value)
    assert MITDB_ZIP in message and "not a valid zip archive" in message
    assert "\n" not in message
    assert not (home / "physionet" / "mitdb" / "1.0.0").exists()
    assert leftovers(home) == []
    assert not is_fetched("mitdb", home=home)


# --------------------------------------------------------------------------- crafted databases


def test_crafted_database_over_file_url(tmp_path: Path, tiny_db: Callable[..., Path]) -> None:
    mirror = tiny_db(make_zip(tiny_members()))
    home = tmp_path / "home"
    root = fetch("tiny", "1.0", home=home, mirror=mirror.as_uri(), progress=True)
    assert sorted(p.name for p in root.iterdir()) == [".complete", "labels.csv", "tiny-1.0"]
    assert (root / "tiny-1.0" / "a.hea").read_bytes() == b"a 1 360 1000\n"
    assert is_fetched("tiny", "1.0", home=home)


def test_altered_zip_over_http_leaves_nothing(tmp_path: Path, tiny_db: Callable[..., Path]) -> None:
    good = make_zip(tiny_members())
    altered = bytearray(good)
    altered[len(altered) // 2] ^= 0xFF
    mirror = tiny_db(bytes(altered), catalog_sha=sha256(good))
    home = tmp_path / "home"

    with serve(mirror) as url, pytest.raises(DataError, match="tiny.zip") as info:
        fetch("tiny", "1.0", home=home, mirror=url, progress=False)

    assert "checksum" in str(info.value)
    assert sha256(good) in str(info.value) and sha256(bytes(altered)) in str(info.value)
    assert not database_dir("tiny", "1.0", home=home).exists()
    assert leftovers(home) == []


def test_member_failing_its_listed_checksum_is_refused(
    tmp_path: Path, tiny_db: Callable[..., Path]
) -> None:
    members = tiny_members()
    members["tiny-1.0/a.hea"] = b"a 1 360 999\n"  # differs from SHA256SUMS.txt
    mirror = tiny_db(make_zip(members))
    home = tmp_path / "home"

    with pytest.raises(DataError, match=r"tiny-1\.0/a\.hea.*SHA256SUMS\.txt"):
        fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False)

    assert not database_dir("tiny", "1.0", home=home).exists()
    assert leftovers(home) == []


def test_truncated_zip_with_matching_checksum_is_refused(
    tmp_path: Path, tiny_db: Callable[..., Path]
) -> None:
    data = make_zip(tiny_members())[:-200]  # the central directory is cut off
    mirror = tiny_db(data)
    home = tmp_path / "home"

    with pytest.raises(DataError, match=r"tiny\.zip: not a valid zip"):
        fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False)

    assert not database_dir("tiny", "1.0", home=home).exists()
    assert leftovers(home) == []


class _RangeHandler(_QuietHandler):
    """Honours ``Range``; when ``cut_first``, the first download of each zip stops halfway
    although its ``Content-Length`` announced the whole file."""

    cut_first = True
    seen: dict[str, int] = {}
    ranges: list[str] = []

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        data = path.read_bytes()
        count = self.seen[self.path] = self.seen.get(self.path, 0) + 1
        if self.cut_first and count == 1 and path.suffix == ".zip":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        start = 0
        if self.headers.get("Range", "").startswith("bytes="):
            self.ranges.append(self.headers["Range"])
            start = int(self.headers["Range"][6:].split("-")[0])
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


def range_handler(cut_first: bool) -> type[_RangeHandler]:
    """A fresh handler class (its own request log)."""
    return type("Handler", (_RangeHandler,), {"cut_first": cut_first, "seen": {}, "ranges": []})


def test_interrupted_download_is_resumed(tmp_path: Path, tiny_db: Callable[..., Path]) -> None:
    data = make_zip(tiny_members())
    mirror = tiny_db(data)
    home = tmp_path / "home"
    handler = range_handler(cut_first=True)

    with serve(mirror, handler) as url:
        with pytest.raises(DataError, match=r"tiny\.zip.*interrupted") as info:
            fetch("tiny", "1.0", home=home, mirror=url, progress=False)
        assert "\n" not in str(info.value)
        assert not is_fetched("tiny", "1.0", home=home)
        part = database_dir("tiny", "1.0", home=home) / "tiny.zip.part"
        assert part.stat().st_size == len(data) // 2

        root = fetch("tiny", "1.0", home=home, mirror=url, progress=False)

    assert handler.ranges == [f"bytes={len(data) // 2}-"]
    assert (root / "tiny-1.0" / "a.dat").read_bytes() == tiny_members()["tiny-1.0/a.dat"]
    assert is_fetched("tiny", "1.0", home=home)
    assert leftovers(home) == []


@pytest.mark.parametrize("honours_range", [False, True])
def test_stale_part_file_is_recovered(
    tmp_path: Path, tiny_db: Callable[..., Path], honours_range: bool
) -> None:
    data = make_zip(tiny_members())
    mirror = tiny_db(data)
    home = tmp_path / "home"
    target = database_dir("tiny", "1.0", home=home)
    target.mkdir(parents=True)
    (target / "tiny.zip.part").write_bytes(b"garbage from another release" * 100)
    handler = range_handler(cut_first=False) if honours_range else _QuietHandler

    # with Range the resumed file fails its checksum and is downloaded again from scratch;
    # without, the server sends the whole file and the partial one is overwritten
    with serve(mirror, handler) as url:
        root = fetch("tiny", "1.0", home=home, mirror=url, progress=False)

    assert is_fetched("tiny", "1.0", home=home)
    assert (root / "tiny-1.0" / "a.dat").read_bytes() == tiny_members()["tiny-1.0/a.dat"]
    assert (root / "labels.csv").read_bytes() == b"a,N\r\n"
    assert leftovers(home) == []
    if honours_range:
        assert handler.seen["/tiny/1.0/tiny.zip"] == 2


@pytest.mark.parametrize("evil", ["../evil.txt", "tiny-1.0/../../evil.txt", "ABSOLUTE"])
def test_zip_slip_is_refused(tmp_path: Path, tiny_db: Callable[..., Path], evil: str) -> None:
    home = tmp_path / "home"
    if evil == "ABSOLUTE":
        evil = str(tmp_path / "abs-evil.txt")
    members = {"tiny-1.0/a.hea": b"ok\n", evil: b"pwned\n"}
    data = make_zip(members)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert evil in zf.namelist()  # the crafted name survived as is
    mirror = tiny_db(data, member_sums=False)

    with pytest.raises(DataError, match="refusing to extract") as info:
        fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False)

    assert repr(evil) in str(info.value)
    written = [p for p in tmp_path.rglob("*evil.txt")]
    assert written == []
    assert not database_dir("tiny", "1.0", home=home).exists()


# --------------------------------------------------------------------------- catalog and errors


def test_catalog_and_unknown_names(tmp_path: Path) -> None:
    assert available_databases() == {
        "challenge-2017": ["1.0.0"],
        "challenge-2021": ["1.0.3"],
        "mitdb": ["1.0.0"],
        "ptb-xl": ["1.0.3"],
        "svdb": ["1.0.0"],
    }

    with pytest.raises(ConfigError, match="'nosuchdb'") as info:
        fetch("nosuchdb", home=tmp_path)
    assert "mitdb" in str(info.value) and "challenge-2017" in str(info.value)

    with pytest.raises(ConfigError, match="'9.9.9'.*'mitdb'.*1.0.0"):
        fetch("mitdb", "9.9.9", home=tmp_path)
    with pytest.raises(EcgzooError, match="nosuchdb"):
        is_fetched("nosuchdb", home=tmp_path)
    with pytest.raises(EcgzooError, match="nosuchdb"):
        database_dir("nosuchdb", home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_bad_mirror_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ftp://example.org"):
        fetch("mitdb", home=tmp_path / "home", mirror="ftp://example.org", progress=False)
    with pytest.raises(DataError, match=MITDB_ZIP):
        fetch("mitdb", home=tmp_path / "home", mirror=str(tmp_path / "none"), progress=False)
    assert leftovers(tmp_path) == []
    assert not database_dir("mitdb", home=tmp_path / "home").exists()


def test_no_side_effects_on_import_or_lookup(tmp_path: Path) -> None:
    home = tmp_path / "never-created"
    code = (
        "from ecgzoo.fetch.physionet import database_dir, is_fetched; "
        "print(database_dir('mitdb'), is_fetched('challenge-2017'))"
    )
    env = {**os.environ, "ECGZOO_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(home / "physionet" / "mitdb" / "1.0.0"), "False"]
    assert not home.exists()
