"""Training batches built ahead by threads of the main process (``train.data_threads``).

Gathering crops from a memory map and augmenting them are large NumPy/torch operations that
release the GIL, so a thread can build the next batches while the model trains on this one,
with none of the worker processes' costs (each worker batch crosses into a new shared-memory
segment: ~3,000 12-lead examples/s on the 2-core box, see docs/notes/datapath.md). Every batch
has its own generator (``EpochBatches``), so the batches do not depend on which thread built
them or when: the loader yields exactly the batches of the plain path, in the same order
(tested). The sampler below wraps the epoch's ``EpochBatches``: it submits the next
``depth`` batch requests to the threads and yields handles to them; ``SplitBatches`` returns a
handle's finished batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from torch.utils.data import Sampler


class Prefetched:
    """A batch being built by a thread; ``SplitBatches[handle]`` waits for it."""

    __slots__ = ("future",)

    def __init__(self, future: Future):
        self.future = future

    def result(self) -> Any:
        return self.future.result()


class PrefetchBatches(Sampler):
    """``inner``'s batch requests, built ``depth`` ahead by ``threads`` threads."""

    def __init__(self, inner: Sampler, build: Callable[[Any], Any], threads: int, depth: int):
        self.inner, self.build = inner, build
        self.threads, self.depth = max(1, threads), max(1, depth)

    def set_epoch(self, epoch: int) -> None:  # Lightning calls it on the loader's sampler
        self.inner.set_epoch(epoch)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:  # steps, n_batches... of the wrapped sampler
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __iter__(self) -> Iterator[Prefetched]:
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ecgzoo-batches")
        pending: deque[Future] = deque()
        try:
            for request in self.inner:
                pending.append(pool.submit(self.build, request))
                if len(pending) > self.depth:
                    yield Prefetched(pending.popleft())
            while pending:
                yield Prefetched(pending.popleft())
        finally:  # an epoch cut short (max_steps, an error): drop the batches not started
            pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["PrefetchBatches", "Prefetched"]
