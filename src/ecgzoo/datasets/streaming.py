"""Ordered, optionally parallel maps used by every streaming preparation.

``ordered_map``: a pool of forked processes, each running the whole job.

``read_ahead``: forked *reader* processes run the first stage of each job (for beats: reading
the WFDB files) while the calling process runs the rest (segmenting, writing the cache). The
two stages need different heavy imports (wfdb and pandas; scipy.signal), so each process
imports only its own, at the same time, and the reader starts in milliseconds (a fork, no new
interpreter). Results come back in job order through a pipe: a small pickle whose array
buffers follow as raw bytes (pickle protocol 5, no copy into a pickle), received by a thread of
the caller into a queue, so that a reader can run ahead of its consumer (by a bounded number
of bytes).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import signal
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing import get_context
from typing import Any, TypeVar

from ecgzoo.errors import EcgzooError

T = TypeVar("T")
R = TypeVar("R")

_PIPE_BYTES = 1 << 20  # F_SETPIPE_SZ: fewer wake-ups per multi-megabyte record
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_FRAME = struct.Struct("<QI")  # pickle length, number of out-of-band buffers
# a reader runs this far ahead of its consumer: a dozen MIT-BIH leads, so that a reader that
# finished importing first is not held back while the consumer imports
AHEAD_BYTES = 64 << 20


def default_workers() -> int:
    """Processes for preparing a database: the cores free right now (at least 1).

    ``ECGZOO_WORKERS`` overrides it. Otherwise the usable CPUs minus the other tasks running
    now (``/proc/loadavg``'s running count, the fewest of five looks 2 ms apart, this process
    excluded; no lag, unlike the load average). Why not always every core: on 2 cores already
    busy with other work, the preparation pipeline (which moves each record between processes)
    took more CPU than one process and its stages no longer ran side by side (5.0-5.7 s
    against 4.8-5.1 s for MIT-BIH at load 3.5; docs/notes/prepare.md).
    """
    value = os.environ.get("ECGZOO_WORKERS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return max(1, cpus - _others_running())


def _others_running() -> int:
    """Other tasks on a CPU or waiting for one now (0 when the OS does not say)."""
    counts = []
    for _ in range(5):
        try:
            with open("/proc/loadavg") as fh:
                counts.append(int(fh.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return 0
        time.sleep(0.002)
    return max(0, min(counts) - 1)


def ordered_map(func: Callable[[T], R], jobs: Iterable[T], workers: int = 1) -> Iterator[R]:
    """``func(job)`` for each job, in order; in ``workers`` forked processes when > 1.

    Fork, not spawn: spawned workers re-import the caller's ``__main__`` (breaking scripts
    without a main guard and notebooks). Results come back one at a time, so a consumer that
    writes each to disk holds at most a few in memory. A worker the system kills (out of
    memory) is one ``EcgzooError`` line, not a ``BrokenProcessPool`` traceback.
    """
    if workers <= 1 or sys.platform != "linux":
        for job in jobs:
            yield func(job)
        return
    try:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            yield from pool.map(func, jobs)
    except BrokenProcessPool:
        raise EcgzooError(
            f"one of {workers} worker processes died (killed by the system, perhaps for lack "
            "of memory); ECGZOO_THREADS=1 (annotate) or ECGZOO_WORKERS=1 (preparing a "
            "database) does the work in this process"
        ) from None


class RemoteTraceback(Exception):
    """The traceback of an unexpected error in a reader process (the ``__cause__`` shown)."""


def _write_all(fd: int, data: memoryview) -> None:
    while len(data):
        data = data[os.write(fd, data) :]


def _send(fd: int, message: Any) -> None:
    buffers: list[pickle.PickleBuffer] = []
    body = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    head = _FRAME.pack(len(body), len(raws)) + struct.pack(f"<{len(raws)}Q", *map(len, raws))
    _write_all(fd, memoryview(head + body))
    for raw in raws:
        _write_all(fd, raw)


def _read_exactly(fd: int, n: int) -> bytearray | None:
    out = bytearray(n)
    view, got = memoryview(out), 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            return None  # end of file: the reader exited (or was killed)
        got += k
    return out


def _receive(fd: int) -> tuple[Any, int]:
    """The next message from a reader and its size in bytes; ``EOFError`` when it closed the
    pipe."""
    head = _read_exactly(fd, _FRAME.size)
    if head is None:
        raise EOFError
    n_body, n_buffers = _FRAME.unpack(head)
    table = _read_exactly(fd, 8 * n_buffers)
    body = _read_exactly(fd, n_body)
    if table is None or body is None:
        raise EOFError
    sizes = struct.unpack(f"<{n_buffers}Q", table)
    buffers = [_read_exactly(fd, n) for n in sizes]
    if any(b is None for b in buffers):
        raise EOFError
    # our own forked child's results (never a file from elsewhere): arrays land on writable
    # bytearrays, no further copy
    return pickle.loads(body, buffers=buffers), n_body + sum(sizes)


def _child_main(produce: Callable[[], Iterable[Any]], fd: int) -> None:
    """The body of a forked process: every item of ``produce()`` sent, then the end (or the
    first error)."""
    try:
        for item in produce():
            _send(fd, ("ok", item, None))
    except BaseException as exc:  # sent to the caller, raised there in order
        tb = "".join(traceback.format_exception(exc))
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        _send(fd, ("error", exc, tb))
        return
    _send(fd, ("end", None, None))


_END = object()


class _Reader:
    """One forked process running ``produce()``, its pipe, and the thread of the caller that
    moves what it sends into a queue (at most ``ahead`` bytes, or one item)."""

    def __init__(self, produce: Callable[[], Iterable[Any]], ahead: int, close: list[int]):
        r, w = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(w, _F_SETPIPE_SZ, _PIPE_BYTES)
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller handles Ctrl-C
                for fd in (r, *close):
                    os.close(fd)
                _child_main(produce, w)
                code = 0
            except BaseException:  # a broken pipe: the caller stopped listening
                pass
            finally:
                os._exit(code)
        os.close(w)
        self.pid, self.fd = pid, r
        self.ahead, self.held = ahead, 0  # bytes received and not yet taken, and their cap
        self.items: deque[tuple[Any, int]] = deque()
        self.room = threading.Condition()
        self.stopped = False
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._pump, name="ecgzoo-read-ahead", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        while True:
            try:
                message, size = _receive(self.fd)
            except (EOFError, OSError):
                message, size = ("died", None, None), 0
            with self.room:  # one item is always let in, however large
                while self.held and self.held + size > self.ahead and not self.stopped:
                    self.room.wait()
                if self.stopped:
                    return
                self.items.append((message, size))
                self.held += size
                self.room.notify_all()
            if message[0] != "ok":
                return

    def next(self) -> Any:
        """The next item, or ``_END`` after the last."""
        with self.room:
            while not self.items:
                self.room.wait()
            (kind, value, tb), size = self.items.popleft()
            self.held -= size
            self.room.notify_all()
        if kind == "ok":
            return value
        if kind == "end":
            return _END
        if kind == "error":
            if isinstance(value, EcgzooError):
                raise value.with_traceback(None) from None
            raise value from RemoteTraceback(tb)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        how = (
            f"killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exit code {os.waitstatus_to_exitcode(status)}"
        )
        raise EcgzooError(f"a worker process stopped unexpectedly ({how}); run again")

    def stop(self) -> None:
        with self.room:
            self.stopped = True
            self.room.notify_all()
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)  # done, or its results are no longer wanted
            os.waitpid(self.pid, 0)
        if self.thread is not None:
            self.thread.join()
        os.close(self.fd)


def stream_ahead(
    produce: Callable[[], Iterable[R]],
    ahead: int = AHEAD_BYTES,
    meanwhile: Callable[[], object] | None = None,
) -> Iterator[R]:
    """The items of ``produce()``, computed in one forked process that runs ahead of the
    consumer by up to ``ahead`` bytes of items; errors as in :func:`read_ahead`. No ``fork``:
    in this process."""
    if sys.platform != "linux":
        if meanwhile is not None:
            meanwhile()
        yield from produce()
        return
    child = _Reader(produce, ahead, [])
    try:
        child.start()
        if meanwhile is not None:
            meanwhile()
        while (item := child.next()) is not _END:
            yield item
    finally:
        child.stop()


def read_ahead(
    func: Callable[[T], R],
    jobs: Iterable[T],
    processes: int = 1,
    meanwhile: Callable[[], object] | None = None,
    ahead: int = AHEAD_BYTES,
) -> Iterator[R]:
    """``func(job)`` for each job, in order, computed in ``processes`` forked readers (job ``k``
    by reader ``k % processes``), each up to ``ahead`` bytes of results ahead of the consumer
    (always at least one result).

    ``meanwhile`` runs in the caller right after the fork (for example the imports the
    consumer's own stage needs), while the readers start. An error raised by ``func`` is raised
    here at its job's turn (an ``EcgzooError`` as itself: one line naming the file); the
    results before it are delivered first. ``processes < 1`` (or no ``fork``): in this process.
    """
    jobs = list(jobs)
    if processes < 1 or sys.platform != "linux" or not jobs:
        if meanwhile is not None:
            meanwhile()
        yield from map(func, jobs)
        return
    n = min(processes, len(jobs))
    readers: list[_Reader] = []
    try:
        for i in range(n):  # every fork before any thread starts
            readers.append(
                _Reader(partial(map, func, jobs[i::n]), ahead, [rd.fd for rd in readers])
            )
        for reader in readers:
            reader.start()
        if meanwhile is not None:
            meanwhile()
        for k in range(len(jobs)):
            yield readers[k % n].next()
    finally:
        for reader in readers:
            reader.stop()
