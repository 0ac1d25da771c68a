"""The one atomic-write helper: whole file or untouched, flushed before the rename."""

from __future__ import annotations

import os
import stat

import pytest

from ecgzoo.errors import DataError
from ecgzoo.paths import atomic_write, atomic_write_bytes, atomic_write_text


def test_text_and_bytes_replace_the_file_and_leave_no_temporary(tmp_path):
    path = tmp_path / "sub" / "out.txt"  # parents are created
    assert atomic_write_text(path, "first é\n") == path
    assert path.read_text(encoding="utf-8") == "first é\n"
    atomic_write_bytes(path, b"\x00second")
    assert path.read_bytes() == b"\x00second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half of the new")
        raise KeyboardInterrupt  # Ctrl-C in the middle of a write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_the_bytes_are_flushed_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    atomic_write_text(tmp_path / "x.json", "{}")
    assert events == ["fsync", "replace"]


def test_the_file_gets_the_mode_open_would_give(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "m.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_an_unwritable_path_is_one_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match=r"is a folder; give a file name"):
        atomic_write_text(tmp_path, "x")
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    with pytest.raises(DataError, match=r"a-file/out.txt: cannot write"):
        atomic_write_text(blocker / "out.txt", "x")  # its parent is a file
    assert blocker.read_text() == "keep"
