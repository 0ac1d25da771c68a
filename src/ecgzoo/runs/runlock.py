"""One writer per run folder, and ``--overwrite`` that replaces a run only once the new one is done.

The lock is a ``fcntl`` lock on ``OUTPUT/.NAME.lock`` beside the run folder (not inside it, so
the folder itself can be swapped): the kernel drops it when the process dies, so a crashed run
never leaves a stale lock. An overwriting run trains in ``OUTPUT/.NAME.new`` and, at the end,
the old folder is renamed aside and the new one renamed into place.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from ecgzoo.errors import EcgzooError


class RunLock:
    """An exclusive, non-blocking lock on a run folder; a second holder gets a clear error."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir.parent / f".{self.run_dir.name}.lock"
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EcgzooError(
                f"{self.run_dir}: another ecgzoo run is writing this run folder "
                "(wait for it, or choose another name=...)"
            ) from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def staging_dir(run_dir: Path) -> Path:
    """Where an overwriting run trains until it replaces ``run_dir``."""
    return run_dir.parent / f".{run_dir.name}.new"


def fresh_staging_dir(run_dir: Path) -> Path:
    """An empty staging folder (a leftover of an interrupted overwrite is discarded)."""
    staging = staging_dir(run_dir)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def swap_in(staging: Path, run_dir: Path) -> None:
    """Replace ``run_dir`` by the finished ``staging`` folder: two renames, then clean up."""
    old = run_dir.parent / f".{run_dir.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if run_dir.exists():
        os.replace(run_dir, old)
    os.replace(staging, run_dir)
    shutil.rmtree(old, ignore_errors=True)
