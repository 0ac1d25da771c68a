"""Issue 23, item 8: a mirror that drops or adds records is not a ready database."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from ecgzoo.errors import DataError

SLUG = "mit-bih-arrhythmia-database-1.0.0"


def _forged_mirror(physionet_mirror: Path, out: Path, drop, add: dict[str, bytes]) -> Path:
    """The real MIT-BIH zip with members dropped/added and its SHA256SUMS.txt rewritten to
    match (what an attacker controlling the mirror can do)."""
    src = physionet_mirror / "mitdb" / "1.0.0" / f"{SLUG}.zip"
    sums = []
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            rel = info.filename[len(SLUG) + 1 :]
            if info.is_dir() or rel == "SHA256SUMS.txt" or drop(rel):
                continue
            data = zin.read(info)
            zout.writestr(info.filename, data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {rel}")
        for rel, data in add.items():
            zout.writestr(f"{SLUG}/{rel}", data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {rel}")
        zout.writestr(f"{SLUG}/SHA256SUMS.txt", "\n".join(sums) + "\n")
    return out


def _extract(archive: Path, target: Path) -> None:
    from ecgzoo.fetch.catalog import get_database
    from ecgzoo.fetch.transfer import extract_zip

    remote = get_database("mitdb", "1.0.0").files[0]
    target.mkdir()
    extract_zip(remote, archive, target, progress=False)


def test_mirror_without_records_and_232_is_not_ready(physionet_mirror, tmp_path):
    archive = _forged_mirror(
        physionet_mirror,
        tmp_path / f"{SLUG}.zip",
        lambda rel: rel == "RECORDS" or rel.startswith("232."),
        {},
    )
    with pytest.raises(
        DataError, match=r"not upstream's release: \S*(RECORDS|232\.\w+) is missing"
    ):
        _extract(archive, tmp_path / "db")
    assert not (tmp_path / "db" / SLUG).exists()


def test_mirror_with_a_fake_record_is_not_ready(physionet_mirror, tmp_path):
    header = (
        b"999 2 360 650000\n999.dat 212 200 11 1024 0 0 0 MLII\n999.dat 212 200 11 1024 0 0 0 V1\n"
    )
    archive = _forged_mirror(
        physionet_mirror, tmp_path / f"{SLUG}.zip", lambda rel: False, {"999.hea": header}
    )
    with pytest.raises(DataError, match=r"999\.hea is not a file upstream published"):
        _extract(archive, tmp_path / "db")


def test_inter_split_needs_every_protocol_record(monkeypatch, tmp_path):
    """A copy missing record 232 is not tested on 21 records with exit 0."""
    import numpy as np

    from ecgzoo.datasets import mitbih
    from ecgzoo.datasets.mitbih_options import MitbihOptions
    from ecgzoo.datasets.splits import DS1, DS2

    names = [r for r in (*DS1, *DS2) if r != "232"]
    arrays = {"y": np.zeros(len(names) * 3, np.int64), "record": np.repeat(names, 3)}
    monkeypatch.setattr(mitbih, "prepare_beats", lambda *a, **k: arrays)
    with pytest.raises(DataError, match=r"all 44 DS1 and DS2 records; 232 gave no beats"):
        mitbih.load_mitbih(MitbihOptions(split="inter"), db_dir=tmp_path)
