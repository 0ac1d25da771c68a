"""Preparation with a forked reader (``streaming.read_ahead``): the same bytes as one process,
errors in job order as one line naming the file, no process left behind."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgzoo.datasets import beatset
from ecgzoo.datasets.mitbih import prepare_beats
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.datasets.streaming import RemoteTraceback, read_ahead
from ecgzoo.errors import DataError, EcgzooError
from ecgzoo.examples.beats import beat_settings
from ecgzoo.readers.mitdb import MitdbReader
from ecgzoo.readers.wfdb_io import read_annotations


def _children() -> set[int]:
    """Live (or unreaped) child processes of this one."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    found: set[int] = set()
    for task in tasks.iterdir():
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found.update(int(p) for p in text.split())
    return found


def _square(job: int) -> dict:
    if job == 5:
        raise DataError(f"record{job}.atr: cannot read annotations (broken)")
    return {"job": job, "x": np.arange(job * 1000, dtype=np.float64) ** 2, "name": f"r{job}"}


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_read_ahead_keeps_order_and_values(processes: int) -> None:
    before = _children()
    seen: list[str] = []
    jobs = [0, 1, 2, 3, 4, 6, 7, 8]
    out = list(read_ahead(_square, jobs, processes, meanwhile=lambda: seen.append("meanwhile")))
    assert seen == ["meanwhile"]
    assert [r["job"] for r in out] == jobs
    for r in out:
        assert r["x"].dtype == np.float64
        assert r["x"].tobytes() == _square(r["job"])["x"].tobytes()
    assert _children() <= before  # every reader reaped


def test_read_ahead_raises_the_error_at_its_turn() -> None:
    before = _children()
    got: list[int] = []
    with pytest.raises(DataError) as info:
        for r in read_ahead(_square, range(10), 2):
            got.append(r["job"])
    assert got == [0, 1, 2, 3, 4]  # the results before the bad job all arrive
    assert str(info.value) == "record5.atr: cannot read annotations (broken)"
    assert info.value.__traceback__ is not None and info.value.__cause__ is None
    assert _children() <= before


def _bug(job: int) -> int:
    if job == 1:
        raise KeyError("a bug, not a user's mistake")
    return job


def test_unexpected_errors_keep_their_type_and_remote_traceback() -> None:
    with pytest.raises(KeyError) as info:
        list(read_ahead(_bug, range(3), 1))
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "_bug" in str(info.value.__cause__)


def _die(job: int) -> int:
    if job == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return job


def test_a_killed_reader_is_one_clear_error() -> None:
    got: list[int] = []
    with pytest.raises(EcgzooError, match="worker process stopped unexpectedly.*signal 9"):
        for r in read_ahead(_die, range(4), 1):
            got.append(r)
    assert got == [0, 1]


def test_stopping_early_stops_the_readers() -> None:
    before = _children()
    stream = read_ahead(_square, range(40), 2, ahead=1)
    assert next(stream)["job"] == 0
    stream.close()
    assert _children() <= before


def test_parallel_beats_are_byte_identical_to_one_process(mitdb_two: Path) -> None:
    reader, settings = MitdbReader(mitdb_two), beat_settings(MitbihOptions())
    one = list(beatset.stream_beats(reader, ["100", "208"], settings, workers=1))
    two = list(beatset.stream_beats(reader, ["100", "208"], settings, workers=2))
    assert len(one) == len(two) == 2
    for a, b in zip(one, two, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key


def test_parallel_cache_entry_equals_the_one_process_entry(mitdb_two: Path, tmp_path: Path):
    opts = MitbihOptions(records=["100", "208"])
    one = prepare_beats(mitdb_two, opts, cache_dir=tmp_path / "one", workers=1)
    two = prepare_beats(mitdb_two, opts, cache_dir=tmp_path / "two", workers=2)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*"))
    assert files == sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.*"))
    for f in files:  # the key (folder name), the marker and every array: the same bytes
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f
    assert one.keys() == two.keys()


@pytest.mark.parametrize("bad", ["100", "208"])
def test_a_corrupt_record_among_good_ones_is_one_line(mitdb_two: Path, tmp_path: Path, bad: str):
    folder = tmp_path / "db"
    shutil.copytree(mitdb_two, folder)
    data = (folder / f"{bad}.atr").read_bytes()
    (folder / f"{bad}.atr").write_bytes(data[:-1])  # odd length: not 16-bit words
    before = _children()
    with pytest.raises(DataError) as info:
        prepare_beats(folder, MitbihOptions(records=["100", "208"]), tmp_path / "cache", 2)
    message = str(info.value)
    assert "\n" not in message and str(folder / f"{bad}.atr") in message
    assert not list((tmp_path / "cache").rglob("*.npy"))  # nothing half-written kept
    assert _children() <= before


def test_symbols_equal_wfdb_symbols_with_custom_labels(mitdb_two: Path, tmp_path: Path) -> None:
    for name in ("100", "208"):  # the standard table
        ref = wfdb.rdann(str(mitdb_two / name), "atr")
        _, symbols, _ = read_annotations(mitdb_two / name, "atr")
        assert symbols.tolist() == list(ref.symbol)
    import pandas as pd

    custom = pd.DataFrame({"label_store": [42], "symbol": ["#"], "description": ["mine"]})
    wfdb.wrann(
        "mine", "atr", np.array([10, 20, 30]), symbol=["N", "#", "V"],
        custom_labels=custom, write_dir=str(tmp_path),
    )  # fmt: skip
    ref = wfdb.rdann(str(tmp_path / "mine"), "atr")
    _, symbols, _ = read_annotations(tmp_path / "mine", "atr")
    assert symbols.tolist() == list(ref.symbol) == ["N", "#", "V"]


def _mark(job: tuple[Path, int]) -> np.ndarray:
    folder, k = job
    (folder / f"{k}.done").touch()
    return np.zeros(1 << 18)  # 2 MB: more than the pipe holds


@pytest.mark.parametrize(("ahead", "all_done"), [(64 << 20, True), (1, False)])
def test_a_reader_runs_ahead_by_the_bytes_allowed(tmp_path: Path, ahead: int, all_done: bool):
    import time

    stream = read_ahead(_mark, [(tmp_path, k) for k in range(8)], 1, ahead=ahead)
    first = next(stream)  # the reader has started: give it time to run ahead
    deadline = time.monotonic() + (10 if all_done else 1.5)  # held back: it cannot finish
    while len(list(tmp_path.glob("*.done"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert (len(list(tmp_path.glob("*.done"))) == 8) is all_done
    assert len(first) == 1 << 18 and sum(1 for _ in stream) == 7


def test_the_caller_imports_neither_wfdb_nor_scipy_signal(mitdb_two: Path, tmp_path: Path):
    """The stages' heavy imports happen in the forked workers, at the same time."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path\n"
        "from ecgzoo.datasets.mitbih import prepare_beats\n"
        "from ecgzoo.datasets.mitbih_options import MitbihOptions\n"
        f"a = prepare_beats(Path({str(mitdb_two)!r}), MitbihOptions(records=['100', '208']),"
        f" Path({str(tmp_path)!r}), workers=2)\n"
        "assert len(a['y']) == 2272 + 2954\n"
        "print(sorted(m for m in ('wfdb', 'pandas', 'scipy.signal') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_default_workers_are_the_free_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecgzoo.datasets import streaming

    monkeypatch.delenv("ECGZOO_WORKERS", raising=False)
    monkeypatch.setattr(streaming.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(streaming, "_others_running", lambda: 0)
    assert streaming.default_workers() == 2  # a quiet 2-core box: the pipeline
    monkeypatch.setattr(streaming, "_others_running", lambda: 2)
    assert streaming.default_workers() == 1  # both cores busy: one process
    monkeypatch.setenv("ECGZOO_WORKERS", "3")
    assert streaming.default_workers() == 3
    monkeypatch.undo()
    assert streaming._others_running() >= 0  # the real count: this process not included
