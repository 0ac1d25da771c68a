"""``annotate``'s chunk stage in forked worker processes (``apply.chunks``)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ecgzoo.errors import DataError


def _task(path, quality=True):
    from ecgzoo.apply.chunks import ChunkTask
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.signals import open_source
    from ecgzoo.examples.detect import DEFAULT_METHOD, detect_qrs

    cnn = load_model("pretrained:mitbih-inter")
    tree = load_model("pretrained:mitbih-inter-lightgbm")
    source = open_source(path)
    lead = source.lead_index(None, cnn.input.leads)
    specs = (cnn.input, tree.input)  # two fiducials and cuts from one detection
    return ChunkTask(source, lead, specs, DEFAULT_METHOD, quality, detect_qrs)


def test_chunks_in_two_worker_processes_equal_chunks_here(mitdb_two):
    from ecgzoo.apply.chunks import chunk_beats

    task = _task(mitdb_two / "208")
    here = list(chunk_beats(task, chunk_s=300.0, workers=1))
    there = list(chunk_beats(task, chunk_s=300.0, workers=2))
    assert len(here) == len(there) == 7  # 30:06 in 5-minute chunks
    for a, b in zip(here, there, strict=True):
        for k in range(2):
            assert np.array_equal(a.peaks[k], b.peaks[k]) and np.array_equal(a.kept[k], b.kept[k])
            assert np.array_equal(a.x[k], b.x[k])
        assert a.flat == b.flat
        for got, want in zip(a.quality, b.quality, strict=True):
            assert np.array_equal(got, want)
    aligned, at_r = (np.concatenate([c.peaks[k] for c in there]) for k in range(2))
    assert 2_900 <= len(aligned) == len(at_r) <= 3_100  # 208: 2,955 beats, one detection
    assert np.all(np.diff(at_r) > 0) and np.median(np.abs(aligned - at_r)) <= 18  # +-50 ms


def test_a_bad_stretch_read_in_a_worker_is_one_line_naming_the_file(
    mitdb_two, tmp_path, monkeypatch
):
    """Samples stored as WFDB's invalid value (NaN) at minute 16, read by a worker process
    (10-minute chunks, two workers): its DataError reaches the caller as the same one line
    naming the file and the time, not a pool traceback."""
    import ecgzoo
    from ecgzoo.apply.annotate import annotate_source
    from ecgzoo.apply.signals import open_source

    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_two / f"100.{ext}", tmp_path / f"100.{ext}")
    dat = bytearray((tmp_path / "100.dat").read_bytes())
    at = 3 * (16 * 60 * 360)  # format 212: 3 bytes per sample pair; minute 16
    dat[at : at + 300] = bytes([0x00, 0x88, 0x00]) * 100  # -2048 in both leads: invalid
    (tmp_path / "100.dat").write_bytes(bytes(dat))
    monkeypatch.setenv("ECGZOO_THREADS", "2")
    model = ecgzoo.load_model("pretrained:mitbih-inter")
    with pytest.raises(
        DataError, match=r"100: lead MLII has invalid \(NaN\) samples near 960.0 s$"
    ):
        annotate_source(open_source(tmp_path / "100"), model, chunk_s=600.0)


def _killed(job: int) -> int:
    """A worker the system kills (as the OOM killer does) on the second job."""
    import os
    import signal

    if job == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return job


def test_a_killed_worker_is_one_line_not_a_broken_pool_traceback():
    from ecgzoo.datasets.streaming import ordered_map
    from ecgzoo.errors import EcgzooError

    with pytest.raises(EcgzooError, match="worker processes died .* ECGZOO_THREADS=1"):
        list(ordered_map(_killed, [0, 1, 2], workers=2))
    assert list(ordered_map(_killed, [0, 2], workers=2)) == [0, 2]
