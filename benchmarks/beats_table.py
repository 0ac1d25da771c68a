"""Issue 19: the ablation table of `scripts/beats_ablation.sh` runs (DS2 test split, reference
R peaks): mean +- sd over the seeds found of accuracy, SVEB and VEB Se / +P / F1.

    python benchmarks/beats_table.py RUNS_DIR [ROW ...]
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


def main() -> None:
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
