"""How many threads a model's forward pass may use when applying it (``annotate``, ``predict``).

A 2-thread torch or ONNX Runtime forward on a 2-core machine runs several times slower than a
1-thread one as soon as another process wants a core (the threads wait on each other at every
operator; issue 22 measured 21-27 s instead of ~10 s for a day's beats). So the forward uses
only the cores that are free when it starts: the CPUs this process may run on minus the load
average of the last minute (which counts this process once it runs), at least 1.
``ECGZOO_THREADS`` overrides it; so does ``OMP_NUM_THREADS`` when set (the user's choice).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def apply_threads() -> int:
    """Threads for a forward pass now: the override, else the free cores (at least 1)."""
    for name in ("ECGZOO_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    cpus = usable_cpus()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 1
    return max(1, min(cpus, int(cpus - load + 0.5)))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` inside the block (restored after), when torch is
    already imported (an ONNX-only run never imports it)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
