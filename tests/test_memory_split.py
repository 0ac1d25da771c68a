"""The memory accounting of the benchmarks (benchmarks/epoch_memory.py): what a process owns
(anonymous) is told apart from the file pages of a memory-mapped dataset it has read. Each
measurement runs in a fresh interpreter, where no earlier test left freed memory resident."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "epoch_memory.py"


TOLD_APART = """
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("em", sys.argv[1])
em = importlib.util.module_from_spec(spec)
spec.loader.exec_module(em)
path = sys.argv[2]
np.save(path, np.ones((16, 1 << 20), np.float32))  # 64 MiB
before = em.memory_split()
mapped = np.load(path, mmap_mode="r")
assert float(mapped.sum(dtype=np.float64)) == 16 * (1 << 20)  # every page read
read = em.memory_split()
assert read["file"] - before["file"] > 48, (before, read)
assert read["anon"] - before["anon"] < 16, (before, read)
owned = np.full((16, 1 << 20), 2.0, np.float32)  # 64 MiB this process owns
after = em.memory_split()
assert after["anon"] - read["anon"] > 48, (read, after)
assert after["hwm"] >= after["anon"] + after["file"] - 1
if "heap_in_use" in after:  # glibc: a live 64 MiB block is in use, not free
    assert after["heap_in_use"] - read["heap_in_use"] > 48
arrays = em.large_arrays(32 << 20)
assert {"kind": "ndarray", "shape": [16, 1 << 20], "dtype": "float32", "mib": 64.0} in arrays
assert all(a["shape"] != list(mapped.shape) or a["dtype"] != "float32" for a in arrays[1:])
print("ok")
"""


def test_owned_and_file_backed_memory_are_told_apart(tmp_path) -> None:
    _fresh_process(TOLD_APART, str(tmp_path / "x.npy"))


PEAKS = """
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("em", sys.argv[1])
em = importlib.util.module_from_spec(spec)
spec.loader.exec_module(em)
sampler = em.PeakSampler()
sampler.sample()
sampler.phase = "big"
held = np.ones(8 << 20, np.float64)  # 64 MiB
sampler.sample()
del held
sampler.phase = "small"
sampler.sample()
big, small = sampler.phases["big"]["anon"], sampler.phases["small"]["anon"]
assert big - small > 48 * 1024, (big, small)  # KiB
assert sampler.peak >= big and set(sampler.phases) == {"start", "big", "small"}
print("ok")
"""


def _fresh_process(script: str, *args: str) -> None:
    """Run ``script`` in a fresh interpreter: in the test process, memory that earlier tests
    freed but left resident can serve a new block without owned memory growing."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script, str(BENCH), *args],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_peak_sampler_keeps_peaks_per_phase() -> None:
    _fresh_process(PEAKS)


SCORING_LIKE = """
import importlib.util, json, sys
import torch
from ecgzoo.train import heap
spec = importlib.util.spec_from_file_location("em", sys.argv[1])
em = importlib.util.module_from_spec(spec)
spec.loader.exec_module(em)
torch.set_num_threads(1)
conv = torch.nn.Conv1d(12, 16, 7, padding=3)
if sys.argv[2] == "policy":
    heap.enter_scoring()
    heap.enter_scoring()  # nested (the training curve inside validation)
before, keep = em.memory_split(), []
with torch.inference_mode():  # batch-sized blocks freed between small ones kept for the pass
    for i in range(60):
        x = torch.randn(510 + i % 3, 12, 250)
        keep.append(torch.relu(conv(x)).mean(-1)[:102].clone())
        del x
during = em.memory_split()
if sys.argv[2] == "policy":
    heap.leave_scoring()
    assert heap._depth == 1
    heap.leave_scoring()
    heap.leave_scoring()  # unbalanced: stays at 0
    assert heap._depth == 0
print(json.dumps({"anon": during["anon"] - before["anon"],
                  "held": during["heap_free_held"] - before["heap_free_held"]}))
"""


def _scoring_like(policy: str) -> dict:
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", SCORING_LIKE, str(BENCH), policy],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_scoring_heap_hands_freed_batches_back() -> None:
    """60 validation-like batches in a fresh process: with the scoring policy the memory it
    owns grows by what is kept (~0.1 MiB), not by freed blocks the heap holds on to (without
    it, 12-14 MiB on this box, 2026-12-05)."""
    from ecgzoo.train import heap

    if heap._LIBC is None:
        pytest.skip("not glibc: the heap policy is a no-op")
    with_policy = _scoring_like("policy")
    assert with_policy["anon"] < 4 and with_policy["held"] < 4, with_policy
    without = _scoring_like("none")
    assert without["anon"] - with_policy["anon"] > 4, (without, with_policy)  # 12 vs 0.3 here
