"""Re-score the AAMI EC57 tables of run folders' ``metrics.json`` with today's scorer (issue 19,
session 18: EC57's fusion rule, ``docs/notes/beats18.md``), from the confusion matrix each
block already holds: nothing is predicted again.

    python benchmarks/ec57_rescore.py RUN_OR_METRICS_JSON ... [--write]

Prints, per block holding ``aami``, ``confusion_matrix`` and ``class_names``, the VEB +P and F1
before and after. With ``--write`` each file is rewritten through a temporary file and a rename.
A block whose other figures need the predictions (``per_record``, ``without_*``) is named, and
left as it is unless ``--evaluate`` is given: then the ``test`` block's are taken from
``ecgzoo evaluate RUN --json`` (today's scorer), which must reproduce its confusion matrix.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ecgzoo.metrics.aami import aami_table


def rescored_blocks(metrics: dict[str, Any]) -> list[tuple[str, dict, list[dict], list[str]]]:
    """``(key, block, new aami table, keys needing predictions)`` for each scorable block."""
    out = []
    for key, block in metrics.items():
        if not isinstance(block, dict) or not {"aami", "confusion_matrix"} <= set(block):
            continue
        names = block.get("class_names") or metrics.get("class_names")
        table = aami_table(block["confusion_matrix"], names)
        stale = [k for k in block if k == "per_record" or k.startswith("without_")]
        out.append((key, block, table, stale))
    return out


def evaluated_test(run: Path) -> dict[str, Any]:
    """``ecgzoo evaluate RUN --json`` (the run's test split) as a dict."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "ecgzoo", "evaluate", str(run), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{run}: ecgzoo evaluate failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


def write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--evaluate", action="store_true", help="re-score per_record, without_*")
    args = ap.parse_args()
    for given in args.paths:
        path = given / "metrics.json" if given.is_dir() else given
        metrics = json.loads(path.read_text())
        for key, block, table, stale in rescored_blocks(metrics):
            old = {r["class"]: r for r in block["aami"]}["V"]
            new = {r["class"]: r for r in table}["V"]
            print(
                f"{path} [{key}] VEB +P {old['+P']:.4f} -> {new['+P']:.4f}, "
                f"F1 {old['F1']:.4f} -> {new['F1']:.4f} ({new['uncounted']} F beats called V)"
                + (f"; not re-scored: {', '.join(stale)}" if stale else "")
            )
            block["aami"] = table
            if stale and args.evaluate and key == "test":
                fresh = evaluated_test(path.parent)
                if fresh["confusion_matrix"] != block["confusion_matrix"]:
                    raise SystemExit(f"{path}: evaluate does not reproduce the test confusion")
                block.update({k: fresh[k] for k in stale})
                print(f"{path} [{key}] re-scored from evaluate: {', '.join(stale)}")
        if args.write:
            write_json(path, metrics)


if __name__ == "__main__":
    main()
