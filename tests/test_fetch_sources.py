"""Fetch from a server laid out like physionet.org (with files the mirror lacks), SVDB and the
Challenge 2021 tree, verification of what is reported as ready, and no ``.part`` left behind."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from ecgzoo.errors import DataError
from ecgzoo.fetch import catalog, physionet, transfer
from ecgzoo.fetch.physionet import (
    database_dir,
    fetch,
    fetch_summary,
    is_fetched,
    verify_fetched,
)
from tests import test_physionet
from tests.test_physionet import leftovers, make_zip, serve, tiny_members

tiny_db = test_physionet.tiny_db  # the crafted-database fixture, shared

SVDB = "mit-bih-supraventricular-arrhythmia-database-1.0.0"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upstream_svdb_zip(mirror: Path) -> bytes:
    """The mirror's SVDB zip plus records and documents it lacks, all listed in its
    SHA256SUMS.txt, as the full upstream release is."""
    extra = {"999.hea": b"999 2 128 230400\n", "x/README.txt": b"not in the mirror\n"}
    buf = io.BytesIO()
    with zipfile.ZipFile(mirror / "svdb" / "1.0.0" / f"{SVDB}.zip") as src:
        sums = src.read(f"{SVDB}/SHA256SUMS.txt").decode()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
            for info in src.infolist():
                if not info.filename.endswith("SHA256SUMS.txt"):
                    out.writestr(info.filename, src.read(info))
            for name, data in extra.items():
                out.writestr(f"{SVDB}/{name}", data)
                sums += f"{sha256(data)}  {name}\n"
            out.writestr(f"{SVDB}/SHA256SUMS.txt", sums)
    return buf.getvalue()


def physionet_like_tree(root: Path, mirror: Path) -> None:
    """``root`` laid out like physionet.org: the SVDB project zip under static/, the 2021 tree
    under files/ with a source folder the mirror lacks, the scoring tables beside it."""
    static = root / "static" / "published-projects" / "svdb"
    static.mkdir(parents=True)
    (static / f"{SVDB}.zip").write_bytes(upstream_svdb_zip(mirror))
    tree = root / "files" / "challenge-2021" / "1.0.3"
    src = mirror / "challenge-2021" / "1.0.3"
    lines = (src / "SHA256SUMS.txt").read_text()
    (tree / "training").mkdir(parents=True)
    os.symlink(src / "training" / "ptb", tree / "training" / "ptb")
    extra = tree / "training" / "extra_source" / "g1"
    extra.mkdir(parents=True)
    header = b"X00001 12 500 5000\n"
    (extra / "X00001.hea").write_bytes(header)
    lines += f"{sha256(header)}  training/extra_source/g1/X00001.hea\n"
    (tree / "SHA256SUMS.txt").write_text(lines)
    os.symlink(mirror / "challenge-2021" / "scoring", root / "evaluation-2021")


def test_fetch_from_physionet_like_server_with_extra_files(
    tmp_path: Path, physionet_mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "physionet.org"
    physionet_like_tree(root, physionet_mirror)
    db = catalog.CATALOG["challenge-2021"]["1.0.3"]
    scoring = tuple(
        dataclasses.replace(f, url=f"evaluation-2021/{f.name.split('/')[-1]}") for f in db.files
    )
    monkeypatch.setitem(
        catalog.CATALOG, "challenge-2021", {"1.0.3": dataclasses.replace(db, files=scoring)}
    )
    home = tmp_path / "home"
    with serve(root) as url:
        monkeypatch.setenv("ECGZOO_PHYSIONET_URL", url)
        svdb = fetch("svdb", home=home, mirror="", progress=False)
        ptb = fetch(
            "challenge-2021",
            home=home,
            mirror="",
            include=["training/ptb", "training/extra_source"],
            progress=False,
        )

    folder = svdb / SVDB
    assert len(list(folder.glob("*.atr"))) == 52 and (folder / "x" / "README.txt").is_file()
    summary = fetch_summary("svdb", home=home)
    assert summary["pinned"] == 277  # every mirror record file against upstream's own hash
    assert summary["listed"] == 2  # the extra files, against the zip's SHA256SUMS.txt
    assert summary["unverified"] == [f"{SVDB}/RECORDS"]  # the subset's rewritten RECORDS
    assert len(list((ptb / "training" / "ptb" / "g1").glob("*.mat"))) == 10
    assert (ptb / "training" / "extra_source" / "g1" / "X00001.hea").is_file()
    assert not (ptb / "training" / "georgia").exists()
    assert (ptb / "scoring" / "weights.csv").is_file()
    assert fetch_summary("challenge-2021", home=home)["listed"] == 22
    assert leftovers(home) == []


def test_challenge_2021_from_mirror_over_http_grows_by_include(
    tmp_path: Path, physionet_mirror: Path
) -> None:
    home = tmp_path / "home"
    with serve(physionet_mirror) as url:
        root = fetch("challenge-2021", home=home, mirror=url, include=["training/ptb"])
        assert is_fetched("challenge-2021", home=home, include=["training/ptb"])
        assert not is_fetched("challenge-2021", home=home, include=["training/georgia"])
        fetch("challenge-2021", home=home, mirror=url, include=["training/georgia/"])
    summary = fetch_summary("challenge-2021", home=home)
    assert summary["include"] == ["training/georgia", "training/ptb"]
    assert summary["listed"] == (10 + 29) * 2 + 2  # records and their RECORDS files
    assert len(summary["unverified"]) == 5  # the scoring tables: no upstream hash to pin
    assert len(list(root.glob("training/*/g1/*.hea"))) == 39
    assert verify_fetched("challenge-2021", home=home) == []


def test_cinc2017_from_mirror_without_sums_is_recorded_unverified(cinc2017_dir: Path) -> None:
    summary = fetch_summary("challenge-2017", home=cinc2017_dir.parents[2])
    assert summary["pinned"] == summary["listed"] == 0
    assert "REFERENCE-v3.csv" in summary["unverified"]
    assert summary["files"] == len(summary["unverified"]) == 7528 * 2 + 2 + 1


def test_deleted_or_altered_file_is_not_ready_and_is_repaired(
    tmp_path: Path,
    tiny_db,
) -> None:
    mirror = tiny_db(make_zip(tiny_members()))
    home = tmp_path / "home"
    root = fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False)
    (root / "tiny-1.0" / "a.hea").unlink()

    assert not is_fetched("tiny", "1.0", home=home)
    assert verify_fetched("tiny", "1.0", home=home) == ["tiny-1.0/a.hea: missing"]
    fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False)
    assert (root / "tiny-1.0" / "a.hea").read_bytes() == b"a 1 360 1000\n"
    assert is_fetched("tiny", "1.0", home=home)

    (root / "labels.csv").write_bytes(b"a,V\r\n")  # same size: only the full check sees it
    assert is_fetched("tiny", "1.0", home=home)
    assert verify_fetched("tiny", "1.0", home=home) == [
        "labels.csv: SHA-256 differs from the verified download"
    ]
    fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False, verify=True)
    assert (root / "labels.csv").read_bytes() == b"a,N\r\n"
    assert verify_fetched("tiny", "1.0", home=home) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_failed_copy_leaves_no_part_file(
    tmp_path: Path,
    tiny_db,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
) -> None:
    mirror = tiny_db(make_zip(tiny_members()))
    home = tmp_path / "home"

    def failing(src, out, *args, **kwargs):
        out.write(src.read(1000))
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(transfer, "copy_stream", failing)
    with pytest.raises(DataError, match="tiny.zip") as info:
        fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False)
    assert "\n" not in str(info.value)
    if code == errno.ENOSPC:
        assert "disk full" in str(info.value)
    assert leftovers(home) == []
    assert not database_dir("tiny", "1.0", home=home).exists()


def test_stray_part_files_are_removed_by_a_successful_fetch(
    tmp_path: Path,
    tiny_db,
) -> None:
    mirror = tiny_db(make_zip(tiny_members()))
    home = tmp_path / "home"
    target = database_dir("tiny", "1.0", home=home)
    target.mkdir(parents=True)
    (target / "labels.csv.part").write_bytes(b"x" * 4096)  # from a copy killed long ago
    fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False)
    assert leftovers(home) == []


def test_source_listing_disagreeing_with_a_pin_is_refused(
    tmp_path: Path,
    tiny_db,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mirror = tiny_db(make_zip(tiny_members()))
    db = physionet.CATALOG["tiny"]["1.0"]
    sums = catalog.RemoteFile(name="SHA256SUMS.txt", url="http://upstream.invalid/sums")
    monkeypatch.setitem(physionet.CATALOG, "tiny", {"1.0": dataclasses.replace(db, sums=sums)})
    (mirror / "tiny" / "1.0" / "SHA256SUMS.txt").write_text(f"{'0' * 64}  labels.csv\n")
    home = tmp_path / "home"
    with pytest.raises(DataError, match=r"labels\.csv: the source's SHA256SUMS\.txt gives 0+"):
        fetch("tiny", "1.0", home=home, mirror=str(mirror), progress=False)
    assert leftovers(home) == []
    assert not is_fetched("tiny", "1.0", home=home)


@pytest.mark.slow  # the CLI in subprocesses
def test_cli_fetch_reports_verification_and_repairs(tmp_path: Path, physionet_mirror: Path) -> None:
    import subprocess
    import sys

    env = {
        **os.environ,
        "ECGZOO_HOME": str(tmp_path / "home"),
        "ECGZOO_PHYSIONET_MIRROR": str(physionet_mirror),
        "COLUMNS": "200",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "ecgzoo", "data", "fetch", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

    done = run("svdb")
    assert done.returncode == 0, done.stderr
    assert (
        "ready" in done.stdout and "277 checked against upstream's published SHA-256" in done.stdout
    )
    assert f"{SVDB}/RECORDS" in done.stdout  # named as not verified
    record = tmp_path / "home" / "physionet" / "svdb" / "1.0.0" / SVDB / "802.dat"
    record.unlink()
    again = run("svdb", "--verify")
    assert again.returncode == 0, again.stderr
    assert f"fetching again {SVDB}/802.dat: missing" in again.stdout
    assert record.is_file()
    bad = run("cinc2017", "--include", "training/x")
    assert bad.returncode != 0 and bad.stdout == ""
    assert bad.stderr.strip() == (
        "error: include: challenge-2017 is fetched whole (only listed databases take it)"
    )
