"""Data-layer benchmarks: cold-cache preparation vs a bare ``wfdb`` read, and peak memory.

    python benchmarks/prepare_data.py speed --databases mitdb svdb cinc2017 cinc2021
    python benchmarks/prepare_data.py memory --base-records 12 --factors 1 4 16

``speed``: for each database, in the same run and alternating, (a) a bare ``wfdb.rdrecord``
(+ ``wfdb.rdann`` where the database has beat annotations) of exactly the records the dataset
uses, and (b) ecgzoo's preparation into an empty cache (reading, checks, examples, writing the
memory-mapped entry). Reports the best of ``--repeats`` for each and their ratio.

``memory``: MIT-BIH records replicated 1x, 4x, 16x under new record names (headers rewritten,
signal and annotation files linked), each prepared (kachuee beats, cold cache) in a fresh
process; reports that process's peak RSS after preparing, and after reading the memory-mapped
``x`` in batches of 4,096 beats (one mapping per batch, as an epoch would): both must stay flat
as the dataset grows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _bare_read(folder: Path, names: list[str], annotations: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wfdb

        for name in names:
            wfdb.rdrecord(str(folder / name))
            if annotations:
                wfdb.rdann(str(folder / name), "atr")


def _cases() -> dict:
    """database -> (records folder, record names, annotated, prepare(cache_dir))."""
    from ecgzoo.datasets import cinc2017, cinc2021, mitbih, svdb
    from ecgzoo.datasets.cinc2017_options import Cinc2017Options
    from ecgzoo.datasets.cinc2021_options import Cinc2021Options
    from ecgzoo.datasets.mitbih_options import MitbihOptions
    from ecgzoo.datasets.svdb_options import SvdbOptions
    from ecgzoo.readers.cinc2021 import Cinc2021Reader, default_paths

    mit = mitbih.default_db_dir()
    sv = svdb.default_db_dir()
    c17 = cinc2017.resolve_root(None)
    ref = cinc2017.read_reference(c17 / cinc2017.V3_REFERENCE)
    training, scoring = default_paths()
    return {
        "mitdb": (mit, mitbih.list_records(mit), True,
                  lambda d: mitbih.prepare_beats(mit, MitbihOptions(), cache_dir=d)),
        "svdb": (sv, svdb.SvdbReader(sv).list_records(), True,
                 lambda d: svdb.prepare_beats(sv, SvdbOptions(), cache_dir=d)),
        "cinc2017": (c17 / cinc2017.RECORDS_DIR, sorted(ref), False,
                     lambda d: cinc2017.load_cinc2017(Cinc2017Options(), root=c17, cache_dir=d,
                                                      n_workers=1)),
        "cinc2021": (training, Cinc2021Reader(training, scoring).list_records(), False,
                     lambda d: cinc2021.prepare(Cinc2021Options(), training, scoring, d)),
    }  # fmt: skip


def speed(databases: list[str], repeats: int) -> list[dict]:
    cases = _cases()
    rows = []
    for db in databases:
        folder, names, annotated, prepare = cases[db]
        bare, ours = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            _bare_read(folder, names, annotated)
            bare.append(time.perf_counter() - start)
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                prepare(Path(tmp))
                ours.append(time.perf_counter() - start)
        row = {
            "database": db,
            "records": len(names),
            "bare_wfdb_s": round(min(bare), 2),
            "prepare_s": round(min(ours), 2),
            "ratio": round(min(ours) / min(bare), 2),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def _replicate(src: Path, names: list[str], factor: int, out: Path) -> list[str]:
    out.mkdir(parents=True)
    made = []
    for k in range(factor):
        for name in names:
            new = str(int(name) + 1000 * k)
            text = (src / f"{name}.hea").read_text().replace(f"{name}.dat", f"{new}.dat")
            lines = text.splitlines()
            lines[0] = lines[0].replace(name, new, 1)
            (out / f"{new}.hea").write_text("\n".join(lines) + "\n")
            for ext in (".dat", ".atr"):
                os.symlink(src / f"{name}{ext}", out / f"{new}{ext}")
            made.append(new)
    return made


def _child(folder: str, names: list[str], cache: str) -> None:
    from ecgzoo.datasets.mitbih import prepare_beats
    from ecgzoo.datasets.mitbih_options import MitbihOptions

    arrays = prepare_beats(Path(folder), MitbihOptions(records=names), cache_dir=Path(cache))
    prepare_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = int(len(arrays["y"]))
    entry = next(p for p in (Path(cache) / "mitbih").iterdir() if (p / "complete.json").is_file())
    del arrays
    total = 0.0
    for i in range(0, n, 4096):  # batches, as a training epoch reads them: one mapping each
        x = np.load(entry / "x.npy", mmap_mode="r")
        total += float(np.asarray(x[i : i + 4096]).sum())
        del x  # unmaps: the pages read are not kept resident
    read_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"beats": n, "peak_rss_prepare_mb": round(prepare_kb / 1024, 1),
                      "peak_rss_after_batched_read_mb": round(read_kb / 1024, 1)}))  # fmt: skip


def memory(base_records: int, factors: list[int]) -> list[dict]:
    from ecgzoo.datasets import mitbih

    src = mitbih.default_db_dir()
    names = mitbih.list_records(src)[:base_records]
    rows = []
    for factor in factors:
        with tempfile.TemporaryDirectory() as tmp:
            recs = _replicate(src, names, factor, Path(tmp) / "db")
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, __file__, "_child", str(Path(tmp) / "db"), str(Path(tmp) / "c"),
                 *recs],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            info = json.loads(proc.stdout.strip().splitlines()[-1])
            row = {"factor": factor, "records": len(recs), **info,
                   "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2], sys.argv[4:], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--databases", nargs="+", default=["mitdb", "svdb", "cinc2017", "cinc2021"])
    s.add_argument("--repeats", type=int, default=1)
    m = sub.add_parser("memory")
    m.add_argument("--base-records", type=int, default=12)
    m.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    if args.what == "speed":
        speed(args.databases, args.repeats)
    else:
        memory(args.base_records, args.factors)


if __name__ == "__main__":
    main()
