"""Narrowed against broad search on PTB-XL (issue 20): the table of ``ecgzoo tune`` experiments.

For each ``LABEL=EXPERIMENT_DIR`` (an ``ecgzoo tune --output`` folder) and, optionally, extra
seeds of its chosen configuration (``--seeds LABEL=RUN_DIR ...``, ``ecgzoo train`` run folders
of ``results/best_config.yaml`` with other ``train.seed``), prints:

- one row per search: trials completed / stopped by ASHA, wall seconds, the trial chosen on the
  **validation** fold (the search's own ``best_config.yaml``: the completed trial with the best
  validation macro AUROC), its scale, its validation and **test** macro AUROC, and the test macro
  AUROC of the chosen configuration over the seeds (mean +- sd, n);
- every trial's scale, epochs run, best validation macro AUROC and, where it completed, its
  test macro AUROC (test figures are reported, never used to choose).

Run::

    python benchmarks/ptbxl_search_summary.py broad=runs/tune/ptbxl-broad \\
        narrowed=runs/tune/ptbxl-narrow --seeds broad=runs/ptbxl-search-seeds/broad-s1 ...
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import yaml


def scale_of(config: dict) -> str:
    p = config["model"]["params"]
    pool = "GAP" if p.get("global_pool", True) else "flatten"
    lr, drop = config["train"]["lr"], p.get("dropout", 0.1)
    scale = f"D {p['n_blocks']}, C {p['width']}, K {p['kernel']}, {pool}"
    return f"{scale}, dropout {drop:.2f}, lr {lr:.4f}"


def trial_rows(experiment: Path) -> list[dict]:
    """Every trial folder: its config, best validation and (completed) test macro AUROC."""
    rows = []
    for folder in sorted((experiment / "trials").iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():  # run locks
            continue
        config = yaml.safe_load((folder / "config.yaml").read_text())
        with (folder / "history.csv").open(newline="") as fh:
            history = list(csv.DictReader(fh))
        vals = [float(r["val_macro_auroc"]) for r in history if r.get("val_macro_auroc")]
        metrics_file = folder / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
        rows.append(
            {
                "trial": folder.name,
                "scale": scale_of(config),
                "epochs": len(history),
                "val": max(vals) if vals else float("nan"),
                "test": metrics["test"]["macro_auroc"] if metrics else None,
                "completed": metrics is not None,
            }
        )
    return rows


def test_auroc(run: Path) -> float:
    return float(json.loads((run / "metrics.json").read_text())["test"]["macro_auroc"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("searches", nargs="+", help="LABEL=EXPERIMENT_DIR")
    ap.add_argument("--seeds", nargs="*", default=[], help="LABEL=RUN_DIR of another seed")
    args = ap.parse_args()
    seeds: dict[str, list[Path]] = {}
    for item in args.seeds:
        label, run = item.split("=", 1)
        seeds.setdefault(label, []).append(Path(run))
    print(
        "| search | trials (completed / stopped) | wall s | chosen trial (on val) | its scale "
        "| val macro AUROC | **test macro AUROC** | test, chosen config over seeds |"
    )
    print("|---|---|---|---|---|---|---|---|")
    details = []
    for item in args.searches:
        label, folder = item.split("=", 1)
        experiment = Path(folder)
        rows = trial_rows(experiment)
        overhead = json.loads((experiment / "results" / "overhead.json").read_text())
        done = [r for r in rows if r["completed"]]
        best = max(done, key=lambda r: r["val"])
        tests = [best["test"]] + [test_auroc(run) for run in seeds.get(label, [])]
        sd = np.std(tests, ddof=1) if len(tests) > 1 else 0.0
        over = f"{np.mean(tests):.3f} ± {sd:.3f} (n={len(tests)})"
        wall = overhead["wall_seconds"]
        print(
            f"| {label} | {len(rows)} ({len(done)} / {len(rows) - len(done)}) | {wall:.0f} "
            f"| {best['trial']} | {best['scale']} | {best['val']:.3f} | **{best['test']:.3f}** "
            f"| {over}: {' / '.join(f'{t:.3f}' for t in tests)} |"
        )
        details.append((label, rows))
    for label, rows in details:
        print(f"\n{label}, every trial (best val macro AUROC; test where completed):\n")
        for r in sorted(rows, key=lambda r: -r["val"]):
            test = f"test {r['test']:.3f}" if r["completed"] else "stopped by ASHA"
            print(f"- {r['scale']}: {r['epochs']} epoch(s), val {r['val']:.3f}, {test}")


if __name__ == "__main__":
    main()
