"""How long a user waits for a config or command-line mistake to be refused (issue 22).

    python benchmarks/error_latency.py --repeats 3

Runs each mistake of ``tests/test_fast_errors.py`` as a whole ``python -m ecgzoo`` process
(what a user waits for: interpreter start, CLI import, validation) and reports the median and
worst wall time of ``--repeats`` runs, with the machine's load. Target: under 1 s each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from test_fast_errors import MISTAKES  # noqa: E402 (the one list of mistakes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200"}
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} cores")
    print("| mistake | median s | worst s | refused with |")
    print("|---|---:|---:|---|")
    worst_all = 0.0
    for argv, _ in MISTAKES:
        times, message = [], ""
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "ecgzoo", *argv],
                capture_output=True,
                text=True,
                cwd=REPO,
                env=env,
            )
            times.append(time.perf_counter() - t0)
            message = proc.stderr.strip().splitlines()[-1][:70] if proc.stderr.strip() else ""
        worst_all = max(worst_all, max(times))
        print(
            f"| `ecgzoo {' '.join(argv)}` | {statistics.median(times):.2f} | {max(times):.2f} "
            f"| {message.replace('|', '/')} |"
        )
    print(f"load after: {os.getloadavg()[0]:.2f}; worst of all: {worst_all:.2f} s")


if __name__ == "__main__":
    main()
