"""Fetch cost: ecgzoo's verified fetch against a bare unzip of the same archive, in one run.

For each database (a zip in the PhysioNet mirror), times, alternating within each repeat:

- ``bare``: ``zipfile.ZipFile.extractall`` of the mirror's zip into a fresh folder (no copy,
  no hashing), the floor any fetch pays;
- ``fetch``: ``ecgzoo.fetch.physionet.fetch`` into a fresh home (copy, SHA-256 of every file,
  safe unzip, member and pin checks, marker);
- ``ready``: a second ``fetch`` (the quick check: marker + one stat per file);
- ``verify``: ``verify_fetched`` (every file re-hashed).

    python benchmarks/fetch.py --mirror ../shared/data/physionet --databases mitdb svdb --repeats 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

from ecgzoo.fetch.catalog import get_database
from ecgzoo.fetch.physionet import fetch, verify_fetched


def _timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def _unzip(archive: Path, out: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, required=True)
    parser.add_argument("--databases", nargs="+", default=["mitdb", "svdb"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| database | bare unzip | fetch | ratio | ready check | full verify |")
    print("|---|---|---|---|---|---|")
    for name in args.databases:
        db = get_database(name)
        archive = args.mirror / db.name / db.version / db.files[0].name
        times: dict[str, list[float]] = {k: [] for k in ("bare", "fetch", "ready", "verify")}
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(dir=Path.cwd() / ".cache") as tmp:
                tmp_path = Path(tmp)
                home = tmp_path / "home"
                opts = {"home": home, "mirror": str(args.mirror), "progress": False}
                times["bare"].append(_timed(_unzip, archive, tmp_path / "bare"))
                shutil.rmtree(tmp_path / "bare")
                times["fetch"].append(_timed(fetch, name, **opts))
                times["ready"].append(_timed(fetch, name, **opts))
                times["verify"].append(_timed(verify_fetched, name, home=home))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"| {name} | {med['bare']:.2f} s | {med['fetch']:.2f} s | "
            f"{med['fetch'] / med['bare']:.2f}x | {med['ready'] * 1000:.0f} ms | "
            f"{med['verify']:.2f} s |"
        )


if __name__ == "__main__":
    main()
