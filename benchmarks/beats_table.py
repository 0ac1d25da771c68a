"""Issue 19: the ablation table of `scripts/beats_ablation.sh` runs (DS2 test split, reference
R peaks): mean +- sd over the seeds found of accuracy, SVEB and VEB Se / +P / F1; with
``--eval`` the table of `benchmarks/beats_eval.py` outputs (DS2 / SVDB, reference / end to end).

    python benchmarks/beats_table.py RUNS_DIR [ROW ...]
    python benchmarks/beats_table.py --eval EVAL.json ...
    python benchmarks/beats_table.py --eval-mean EVAL.json ...   (one row per test: mean +- sd)
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ORDER = [
    "full", "no_weights", "keep_q", "holdout", "rr_context", "no_median", "no_align", "no_shift",
    "resnet_trunk", "resnet_poskeep",
]  # fmt: skip


def figures(metrics: dict) -> dict[str, float]:
    rows = {r["class"]: r for r in metrics["test"]["aami"]}
    out = {"acc": metrics["test"]["accuracy"]}
    for cls in ("S", "V"):
        for m in ("Se", "+P", "F1"):
            out[f"{cls} {m}"] = rows[cls][m]
    return out


def eval_table(paths: list[str]) -> None:
    """One row per (file, database, peaks): accuracy, SVEB and VEB Se / +P / F1."""
    head = "| model | adapt | test | peaks | acc | S Se | S +P | S F1 | V Se | V +P | V F1 |"
    print(head + " 232: S TP/S (S FP, V FP) |")
    print("|---" * 12 + "|")
    for path in paths:
        d = json.loads(Path(path).read_text())
        for key in ("ds2_ref", "ds2_e2e", "svdb_ref", "svdb_e2e"):
            if key not in d:
                continue
            r = d[key]
            db, peaks = key.split("_")
            cells = [r["accuracy"]] + [r[c][m] for c in ("sveb", "veb") for m in ("Se", "+P", "F1")]
            text = " | ".join("-" if v is None else f"{v:.3f}" for v in cells)
            name = Path(d["run"]).name
            rec = r.get("record_232")
            r232 = f"{rec['S_tp']}/{rec['S']} ({rec['S_fp']}, {rec['V_fp']})" if rec else "-"
            print(f"| {name} | {d['adapt']} | {db} | {peaks} | {text} | {r232} |")


def eval_mean(paths: list[str]) -> None:
    """Mean +- sd over the files (seeds) of each (database, peaks) row."""
    data = [json.loads(Path(p).read_text()) for p in paths]
    print("| test | peaks | n | acc | S Se | S +P | S F1 | V Se | V +P | V F1 |")
    print("|---" * 10 + "|")
    for key in ("ds2_ref", "ds2_e2e", "svdb_ref", "svdb_e2e"):
        rows = [d[key] for d in data if key in d]
        if not rows:
            continue
        cells = []
        keys = [("accuracy", None)] + [(c, m) for c in ("sveb", "veb") for m in ("Se", "+P", "F1")]
        for c, m in keys:
            v = np.array([r[c] if m is None else r[c][m] for r in rows], dtype=float)
            sd = f" +- {v.std(ddof=1):.3f}" if len(v) > 1 else ""
            cells.append(f"{v.mean():.3f}{sd}")
        db, peaks = key.split("_")
        print(f"| {db} | {peaks} | {len(rows)} | " + " | ".join(cells) + " |")


def main() -> None:
    if sys.argv[1] == "--eval-mean":
        eval_mean(sys.argv[2:])
        return
    if sys.argv[1] == "--eval":
        eval_table(sys.argv[2:])
        return
    root = Path(sys.argv[1])
    wanted = sys.argv[2:] or ORDER
    runs: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for path in sorted(root.glob("*_s*/metrics.json")):
        m = re.fullmatch(r"(.+)_s(\d+)", path.parent.name)
        if m:
            runs[m.group(1)].append((int(m.group(2)), figures(json.loads(path.read_text()))))
    cols = ["acc", "S Se", "S +P", "S F1", "V Se", "V +P", "V F1"]
    print("| row | seeds | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for row in wanted:
        if row not in runs:
            continue
        seeds = sorted(s for s, _ in runs[row])
        cells = []
        for c in cols:
            v = np.array([f[c] for _, f in runs[row]], dtype=float)
            sd = f" +- {v.std(ddof=1):.3f}" if len(v) > 1 else ""
            cells.append(f"{v.mean():.3f}{sd}")
        print(f"| {row} | {','.join(map(str, seeds))} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
