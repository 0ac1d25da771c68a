"""The memory accounting of the benchmarks (benchmarks/epoch_memory.py): what a process owns
(anonymous) is told apart from the file pages of a memory-mapped dataset it has read."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "epoch_memory.py"


@pytest.fixture(scope="module")
def em():
    spec = importlib.util.spec_from_file_location("epoch_memory_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_owned_and_file_backed_memory_are_told_apart(em, tmp_path) -> None:
    path = tmp_path / "x.npy"
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
    del owned, mapped


def test_peak_sampler_keeps_peaks_per_phase(em) -> None:
    sampler = em.PeakSampler()
    sampler.sample()
    sampler.phase = "big"
    held = np.ones(8 << 20, np.float64)  # 64 MiB
    sampler.sample()
    del held
    sampler.phase = "small"
    sampler.sample()
    big, small = sampler.phases["big"]["anon"], sampler.phases["small"]["anon"]
    assert big - small > 48 * 1024  # KiB
    assert sampler.peak >= big and set(sampler.phases) == {"start", "big", "small"}


def _scoring_like_batches(n: int = 60) -> list:
    """Batch-sized blocks freed between small ones kept for the pass (as validation does)."""
    import torch

    conv = torch.nn.Conv1d(12, 16, 7, padding=3)
    keep = []
    with torch.inference_mode():
        for i in range(n):
            x = torch.randn(510 + i % 3, 12, 250)
            keep.append(torch.relu(conv(x)).mean(-1)[:102].clone())
            del x
    return keep


def test_scoring_heap_hands_freed_batches_back(em) -> None:
    from ecgzoo.train import heap

    if heap._LIBC is None:
        pytest.skip("not glibc: the heap policy is a no-op")
    heap.enter_scoring()
    heap.enter_scoring()  # nested (the training curve inside validation)
    before = em.memory_split()
    kept = _scoring_like_batches()
    during = em.memory_split()
    heap.leave_scoring()
    assert heap._depth == 1
    heap.leave_scoring()
    assert heap._depth == 0
    heap.leave_scoring()  # unbalanced: stays at 0
    assert heap._depth == 0
    # 60 batches of ~8 MiB blocks: owned memory grew by what is kept (~0.1 MiB), not by freed
    # blocks (without the policy this loop left ~14 MiB held by the heap, 2026-12-05)
    assert during["anon"] - before["anon"] < 4, (before, during)
    assert during["heap_free_held"] < before["heap_free_held"] + 4
    assert len(kept) == 60
