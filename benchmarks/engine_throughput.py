"""Training throughput of the engine: the old hand-written loop against the Lightning one, and DDP.

Each measurement runs in its own subprocess (``--worker``) with a chosen copy of the ``ecgzoo``
sources first on ``sys.path``, so one benchmark run compares two versions of the package on the
same machine under the same load. Export the old engine first, e.g.::

    git archive 6473971 src | tar -x -C /tmp/ecgzoo-old
    python benchmarks/engine_throughput.py --old-src /tmp/ecgzoo-old/src --threads 1

Cases: ``demo`` (``configs/demo.yaml``: resnet1d on MIT-BIH beats, 1 x 187) and ``resnet12``
(resnet1d, default size, on real 12-lead Challenge-2021 recordings: every whole 10-s window of
5,000 samples at 500 Hz, label = normal sinus rhythm or not). The figure is the training
samples/s the engine logs for an epoch (``train_samples_per_s``: examples over the time of the
training steps, validation excluded) over epochs 2.. of every repeat (epoch 1 warms up): the
best epoch (least disturbed by other load on a shared machine) and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NSR = "426783006"


def twelve_lead_windows(mirror: Path, n_samples: int = 5000):
    """Real 12-lead windows of the Challenge-2021 subset at 500 Hz: (x, y, record index)."""
    import numpy as np
    import wfdb

    xs, ys, groups = [], [], []
    heads = sorted((mirror / "challenge-2021" / "1.0.3" / "training").glob("*/g1/*.hea"))
    for k, head in enumerate(heads):
        rec = wfdb.rdrecord(str(head.with_suffix("")))
        if rec.fs != 500 or rec.p_signal is None:
            continue
        dx = next((c for c in rec.comments if c.startswith("Dx:")), "Dx:")
        signal = np.nan_to_num(rec.p_signal.T.astype(np.float32))
        for start in range(0, signal.shape[1] - n_samples + 1, n_samples):
            xs.append(signal[:, start : start + n_samples])
            ys.append(int(NSR in dx))
            groups.append(k)
    return np.stack(xs), np.asarray(ys, dtype=np.int64), np.asarray(groups)


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    from ecgzoo.datasets.arrays import ArraySplit, PreparedData
    from ecgzoo.experiment import build_config, load_config
    from ecgzoo.train.engine import train_run

    out = tempfile.mkdtemp(prefix="ecgzoo-bench-")
    over = [
        f"output_dir={out}",
        f"train.epochs={args.epochs}",
        f"train.max_steps_per_epoch={args.steps}",
        "train.max_minutes=null",
        f"train.num_threads={args.threads}",
        "train.early_stopping_patience=100",
    ]
    over += args.override
    if args.case == "demo":
        cfg = load_config(REPO / "configs" / "demo.yaml", over)
        data = None
    else:
        cfg = build_config(
            {"name": "resnet12", "model": {"name": "resnet1d"}, "train": {"batch_size": 16}},
            over,
        )
        x, y, g = twelve_lead_windows(Path(os.environ["ECGZOO_PHYSIONET_MIRROR"]))
        val = np.arange(len(y)) % 5 == 0  # a fixed fifth, for the engine's validation step
        split = ArraySplit(x[~val], y[~val], g[~val])
        held = ArraySplit(x[val], y[val], g[val])
        data = PreparedData(split, held, held, ["other", "NSR"], 500.0)
    marks = [time.process_time()]
    result = train_run(
        cfg, data=data, progress=False, on_epoch=lambda row: marks.append(time.process_time())
    )
    if not getattr(result, "primary", True):
        return
    rates = [row["train_samples_per_s"] for row in result.history]
    cpu = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    Path(args.json).write_text(json.dumps({"rates": rates, "cpu": cpu}))


def measure(src: str, case: str, args: argparse.Namespace, extra: list[str]) -> list[float]:
    """Wall-clock training samples/s of epochs 2.. of one worker run."""
    return measure_both(src, case, args, extra)["rates"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-src", help="src folder of the old engine (git archive 6473971)")
    parser.add_argument("--cases", default="demo,resnet12")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--ddp", action="store_true", help="also: DDP 2 CPU processes vs 1")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--override", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    new_src = str(REPO / "src")
    for case in args.cases.split(","):
        old: list[float] = []
        new: list[float] = []
        old_cpu: list[float] = []
        new_cpu: list[float] = []
        for _ in range(args.repeats):  # interleaved, so drift in the machine's load hits both
            if args.old_src:
                out = measure_both(args.old_src, case, args, [])
                old += out["rates"]
                old_cpu += out["cpu"]
            out = measure_both(new_src, case, args, ["train.accelerator=cpu"])
            new += out["rates"]
            new_cpu += out["cpu"]
        report(case, "old", old, "new", new)
        if old_cpu:
            a, b = statistics.median(old_cpu), statistics.median(new_cpu)
            print(
                f"{case}: CPU seconds per epoch (training + validation), median: old {a:.2f} "
                f"new {b:.2f}; old/new {a / b:.2f} (above 1: the new engine uses less CPU)"
            )
    if args.ddp:
        one: list[float] = []
        two: list[float] = []
        for _ in range(args.repeats):
            one += measure(new_src, "demo", args, ["train.accelerator=cpu"])
            ddp = ["train.accelerator=cpu", "train.devices=2", "train.strategy=ddp"]
            two += measure(new_src, "demo", args, ddp)
        report("demo DDP", "1 process", one, "2 processes", two)


def measure_both(src: str, case: str, args: argparse.Namespace, extra: list[str]) -> dict:
    """Wall-clock training rates and CPU seconds per epoch, from one worker run."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        target = fh.name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--case", case]
    cmd += ["--json", target, "--epochs", str(args.epochs), "--steps", str(args.steps)]
    cmd += ["--threads", str(args.threads)] + [f"--override={o}" for o in extra]
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=src), stdout=subprocess.DEVNULL)
    values = json.loads(Path(target).read_text())
    return {k: v[1:] or v for k, v in values.items()}  # epoch 1 warms up


def report(case: str, a_name: str, a: list[float], b_name: str, b: list[float]) -> None:
    """Best epoch (the least disturbed by other load on a shared machine) and median, b/a."""
    if not a:
        print(f"{case}: {b_name} best {max(b):.1f} median {statistics.median(b):.1f} samples/s")
        return
    print(
        f"{case}: {a_name} best {max(a):.1f} median {statistics.median(a):.1f} | "
        f"{b_name} best {max(b):.1f} median {statistics.median(b):.1f} samples/s | "
        f"{b_name}/{a_name} best {max(b) / max(a):.2f} median "
        f"{statistics.median(b) / statistics.median(a):.2f} (epochs: {len(a)}, {len(b)})"
    )


if __name__ == "__main__":
    main()
