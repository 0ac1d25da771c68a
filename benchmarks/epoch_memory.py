"""Peak memory of one training epoch as the dataset grows (issue 8, part b).

Real MIT-BIH beats (``kachuee`` segmentation, intra-patient split) are prepared once, then every
split is replicated ``k`` times (1x, 4x, 16x by default) into ``.npy`` files in a temporary folder
(deleted at the end, never committed). Each factor runs in its own subprocess (``--worker``),
which opens the files memory-mapped, exactly as the prepared-array cache does, and trains one
full epoch with the real engine (``train_run``: training, validation, the final scoring and
plots) on a small model.

Two figures per factor, both from ``/proc/self/status``:

- ``anon``: the peak of ``RssAnon`` (memory the process owns: every copy, tensor, batch) minus
  its value just before ``train_run``, sampled every 2 ms by a thread. This is the figure that
  must stay flat: it is set by the batch, not by the dataset.
- ``hwm``: ``VmHWM``, the peak total RSS. It includes the file-backed pages of the memory map
  that the epoch has read (a full epoch reads every example once), which the kernel may drop
  at any time, so it grows with the dataset up to the page cache's size without any copy.

Run, niced, e.g.::

    ECGZOO_HOME=$PWD/.cache/home ECGZOO_PHYSIONET_MIRROR=/work/shared/data/physionet \\
        nice python benchmarks/epoch_memory.py --factors 1 4 16
"""

from __future__ import annotations

import argparse
import ctypes
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPLITS = ("train", "val", "test")
FIELDS = ("x", "y", "groups", "features")


def status_kib(field: str) -> int:
    """One ``kB`` field of ``/proc/self/status`` (``RssAnon``, ``VmHWM``...)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def status_all() -> dict[str, int]:
    """Every ``kB`` field of ``/proc/self/status``, in KiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[key] = int(parts[0])
    return out


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]  # fmt: skip


def malloc_info() -> dict[str, float] | None:
    """glibc's heap in MiB: ``in_use`` (live malloc blocks, torch's CPU tensors included),
    ``free_held`` (freed blocks the heap keeps: resident if touched, owned by nobody),
    ``mmapped`` (large blocks mapped on their own, part of in_use); None without glibc 2.33+."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    m = fn()
    mib = 1 / 2**20
    return {"in_use": (m.uordblks + m.hblkhd) * mib, "free_held": m.fordblks * mib,
            "mmapped": m.hblkhd * mib}  # fmt: skip


def memory_split() -> dict[str, float]:
    """This process's resident memory in MiB, split by owner: ``anon`` (``RssAnon``: memory it
    owns, every copy, tensor and batch), ``file`` (``RssFile``: file pages it has mapped and
    touched, e.g. a memory-mapped dataset: page cache the kernel may drop, shared with every
    process reading the file), ``shmem`` (``RssShmem``: shared memory, e.g. worker batches),
    ``hwm`` (``VmHWM``, the peak of all three), plus glibc's heap (:func:`malloc_info`)."""
    st = status_all()
    fields = {"anon": "RssAnon", "file": "RssFile", "shmem": "RssShmem", "hwm": "VmHWM"}
    out = {k: st.get(f, 0) / 1024 for k, f in fields.items()}
    heap = malloc_info()
    if heap is not None:
        out.update({f"heap_{k}": v for k, v in heap.items()})
    return out


def large_arrays(min_bytes: int = 1 << 20) -> list[dict]:
    """The NumPy arrays and torch tensors alive in this process that own at least
    ``min_bytes`` of memory (not views, not memory maps), largest first: what to look at when
    owned memory grows with the data."""
    import gc

    import torch

    seen, out = set(), []
    # arrays of numbers are not tracked by the collector: look at what its containers refer to
    # (and at the running functions' locals: running frames are not collector objects)
    holders = gc.get_objects()
    for frame in sys._current_frames().values():
        while frame is not None:
            holders.append(dict(frame.f_locals))
            frame = frame.f_back
    candidates = {id(r): r for c in holders for r in gc.get_referents(c)
                  if issubclass(type(r), np.ndarray | torch.Tensor)}  # fmt: skip
    for obj in candidates.values():
        cls = type(obj)  # not isinstance: some module proxies warn when asked their class
        try:
            if issubclass(cls, np.memmap):
                continue
            if issubclass(cls, np.ndarray) and obj.base is None and obj.nbytes >= min_bytes:
                key, kind = obj.__array_interface__["data"][0], "ndarray"
                shape, dtype, nbytes = obj.shape, str(obj.dtype), obj.nbytes
            elif issubclass(cls, torch.Tensor) and obj.device.type == "cpu":
                storage = obj.untyped_storage()
                if storage.nbytes() < min_bytes:
                    continue
                key, kind = storage.data_ptr(), "tensor"
                shape, dtype, nbytes = tuple(obj.shape), str(obj.dtype), storage.nbytes()
            else:
                continue
        except (ReferenceError, RuntimeError, TypeError):
            continue
        if key in seen:
            continue
        seen.add(key)
        out.append({"kind": kind, "shape": list(shape), "dtype": dtype, "mib": nbytes / 2**20})
    return sorted(out, key=lambda a: -a["mib"])


class PeakSampler(threading.Thread):
    """Samples ``RssAnon`` (and ``RssFile``) every ``interval`` seconds until stopped; keeps
    the peaks, overall (``peak``, ``file_peak``) and per phase (``phases``: set ``phase`` to
    attribute the samples that follow to a part of the run)."""

    def __init__(self, interval: float = 0.002):
        super().__init__(daemon=True)
        self.interval, self.peak, self.halt = interval, status_kib("RssAnon"), threading.Event()
        self.file_peak = status_kib("RssFile")
        self.phase = "start"
        self.phases: dict[str, dict[str, int]] = {}

    def sample(self) -> None:
        st = status_all()
        anon, file = st.get("RssAnon", 0), st.get("RssFile", 0)
        self.peak, self.file_peak = max(self.peak, anon), max(self.file_peak, file)
        p = self.phases.setdefault(self.phase, {"anon": anon, "file": file})
        p["anon"], p["file"] = max(p["anon"], anon), max(p["file"], file)

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            time.sleep(self.interval)

    def stop(self) -> int:
        self.halt.set()
        self.join()
        return max(self.peak, status_kib("RssAnon"))


def write_replicas(base: dict, folder: Path, factor: int) -> int:
    """Each split's arrays repeated ``factor`` times, written a copy at a time; total bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for (split, field), arr in base.items():
        out = np.lib.format.open_memmap(
            folder / f"{split}_{field}.npy",
            mode="w+",
            dtype=arr.dtype,
            shape=(len(arr) * factor,) + arr.shape[1:],
        )
        for k in range(factor):
            out[k * len(arr) : (k + 1) * len(arr)] = arr
        out.flush()
        total += out.nbytes
        del out
    return total


def prepare_base(records: list[str]) -> tuple[dict, dict]:
    """The real prepared splits (in memory) and what PreparedData needs besides them."""
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.experiment import build_config

    cfg = build_config(
        {"data": {"dataset": "mitbih", "mitbih": {"records": records, "split": "intra"}}}
    )
    data = load_data(cfg.data)
    base = {}
    for split in SPLITS:
        part = data.split(split)
        for field in FIELDS:
            value = getattr(part, field)
            if value is not None:
                base[(split, field)] = np.array(value)
    info = {"class_names": list(data.class_names), "sampling_rate": data.sampling_rate}
    return base, info


def worker(args: argparse.Namespace) -> None:
    from ecgzoo.datasets.arrays import ArraySplit, PreparedData
    from ecgzoo.experiment import build_config
    from ecgzoo.train.engine import train_run

    folder = Path(args.folder)
    info = json.loads((folder / "info.json").read_text())

    def opened(split: str) -> ArraySplit:
        arrays = {
            f: np.load(folder / f"{split}_{f}.npy", mmap_mode="r")
            for f in FIELDS
            if (folder / f"{split}_{f}.npy").is_file()
        }
        return ArraySplit(arrays["x"], arrays["y"], arrays["groups"], arrays.get("features"))

    data = PreparedData(*(opened(s) for s in SPLITS), info["class_names"], info["sampling_rate"])
    cfg = build_config(
        {
            "name": f"mem{args.factor}",
            "model": {"name": "fc", "params": {"hidden": 64}},
            "train": {
                "epochs": 1,
                "batch_size": args.batch_size,
                "num_threads": 1,
                "max_minutes": None,
                "max_steps_per_epoch": None,
            },
        },
        [f"output_dir={folder / 'runs'}"],
    )
    sampler = PeakSampler()
    before = sampler.peak
    sampler.start()
    start = time.perf_counter()
    train_run(cfg, data=data, progress=False)
    seconds = time.perf_counter() - start
    peak = sampler.stop()
    result = {
        "factor": args.factor,
        "n_train": len(data.train),
        "n_total": sum(len(data.split(s)) for s in SPLITS),
        "dataset_mib": sum(p.stat().st_size for p in folder.glob("*.npy")) / 2**20,
        "anon_before_mib": before / 1024,
        "anon_peak_growth_mib": (peak - before) / 1024,
        "vmhwm_mib": status_kib("VmHWM") / 1024,
        "seconds": seconds,
    }
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--records", nargs="+", default=["100", "106", "119", "208", "209", "232"])
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--factor", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    base, info = prepare_base(args.records)
    root = Path(tempfile.mkdtemp(prefix="ecgzoo-epoch-mem-"))
    rows = []
    try:
        for factor in args.factors:
            folder = root / f"x{factor}"
            write_replicas(base, folder, factor)
            (folder / "info.json").write_text(json.dumps(info))
            cmd = [sys.executable, __file__, "--worker", "--factor", str(factor)]
            cmd += ["--folder", str(folder), "--batch-size", str(args.batch_size)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"worker x{factor} failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("| factor | examples (train/all) | dataset MiB | peak anon growth MiB | VmHWM MiB | s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['factor']}x | {r['n_train']:,} / {r['n_total']:,} | {r['dataset_mib']:.0f} "
            f"| {r['anon_peak_growth_mib']:.0f} | {r['vmhwm_mib']:.0f} | {r['seconds']:.0f} |"
        )


if __name__ == "__main__":
    main()
