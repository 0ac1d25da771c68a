"""`ecgzoo data prepare` as a user runs it (the whole process, imports included) against a bare
``wfdb`` read of the same 48 MIT-BIH records, alternating, in the same session.

    python benchmarks/prepare_cli.py --repeats 3
    python benchmarks/prepare_cli.py --repeats 3 --src base=/work/main --src new=.

``--src NAME=PATH`` runs the ecgzoo of each source tree (``PYTHONPATH=PATH/src``) in turn
(default: the installed one). Each ecgzoo run gets an empty prepared-data cache (the
database itself is already fetched: ``ECGZOO_HOME`` must hold it, e.g. after ``ecgzoo data
fetch mitdb``). Prints wall and CPU seconds (children included) of each run, the best and the
median, and the wall ratio (issue 22's target: at most 1.5x). Identity check: the SHA-256 of
every file of the prepared entry (the cache key is the folder's name) must be the same for
every tree in every round; the script fails otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
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


def timed(cmd: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall seconds of ``cmd``; its CPU seconds (user + system, children included) appended to
    ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def entry_hashes(prepared: Path) -> dict[str, str]:
    """SHA-256 of each file of the prepared cache (paths relative to it: the key included)."""
    return {
        str(f.relative_to(prepared)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(prepared.rglob("*"))
        if f.is_file() and not f.name.startswith(".")
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--home", default=os.environ.get("ECGZOO_HOME", ""))
    ap.add_argument("--src", action="append", default=[], help="NAME=PATH of a source tree")
    args = ap.parse_args()
    home = Path(args.home).expanduser()
    folder = next((home / "physionet" / "mitdb").rglob("RECORDS")).parent
    trees = dict(item.split("=", 1) for item in args.src) or {"ecgzoo": ""}
    bare: list[float] = []
    bare_cpu: list[float] = []
    cli: dict[str, list[float]] = {name: [] for name in trees}
    cli_cpu: dict[str, list[float]] = {name: [] for name in trees}
    reference: dict[str, str] = {}
    for _ in range(args.repeats):
        load = os.getloadavg()[0]
        bare.append(
            timed(
                [sys.executable, "-c", BARE.format(folder=str(folder))], dict(os.environ), bare_cpu
            )
        )
        for name, path in trees.items():
            scratch = Path(tempfile.mkdtemp(prefix="ecgzoo-prep-"))
            try:
                (scratch / "physionet").symlink_to(home / "physionet")
                env = {**os.environ, "ECGZOO_HOME": str(scratch)}
                if path:
                    env["PYTHONPATH"] = str(Path(path).resolve() / "src")
                cli[name].append(
                    timed(
                        [sys.executable, "-m", "ecgzoo", "data", "prepare", "mitdb",
                         "--segmentation", "kachuee", "--split", "inter"],
                        env,
                        cli_cpu[name],
                    )
                )  # fmt: skip
                hashes = entry_hashes(scratch / "prepared")  # outside the timing
                reference = reference or hashes
                if hashes != reference or not hashes:
                    differ = sorted(k for k in hashes.keys() | reference.keys()
                                    if hashes.get(k) != reference.get(k))  # fmt: skip
                    sys.exit(f"[{name}] prepared files differ from the first run's: {differ}")
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        row = ", ".join(f"{n} {cli[n][-1]:.2f} s (CPU {cli_cpu[n][-1]:.2f})" for n in trees)
        print(f"load {load:.1f}: bare {bare[-1]:.2f} s (CPU {bare_cpu[-1]:.2f}), {row}", flush=True)
    print(
        f"bare wfdb read: best {min(bare):.2f} s, median {statistics.median(bare):.2f} s, "
        f"CPU median {statistics.median(bare_cpu):.2f} s"
    )
    for name in trees:
        xs = cli[name]
        print(
            f"ecgzoo data prepare [{name}]: best {min(xs):.2f} s, median "
            f"{statistics.median(xs):.2f} s, CPU median {statistics.median(cli_cpu[name]):.2f} s; "
            f"ratio (best) {min(xs) / min(bare):.2f}x, (median) "
            f"{statistics.median(xs) / statistics.median(bare):.2f}x"
        )
    print(f"identical prepared files (SHA-256) in every run: {', '.join(sorted(reference))}")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
