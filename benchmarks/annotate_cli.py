"""``ecgzoo annotate`` on the 24-hour Holter as a user runs it: the whole CLI process, timed.

Each ``--src NAME=PATH`` is an ecgzoo source tree (``PATH/src``; e.g. a ``git archive`` of the
commit to compare with, unpacked in a temporary folder) run as ``python -m ecgzoo annotate
holter24 --engine ENGINE --out TMP`` with ``PYTHONPATH=PATH/src``. The trees are run in turn,
``--repeats`` rounds, so each round sees about the same load; per run: wall seconds, CPU
seconds of the child (user + system) and the 1-minute load average before it. The Holter is
``benchmarks/annotate_holter.py build`` (``$ECGZOO_HOME/holter24``, never committed); the ONNX
engine needs ``ecgzoo export pretrained:mitbih-inter --format onnx`` first.

    nice -n 10 flock /work/heavy.lock python benchmarks/annotate_cli.py \\
        --src base=/tmp/base --src new=. --engine onnx --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def holter() -> Path:
    home = os.environ.get("ECGZOO_HOME")
    base = Path(home) if home else Path.home() / ".cache" / "ecgzoo"
    return base / "holter24" / "holter24"


def run_once(src: Path, engine: str, extra: list[str]) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src / "src"))
    with tempfile.TemporaryDirectory(prefix="ecgzoo-holter-") as out:
        cmd = [sys.executable, "-m", "ecgzoo", "annotate", str(holter()), "--engine", engine]
        cmd += ["--out", out, *extra]
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{src}: exit {done.returncode}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "load_1min": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--engine", default="onnx")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--extra", nargs="*", default=[], help="more annotate options")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    trees = dict(item.split("=", 1) for item in args.src)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, path in trees.items():
            row = run_once(Path(path).resolve(), args.engine, args.extra)
            runs[name].append(row)
            print(f"{name}: {json.dumps({k: round(v, 2) for k, v in row.items()})}", flush=True)
    first = next(iter(trees))
    for name, rows in runs.items():
        wall = statistics.median(r["wall_s"] for r in rows)
        cpu = statistics.median(r["cpu_s"] for r in rows)
        base_wall = statistics.median(r["wall_s"] for r in runs[first])
        fastest = min(r["wall_s"] for r in rows)
        print(
            f"| {name} | {args.engine} | median wall {wall:.1f} s (min {fastest:.1f}) "
            f"| CPU {cpu:.1f} s | x{wall / base_wall:.2f} of {first} |"
        )
    if args.out:
        args.out.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
