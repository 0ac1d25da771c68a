"""Time preparing all 48 MIT-BIH records with a cold cache, per segmentation.

    python benchmarks/prepare_mitbih.py --db-dir ~/.cache/ecgzoo/physionet/mitdb/1.0.0/\
mit-bih-arrhythmia-database-1.0.0 --segmentation kachuee centered --repeats 3

Every repeat uses a fresh, empty cache folder, so each timing is a full build (read the
records with wfdb, resample, segment, RR features) plus writing the ``.npz`` cache entry;
a final cache-hit read is timed for comparison. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy
import wfdb

from ecgzoo.datasets.mitbih import list_records, prepare_beats
from ecgzoo.datasets.mitbih_options import MitbihOptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-dir", type=Path, required=True, help="folder with 100.hea ...")
    parser.add_argument(
        "--segmentation",
        nargs="+",
        choices=["kachuee", "centered"],
        default=["kachuee", "centered"],
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="processes (default 1)")
    args = parser.parse_args(argv)

    n_records = len(list_records(args.db_dir))
    rows = []
    for seg in args.segmentation:
        options = MitbihOptions(segmentation=seg)
        times = []
        with tempfile.TemporaryDirectory(prefix="ecgzoo-bench-") as tmp:
            for i in range(args.repeats):
                cache = Path(tmp) / f"cold{i}"
                start = time.perf_counter()
                arrays = prepare_beats(args.db_dir, options, cache_dir=cache, workers=args.workers)
                times.append(time.perf_counter() - start)
            start = time.perf_counter()
            prepare_beats(args.db_dir, options, cache_dir=cache)
            hit = time.perf_counter() - start
        rows.append((seg, arrays["x"].shape, len(arrays["dropped_reason"]), times, hit))
        print(f"{seg}: " + ", ".join(f"{t:.2f} s" for t in times), file=sys.stderr)

    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"Machine: {platform.machine()}, nproc {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f}; {now}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, wfdb {wfdb.__version__}; "
        f"{n_records} records, workers {args.workers or 1}.\n"
    )
    runs = " | ".join(f"run {i + 1} (s)" for i in range(args.repeats))
    print(f"| segmentation | beats x samples | dropped | {runs} | median (s) | cache hit (s) |")
    print("|---" * (5 + args.repeats) + "|")
    for seg, shape, dropped, times, hit in rows:
        cells = " | ".join(f"{t:.2f}" for t in times)
        print(
            f"| {seg} | {shape[0]:,} x {shape[1]} | {dropped} | {cells} | "
            f"{statistics.median(times):.2f} | {hit:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
