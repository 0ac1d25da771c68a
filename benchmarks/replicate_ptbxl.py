"""PTB-XL at the size users bring, without the data: ``prepare`` and one epoch vs dataset size.

The mirror holds 1,987 real PTB-XL ECGs. ``--replicate N`` writes a PTB-XL release of N copies
of them (``--sizes M`` one of M ECGs, the last copy cut) in PTB-XL's own layout
(``ptbxl_database.csv``, ``scp_statements.csv``, ``records100/<copy>/<id>_lr.{hea,dat}``,
format 16 with recomputed checksums): copy 0 is the records byte for byte, copy k > 0 each
record rescaled (x 0.8-1.25), offset per lead (up to +-0.05 mV) and circularly shifted in time,
so no two copies share bytes. ecg_id and patient_id are made unique per copy; ``strat_fold`` is
kept, so the splits keep their proportions and stay patient-disjoint. Everything lives in
``--workdir`` (default ``/tmp/ptbxl-bench``), deleted at the end (``--keep`` keeps it).

For each size, two subprocesses (so each starts with a clean process):

- ``prepare``: :func:`ecgzoo.datasets.ptbxl.load_ptbxl` (superdiagnostic) from the WFDB files to the
  memory-mapped cache (signals entry, then the task entry), on ``--workers`` processes;
  wall time, CPU time of all processes over wall time (cores used), the parent's and the
  largest worker's peak RSS.
- ``epoch``: the cached dataset, one training epoch of the real engine (``train_run``: a small
  ResNet1D on 2.5 s random crops with augmentation, batch 64, then validation and the final
  scoring), its epoch seconds and samples/s, and memory (``epoch_memory.py``): the peak growth
  of ``RssAnon`` (what the process owns: it must be set by the batch), overall, for the fit and
  the final scoring, and per phase of the fit (training steps, validation, the training curve
  scored inside validation); the peak of ``RssFile`` (the memory map's file pages the epoch
  read: page cache the kernel may drop, not owned) and ``VmHWM`` (both); glibc's heap (in use /
  freed but held) at the start of each phase; the owned memory ``malloc_trim`` hands back before
  the final scoring; and the arrays alive at the fit's end owning 64 KiB or more (which of them
  grow with the number of records).

Run, niced and under the shared lock, e.g.::

    nice -n 10 flock /work/heavy.lock python benchmarks/replicate_ptbxl.py \\
        --replicate 1 10 --sizes 21837 88000
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("ECGZOO_PHYSIONET_MIRROR", REPO.parent / "shared/data/physionet"))
SOURCE = MIRROR / "ptb-xl" / "1.0.3"
PHASES = ("train", "val", "curve")  # the fit's phases, as the epoch child tags them
STRIDE = 2000  # ecg_ids of the mirror are below it: copy k's ids are k * STRIDE + id

sys.path.insert(0, str(Path(__file__).resolve().parent))
from epoch_memory import PeakSampler, large_arrays, memory_split, status_kib  # noqa: E402


def header_text(src: str, name: str, x: np.ndarray) -> str:
    """The source header for record ``name`` with each signal's initial value and checksum
    recomputed for ``x`` (``(n_samples, n_leads)`` int16)."""
    lines = src.splitlines()
    first = lines[0].split()
    first[0] = name
    out = [" ".join(first)]
    for lead, line in enumerate(lines[1 : 1 + x.shape[1]]):
        f = line.split()
        f[0] = f"{name}.dat"
        f[5] = str(int(x[0, lead]))
        f[6] = str(int(x[:, lead].astype(np.int64).sum()) & 0xFFFF)
        out.append(" ".join(f))
    out += lines[1 + x.shape[1] :]
    return "\n".join(out) + "\n"


def write_release(dest: Path, size: int, seed: int = 0) -> dict:
    """A PTB-XL folder of ``size`` ECGs made from the mirror's; what was written."""
    start = time.perf_counter()
    with open(SOURCE / "ptbxl_database.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = list(reader.fieldnames or []), list(reader)
    dest.mkdir(parents=True)
    shutil.copy(SOURCE / "scp_statements.csv", dest)
    originals = []
    for row in rows:
        base = SOURCE / row["filename_lr"]
        n_leads = int(base.with_suffix(".hea").read_text().split()[1])
        raw = np.fromfile(base.with_suffix(".dat"), dtype="<i2").reshape(-1, n_leads)
        originals.append((raw, base.with_suffix(".hea").read_text()))
    rng = np.random.default_rng(seed)
    out_rows, listed, written = [], [], 0
    for k in range(math.ceil(size / len(rows))):
        folder = dest / "records100" / f"{k:05d}"
        folder.mkdir(parents=True)
        for row, (raw, hea) in zip(rows, originals, strict=True):
            if len(out_rows) == size:
                break
            ecg_id = k * STRIDE + int(row["ecg_id"])
            name = f"{ecg_id:07d}_lr"
            x = raw
            if k:
                scale = rng.uniform(0.8, 1.25)
                offset = rng.integers(-50, 51, size=raw.shape[1])  # adu: 1000 per mV
                y = np.roll(raw.astype(np.float64), rng.integers(1, len(raw)), axis=0)
                x = np.clip(np.round(y * scale + offset), -32768, 32767).astype("<i2")
            x.tofile(folder / f"{name}.dat")
            (folder / f"{name}.hea").write_text(header_text(hea, name, x))
            written += x.nbytes
            rel = f"records100/{k:05d}/{name}"
            new = dict(row, ecg_id=str(ecg_id), filename_lr=rel,
                       filename_hr=rel.replace("100", "500").replace("_lr", "_hr"))  # fmt: skip
            new["patient_id"] = f"{k * 100_000 + float(row['patient_id']):.1f}"
            out_rows.append(new)
            listed.append(rel)
    with open(dest / "ptbxl_database.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(out_rows)
    (dest / "RECORDS").write_text("\n".join(listed) + "\n")
    return {"ecgs": len(out_rows), "dat_mib": written / 2**20,
            "write_s": time.perf_counter() - start}  # fmt: skip


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def options(root: Path):
    from ecgzoo.datasets.ptbxl import PtbxlOptions

    return PtbxlOptions(root=str(root), task="superdiagnostic", fs=100, random_crop_s=2.5)


def run_prepare(args: argparse.Namespace) -> dict:
    from ecgzoo.datasets.ptbxl import load_ptbxl

    work = Path(args.folder)
    sampler = PeakSampler(0.01)
    sampler.start()
    t0, c0 = time.perf_counter(), cpu_seconds()
    data = load_ptbxl(options(work / "release"), cache_dir=work / "cache", workers=args.workers)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    peak = sampler.stop()
    cache_bytes = sum(p.stat().st_size for p in (work / "cache").rglob("*.npy"))
    return {
        "ecgs": sum(len(data.split(s)) for s in ("train", "val", "test")),
        "prepare_s": wall,
        "cores_used": cpu / wall,
        "parent_vmhwm_mib": status_kib("VmHWM") / 1024,
        "parent_anon_peak_mib": peak / 1024,
        "worker_maxrss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "cache_mib": cache_bytes / 2**20,
    }


def run_epoch(args: argparse.Namespace) -> dict:
    from ecgzoo.datasets.ptbxl import load_ptbxl
    from ecgzoo.experiment import build_config
    from ecgzoo.train import final_scoring
    from ecgzoo.train.engine import train_run

    work = Path(args.folder)
    data = load_ptbxl(options(work / "release"), cache_dir=work / "cache", workers=1)
    cfg = build_config(
        {
            "name": "epoch",
            "output_dir": str(work / "runs"),
            "data": {"dataset": "ptbxl", "ptbxl": options(work / "release").model_dump()},
            "model": {"name": "resnet1d", "params": {"n_blocks": 2, "width": 16, "kernel": 7}},
            "train": {
                "epochs": 1,
                "batch_size": 64,
                "loss": "bce",
                "augment": True,
                "monitor": "val_macro_auroc",
                "device": "cpu",
                "num_threads": 1,
                "max_minutes": None,
            },
        }  # fmt: skip
    )
    from ecgzoo.train.module import ZooModule

    sampler = PeakSampler()
    before = sampler.peak
    phases: dict[str, int] = {}
    events: list[dict] = []  # memory at each phase's start: owned / file-backed / heap

    def enter(phase: str) -> None:
        sampler.sample()
        sampler.phase = phase
        events.append({"phase": phase, **{k: round(v, 1) for k, v in memory_split().items()}})

    score_run = final_scoring.score_run
    patched = {}
    for hook, phase in (("on_train_epoch_start", "train"), ("on_validation_epoch_start", "val"),
                        ("plain_train_loss", "curve")):  # fmt: skip
        original = patched[hook] = getattr(ZooModule, hook)

        def wrapped(self, *a, _original=original, _phase=phase, **kw):
            enter(_phase)
            return _original(self, *a, **kw)

        setattr(ZooModule, hook, wrapped)
    fit_arrays: list[dict] = []

    def timed_score_run(*a, **kw):
        # the final scoring's own peak: the sampler restarts from the memory owned when it begins
        enter("fit_end")
        phases["fit_peak"] = max(sampler.peak, status_kib("RssAnon"))
        fit_arrays.extend(large_arrays(64 << 10)[:25])
        # how much of the owned memory is freed blocks glibc's heap still holds: trim, measure
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        enter("final")
        phases["score_start"] = sampler.peak = status_kib("RssAnon")
        return score_run(*a, **kw)

    final_scoring.score_run = timed_score_run
    sampler.start()
    t0 = time.perf_counter()
    try:
        result = train_run(cfg, data=data, progress=False)
    finally:
        final_scoring.score_run = score_run
        for hook, original in patched.items():
            setattr(ZooModule, hook, original)
    total = time.perf_counter() - t0
    peak = sampler.stop()
    history = list(csv.DictReader(open(result.run_dir / "history.csv", newline="")))
    kib = 1 / 1024
    return {
        "train_ecgs": len(data.train),
        "epoch_s": float(history[0]["epoch_seconds"]),
        "train_samples_per_s": float(history[0]["train_samples_per_s"]),
        "run_s": total,
        "anon_before_mib": before * kib,
        "anon_peak_growth_mib": (max(peak, phases["fit_peak"]) - before) * kib,
        "fit_anon_growth_mib": (phases["fit_peak"] - before) * kib,
        "scoring_anon_growth_mib": (peak - phases["score_start"]) * kib,
        # per phase: the owned memory's peak growth over the start, the file-backed peak
        "phase_anon_growth_mib": {
            k: round((v["anon"] - before) * kib, 1) for k, v in sampler.phases.items()
        },  # fmt: skip
        "phase_file_peak_mib": {k: round(v["file"] * kib, 1) for k, v in sampler.phases.items()},
        "file_peak_mib": sampler.file_peak * kib,
        "events": events,
        "fit_end_arrays": fit_arrays,
        "vmhwm_mib": status_kib("VmHWM") * kib,
        "dataset_mib": data.train.x.nbytes / 2**20,
    }


def child(stage: str, folder: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--stage", stage, "--folder", str(folder)]
    cmd += ["--workers", str(args.workers)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{stage} at {folder} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicate", type=int, nargs="*", default=[1, 10], help="copies")
    ap.add_argument("--sizes", type=int, nargs="*", default=[21_837], help="ECGs")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/ptbxl-bench"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-epoch", action="store_true", help="measure prepare only")
    ap.add_argument("--keep", action="store_true", help="keep the written releases")
    ap.add_argument("--stage", choices=["prepare", "epoch"], help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        run = run_prepare if args.stage == "prepare" else run_epoch
        print(json.dumps(run(args)))
        return
    n_source = sum(1 for _ in open(SOURCE / "RECORDS"))
    sizes = [n * n_source for n in args.replicate] + list(args.sizes)
    if args.workdir.exists():
        sys.exit(f"--workdir {args.workdir} exists: remove it or choose another")
    results = []
    try:
        for size in sizes:
            folder = args.workdir / f"n{size}"
            row = {"size": size, **write_release(folder / "release", size)}
            row.update(child("prepare", folder, args))
            if not args.no_epoch:
                row.update(child("epoch", folder, args))
            print(json.dumps(row), flush=True)
            results.append(row)
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    print(
        "| ECGs | .dat MiB | prepare s | cores | prepare peak RSS MiB (parent / worker) "
        "| cache MiB | epoch s | samples/s | owned (anon) growth MiB: run (fit / final scoring) "
        "| owned growth MiB by phase: train / val / curve | file-backed peak MiB | VmHWM MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "epoch_s" in r:
            ph = r["phase_anon_growth_mib"]
            by_phase = " / ".join(f"{ph[p]:.0f}" if p in ph else "-" for p in PHASES)
            epoch = (
                f"{r['epoch_s']:.0f} | {r['train_samples_per_s']:.0f} | "
                f"{r['anon_peak_growth_mib']:.0f} ({r['fit_anon_growth_mib']:.0f} / "
                f"{r['scoring_anon_growth_mib']:.0f}) | {by_phase} | {r['file_peak_mib']:.0f} "
                f"| {r['vmhwm_mib']:.0f}"
            )
        else:
            epoch = "not run | | | | |"
        print(
            f"| {r['size']:,} | {r['dat_mib']:.0f} | {r['prepare_s']:.1f} | {r['cores_used']:.2f} "
            f"| {r['parent_vmhwm_mib']:.0f} / {r['worker_maxrss_mib']:.0f} | {r['cache_mib']:.0f} "
            f"| {epoch} |"
        )


if __name__ == "__main__":
    main()
