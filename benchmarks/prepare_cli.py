"""`ecgzoo data prepare` as a user runs it (the whole process, imports included) against a bare
``wfdb`` read of the same 48 MIT-BIH records, alternating, in the same session.

    python benchmarks/prepare_cli.py --repeats 3

Each ecgzoo run gets an empty prepared-data cache (the database itself is already fetched:
``ECGZOO_HOME`` must hold it, e.g. after ``ecgzoo data fetch mitdb``). Prints the best and the
median of each, and their ratio (issue 22's target: at most 1.5x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
import warnings, wfdb
from pathlib import Path
warnings.simplefilter("ignore")
folder = Path({folder!r})
for name in (folder / "RECORDS").read_text().split():
    wfdb.rdrecord(str(folder / name))
    wfdb.rdann(str(folder / name), "atr")
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--home", default=os.environ.get("ECGZOO_HOME", ""))
    args = ap.parse_args()
    home = Path(args.home).expanduser()
    folder = next((home / "physionet" / "mitdb").rglob("RECORDS")).parent
    bare, cli = [], []
    for _ in range(args.repeats):
        bare.append(
            timed([sys.executable, "-c", BARE.format(folder=str(folder))], dict(os.environ))
        )
        scratch = Path(tempfile.mkdtemp(prefix="ecgzoo-prep-"))
        try:
            (scratch / "physionet").symlink_to(home / "physionet")
            env = {**os.environ, "ECGZOO_HOME": str(scratch)}
            cli.append(
                timed(
                    [sys.executable, "-m", "ecgzoo", "data", "prepare", "mitdb",
                     "--segmentation", "kachuee", "--split", "inter"],
                    env,
                )
            )  # fmt: skip
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    for label, xs in (("bare wfdb read", bare), ("ecgzoo data prepare", cli)):
        print(f"{label}: best {min(xs):.2f} s, median {statistics.median(xs):.2f} s")
    print(
        f"ratio (best): {min(cli) / min(bare):.2f}x, (median): "
        f"{statistics.median(cli) / statistics.median(bare):.2f}x; load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
