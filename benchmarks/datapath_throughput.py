"""The data path alone: training batches/s from the engine's datamodule, no model, no GPU.

Issue 20 asks that the data path deliver at least twice what a bare PyTorch loop consumes on an
H200 (median samples/s, GPU-resident tensors): 6,819 for the 12-lead ResNet1D (batch 64 x 12 x
5000, bf16) and 232,000 for the beat model (batch 1024). Both cases read real PTB-XL signals from
a memory-mapped ``.npy`` in a temporary folder (deleted at the end), through ``SplitBatches``
and the ``ArrayDataModule`` train loader exactly as training does:

- ``resnet12``: 2,048 ECGs resampled 100 -> 500 Hz and extended to 12 x 6,000 (12 s), a random
  crop of 5,000 samples per example (the model's input); target >= 13,638 samples/s.
- ``beat``: 1 x 187 windows of lead II (every ECG cut into 5), 104,000 or more of them, no crop
  (beats are centred already); target >= 464,000 samples/s.

Augmentation (scaling, baseline shift, Gaussian noise; ``--augment``): ``device`` (none in the
data path: a GPU run augments after the transfer), ``draw`` (in the data path, one Gaussian
draw per sample: ``train.augment_noise: draw``) or ``bank`` (in the data path, noise read from
the noise bank: the default). ``--threads`` sets ``train.data_threads`` (batches built ahead
by threads of the main process), ``--workers`` the worker processes.

Each configuration runs for ``--seconds`` after one warm-up batch (the memory map is in the
page cache: the file was just written); ``--old-src`` adds the datamodule of another checkout
(whole-recording gather, then crop) for comparison. Run, niced and under the shared lock::

    nice -n 10 flock /work/heavy.lock python benchmarks/datapath_throughput.py --cases resnet12 \\
        --workers 0 --threads 0 2 --repeats 3

``--repeats 3`` runs each configuration three times (interleaved) and reports the median.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("ECGZOO_PHYSIONET_MIRROR", REPO.parent / "shared/data/physionet"))
TARGETS = {"resnet12": 2 * 6_819, "beat": 2 * 232_000}


def real_signals(n: int) -> np.ndarray:
    """``(n, 12, 1000)`` float32 PTB-XL ECGs at 100 Hz (the mirror's, repeated if needed)."""
    from ecgzoo.readers.ptbxl import PtbxlReader, read_format16

    reader = PtbxlReader(MIRROR / "ptb-xl" / "1.0.3")
    rows = reader.rows
    unique = np.empty((min(n, len(rows)), 12, 1000), dtype=np.float32)
    for i in range(len(unique)):
        rec = read_format16(reader.base(rows[i], 100))
        assert rec is not None
        unique[i] = np.nan_to_num(rec.signal)
    return unique[np.arange(n) % len(unique)]


def write_case(case: str, folder: Path) -> tuple[np.ndarray, int, int]:
    """The memory-mapped ``x`` of a case, its crop (0: none) and batch size."""
    from scipy.signal import resample_poly

    if case == "resnet12":
        sig = real_signals(2048)
        x = np.lib.format.open_memmap(folder / "x12.npy", "w+", np.float32, (2048, 12, 6000))
        for s in range(0, 2048, 256):
            up = resample_poly(sig[s : s + 256], 5, 1, axis=-1).astype(np.float32)
            x[s : s + 256, :, :5000] = up
            x[s : s + 256, :, 5000:] = up[..., :1000]
        crop, batch = 5000, 64
    else:
        sig = real_signals(1987 * 11)[:, 1]  # lead II, copies of the 1,987 ECGs
        n = sig.shape[0] * 5
        x = np.lib.format.open_memmap(folder / "beats.npy", "w+", np.float32, (n, 1, 187))
        for k in range(5):
            x[k::5, 0] = sig[:, k * 187 : (k + 1) * 187]
        crop, batch = 0, 1024
    x.flush()
    del x
    name = "x12.npy" if case == "resnet12" else "beats.npy"
    return np.load(folder / name, mmap_mode="r"), crop, batch


def load_module(src: Path):
    spec = importlib.util.spec_from_file_location("old_datamodule", src)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_datamodule"] = module  # its batch requests pickle to worker processes
    spec.loader.exec_module(module)
    return module


def rate(dm_module, x: np.ndarray, crop: int, batch: int, augment: str, workers: int,
         threads: int, seconds: float) -> tuple[float, float]:  # fmt: skip
    """Samples/s of the train loader, and the main process's CPU ms per batch (all its
    threads; worker processes not counted). ``augment``: ``device`` (none in the data path, as
    on a GPU), ``draw`` (one Gaussian draw per sample) or ``bank`` (the noise bank)."""
    from ecgzoo.datasets.arrays import ArraySplit

    n = len(x)
    split = ArraySplit(x, np.zeros((n, 5), dtype=np.float32), np.arange(n))
    lengths = torch.full((n,), x.shape[-1]) if crop else None
    args = (split, None, crop or None, lengths, augment != "device")
    new_api = "noise_seed" in dm_module.SplitBatches.__init__.__code__.co_varnames
    if augment == "bank" or threads:
        if not new_api:
            return float("nan"), float("nan")  # the old datamodule has neither
    train = dm_module.SplitBatches(*args, **({"noise_seed": 0} if augment == "bank" else {}))
    extra: dict = {"num_workers": workers, "prefetch_factor": 4} if workers else {}
    if threads:
        extra["data_threads"] = threads
    if "num_workers" not in dm_module.ArrayDataModule.__init__.__code__.co_varnames:
        if workers:
            return float("nan"), float("nan")  # the old datamodule has no workers
        extra = {}
    dm = dm_module.ArrayDataModule(train, train, batch_size=batch, eval_batch_size=batch, seed=0,
                                   **extra)  # fmt: skip
    loader = dm.train_dataloader()
    seen, start, epoch, batches = 0, None, 0, 0
    while True:
        loader.sampler.set_epoch(epoch)
        for xb, *_ in loader:
            if start is None:  # the first batch warms up (workers start, caches fill, bank drawn)
                start, cpu0 = time.perf_counter(), time.process_time()
                continue
            seen, batches = seen + len(xb), batches + 1
            if time.perf_counter() - start >= seconds:
                cpu = (time.process_time() - cpu0) / batches * 1e3
                return seen / (time.perf_counter() - start), cpu
        epoch += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["resnet12", "beat"])
    ap.add_argument("--augment", nargs="+", default=["device", "draw", "bank"],
                    choices=["device", "draw", "bank"])  # fmt: skip
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--threads", type=int, nargs="+", default=[0, 2],
                    help="train.data_threads (with 0 workers only)")  # fmt: skip
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--repeats", type=int, default=1, help="runs of each configuration")
    ap.add_argument("--old-src", type=Path, help="another checkout's train/datamodule.py")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from ecgzoo.train import datamodule

    modules = {"new": datamodule}
    if args.old_src:
        modules["old"] = load_module(args.old_src)
    configs = [(a, w, t) for a in args.augment for w in args.workers for t in args.threads
               if not (w and t)]  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="ecgzoo-datapath-"))
    rates: dict[tuple, list[tuple[float, float]]] = {}
    try:
        for case in args.cases:
            x, crop, batch = write_case(case, folder)
            # repeats interleaved (old, new, old, new...) so a change of load hits both alike
            for rep in range(args.repeats):
                for name, module in modules.items():
                    for augment, workers, threads in configs:
                        r, cpu = rate(module, x, crop, batch, augment, workers, threads,
                                      args.seconds)  # fmt: skip
                        key = (case, name, augment, workers, threads)
                        rates.setdefault(key, []).append((r, cpu))
                        print(json.dumps({"case": case, "datamodule": name, "repeat": rep,
                                          "augment": augment, "workers": workers,
                                          "threads": threads, "samples_per_s": r,
                                          "cpu_ms_per_batch": cpu,
                                          "load": os.getloadavg()[0]}), flush=True)  # fmt: skip
            del x
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("| case | datamodule | augment | workers | threads | samples/s (median) | each repeat "
          "| main-process CPU ms/batch (median) | x target (2 x H200 bare) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for (case, name, augment, workers, threads), rs in rates.items():
        if all(r == r for r, _ in rs):  # NaN: the old datamodule lacks the option
            med = float(np.median([r for r, _ in rs]))
            cpu = float(np.median([c for _, c in rs]))
            each = " / ".join(f"{r:,.0f}" for r, _ in rs)
            print(
                f"| {case} | {name} | {augment} | {workers} | {threads} | {med:,.0f} | {each} "
                f"| {cpu:.1f} | {med / TARGETS[case]:.2f} |"
            )


if __name__ == "__main__":
    main()
