"""Bad input and faults in the data layer: records that lie, corrupt zips, corrupt or full cache.

Each case starts from a real record of the mirror and breaks one thing; each must give one
``DataError`` line naming the file (or the archive and member), never be read as valid.
"""

from __future__ import annotations

import errno
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.datasets import cache as cache_mod
from ecgzoo.datasets.cache import cached_arrays, entry_dir
from ecgzoo.datasets.cinc2017 import load_external, load_recordings
from ecgzoo.datasets.cinc2017_options import Cinc2017Options
from ecgzoo.errors import DataError
from ecgzoo.readers.cinc2021 import Cinc2021Reader

REC = "A00001"  # 9000 samples, one lead, format 16 in a .mat at byte offset 24


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def _copy(src: Path, dst: Path, names: list[str], exts=(".hea", ".mat")) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        for ext in exts:
            shutil.copy(src / f"{name}{ext}", dst / f"{name}{ext}")
    return dst


@pytest.fixture
def rec2017(cinc2017_dir: Path, tmp_path: Path) -> Path:
    return _copy(cinc2017_dir / "training2017", tmp_path / "recs", [REC])


def _edit_header(folder: Path, name: str, line: int, field: int, value: str) -> None:
    hea = folder / f"{name}.hea"
    lines = hea.read_text().splitlines()
    fields = lines[line].split(" ")
    fields[field] = value
    lines[line] = " ".join(fields)
    hea.write_text("\n".join(lines) + "\n")


def _load(folder: Path) -> list[np.ndarray]:
    return load_recordings(folder, {REC: "N"})[0]


# ----------------------------------------------------------------- records that lie


def test_header_declaring_fewer_samples_than_the_mat_holds(rec2017: Path) -> None:
    _edit_header(rec2017, REC, 0, 3, "8000")  # the .mat holds 9000
    with pytest.raises(DataError) as exc:
        _load(rec2017)
    assert f"{REC}.mat" in _one_line(exc) and "8000" in str(exc.value)


@pytest.mark.parametrize("gain", ["0/mV", "-1000/mV"])
def test_zero_or_negative_gain(rec2017: Path, gain: str) -> None:
    _edit_header(rec2017, REC, 1, 2, gain)
    with pytest.raises(DataError) as exc:
        _load(rec2017)
    assert f"{REC}.hea" in _one_line(exc) and "gain" in str(exc.value)


def test_format_212_declared_on_a_16_bit_file(rec2017: Path) -> None:
    _edit_header(rec2017, REC, 1, 1, "212+24")
    with pytest.raises(DataError) as exc:
        _load(rec2017)
    assert f"{REC}.mat" in _one_line(exc) and "212" in str(exc.value)


def test_mat_that_is_not_matlab(rec2017: Path) -> None:
    mat = rec2017 / f"{REC}.mat"
    data = bytearray(mat.read_bytes())
    data[:24] = b"this is not MATLAB data!"  # same size, no MATLAB v4 header
    mat.write_bytes(bytes(data))
    with pytest.raises(DataError) as exc:
        _load(rec2017)
    assert f"{REC}.mat" in _one_line(exc) and "MATLAB" in str(exc.value)


def _set_samples(mat: Path, start: int, stop: int, value: int) -> None:
    data = bytearray(mat.read_bytes())
    data[24 + 2 * start : 24 + 2 * stop] = struct.pack("<h", value) * (stop - start)
    mat.write_bytes(bytes(data))


def test_all_invalid_samples_refused_and_nan_stretch_set_to_zero(rec2017: Path) -> None:
    mat = rec2017 / f"{REC}.mat"
    original = mat.read_bytes()
    _set_samples(mat, 1000, 1300, -32768)  # WFDB's invalid value for format 16
    signal = _load(rec2017)[0]
    assert np.all(signal[1000:1300] == 0) and np.isfinite(signal).all()  # documented: zeroed
    assert np.any(signal[:1000] != 0)
    mat.write_bytes(original)
    _set_samples(mat, 0, 9000, -32768)
    with pytest.raises(DataError) as exc:
        _load(rec2017)
    assert f"{REC}.mat" in _one_line(exc) and "invalid" in str(exc.value)


def test_empty_record(rec2017: Path) -> None:
    _edit_header(rec2017, REC, 0, 3, "0")
    with pytest.raises(DataError) as exc:
        _load(rec2017)
    assert f"{REC}.hea" in _one_line(exc) and "empty" in str(exc.value)


def test_beat_lead_with_invalid_samples_is_refused(mitdb_dir: Path, tmp_path: Path) -> None:
    from ecgzoo.datasets.mitbih import build_beats
    from ecgzoo.datasets.mitbih_options import MitbihOptions

    folder = _copy(mitdb_dir, tmp_path / "db", ["100"], (".hea", ".dat", ".atr"))
    dat = folder / "100.dat"
    data = bytearray(dat.read_bytes())
    data[3000:3300] = b"\x00\x88\x00" * 100  # format 212 pairs of -2048: invalid samples
    dat.write_bytes(bytes(data))
    with pytest.raises(DataError) as exc:
        build_beats(folder, MitbihOptions(records=["100"]))
    assert "100" in _one_line(exc) and "NaN" in str(exc.value)


# ----------------------------------------------------------------- 2021 headers


@pytest.fixture
def rec2021(cinc2021_dirs: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    training, scoring = cinc2021_dirs
    _copy(training / "georgia" / "g1", tmp_path / "training" / "georgia" / "g1", ["E00001"])
    return tmp_path / "training", scoring


def _reader(rec2021: tuple[Path, Path]) -> Cinc2021Reader:
    return Cinc2021Reader(*rec2021)


def test_2021_header_naming_a_missing_mat(rec2021: tuple[Path, Path]) -> None:
    (rec2021[0] / "georgia" / "g1" / "E00001.mat").unlink()
    with pytest.raises(DataError) as exc:
        _reader(rec2021).read("georgia/g1/E00001")
    assert "E00001.mat" in _one_line(exc) and "not found" in str(exc.value)


def test_2021_unknown_dx_code(rec2021: tuple[Path, Path]) -> None:
    hea = rec2021[0] / "georgia" / "g1" / "E00001.hea"
    text = hea.read_text()
    lines = [ln if "Dx" not in ln else "# Dx: 164889003,123456789" for ln in text.splitlines()]
    hea.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as exc:
        _reader(rec2021).read("georgia/g1/E00001")
    assert "E00001.hea" in _one_line(exc) and "123456789" in str(exc.value)


def test_2021_wrong_rate(rec2021: tuple[Path, Path]) -> None:
    _edit_header(rec2021[0] / "georgia" / "g1", "E00001", 0, 2, "300")
    with pytest.raises(DataError) as exc:
        _reader(rec2021).read("georgia/g1/E00001")
    assert "E00001.hea" in _one_line(exc) and "300 Hz" in str(exc.value)


# ----------------------------------------------------------------- corrupt zips


def _zip(folder: Path, archive: Path, compress=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(archive, "w", compression=compress) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"training2017/{path.name}")
    return archive


def _patch_central(archive: Path, member: str, offset: int, value: bytes) -> None:
    """Patch a field of ``member``'s local header AND central directory entry."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    central = data.find(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(member)] != member.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    data[local + offset : local + offset + len(value)] = value
    data[central + offset + 2 : central + offset + 2 + len(value)] = value
    archive.write_bytes(bytes(data))


MEMBER = f"training2017/{REC}.mat"


def _external_error(archive: Path) -> str:
    with pytest.raises(DataError) as exc:
        load_external(archive, {REC: "N"}, Cinc2017Options(length_s=30))
    message = _one_line(exc)
    assert str(archive) in message and MEMBER in message
    assert "ecgzoo-zip-" not in message  # never the private temporary folder
    return message


def test_zip_with_a_bit_flip(rec2017: Path, tmp_path: Path) -> None:
    archive = _zip(rec2017, tmp_path / "ext.zip")
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(MEMBER)
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(MEMBER) + 100
    data[start] ^= 0xFF
    archive.write_bytes(bytes(data))
    assert "corrupt" in _external_error(archive)


def test_zip_encrypted_and_deflate64_members(rec2017: Path, tmp_path: Path) -> None:
    archive = _zip(rec2017, tmp_path / "enc.zip")
    _patch_central(archive, MEMBER, 6, struct.pack("<H", 0x1))  # general purpose flag: encrypted
    assert "encrypted" in _external_error(archive)
    archive = _zip(rec2017, tmp_path / "d64.zip")
    _patch_central(archive, MEMBER, 8, struct.pack("<H", 9))  # compression method 9: deflate64
    assert "not supported" in _external_error(archive)


def test_zip_with_a_truncated_member(rec2017: Path, tmp_path: Path) -> None:
    mat = rec2017 / f"{REC}.mat"
    mat.write_bytes(mat.read_bytes()[:10_000])  # a valid zip holding a cut-off .mat
    archive = _zip(rec2017, tmp_path / "short.zip")
    assert "truncated" in _external_error(archive)


# ----------------------------------------------------------------- cache


def _arrays() -> dict[str, np.ndarray]:
    return {"x": np.arange(600_000, dtype=np.float32).reshape(1000, 600), "y": np.arange(1000)}


def test_cache_is_memory_mapped_and_streamed(tmp_path: Path) -> None:
    chunks = [{"x": np.full((2, 3), i, np.float32), "y": np.array([i, i])} for i in range(3)]
    out = cached_arrays("t", {"a": 1}, lambda: iter(chunks), cache_dir=tmp_path)
    assert out["x"].shape == (6, 3) and out["y"].tolist() == [0, 0, 1, 1, 2, 2]
    big = cached_arrays("t", {"a": 2}, _arrays, cache_dir=tmp_path)
    assert isinstance(big["x"], np.memmap)  # 2.4 MB: read through the page cache, not loaded
    np.testing.assert_array_equal(big["x"], _arrays()["x"])


@pytest.mark.parametrize("damage", ["truncate_npy", "delete_npy", "bad_npz"])
def test_corrupt_cache_entry_is_deleted_and_rebuilt(tmp_path: Path, damage: str) -> None:
    params = {"p": damage}
    entry = entry_dir("t", params, tmp_path)
    if damage == "bad_npz":  # an earlier release's entry, damaged: BadZipFile
        entry.parent.mkdir(parents=True)
        entry.with_suffix(".npz").write_bytes(b"PK\x03\x04 not really a zip")
    else:
        cached_arrays("t", params, _arrays, cache_dir=tmp_path)
        npy = entry / "x.npy"
        if damage == "truncate_npy":
            npy.write_bytes(npy.read_bytes()[:1000])
        else:
            npy.unlink()
    calls = []
    out = cached_arrays("t", params, lambda: calls.append(1) or _arrays(), cache_dir=tmp_path)
    assert calls == [1]
    np.testing.assert_array_equal(out["x"], _arrays()["x"])
    assert not entry.with_suffix(".npz").exists()


def test_disk_full_while_writing_the_cache(tmp_path: Path, monkeypatch) -> None:
    real_add = cache_mod._StreamWriter.add

    def full(self, chunk):
        real_add(self, chunk)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_mod._StreamWriter, "add", full)
    with pytest.raises(DataError) as exc:
        cached_arrays("t", {"p": 1}, _arrays, cache_dir=tmp_path)
    assert "no space left" in _one_line(exc)
    assert [p.name for p in (tmp_path / "t").iterdir() if not p.name.endswith(".lock")] == []


def test_an_earlier_npz_entry_keeps_its_key_and_is_converted(tmp_path: Path) -> None:
    params = {"p": "old"}
    npz = entry_dir("t", params, tmp_path).with_suffix(".npz")
    npz.parent.mkdir(parents=True)
    np.savez(npz, **_arrays())  # the pre-reader release's layout, same key

    def build():
        raise AssertionError("a valid earlier entry must not be rebuilt")

    out = cached_arrays("t", params, build, cache_dir=tmp_path)
    np.testing.assert_array_equal(out["x"], _arrays()["x"])
    assert not npz.exists() and (npz.with_suffix("") / "complete.json").is_file()
