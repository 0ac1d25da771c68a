"""Seeds of an ``ecgzoo scale`` grid pooled: per point and per axis (D, C, K), overall, per label.

Reads the ``results.json`` of sweeps that differ only in ``train.seed`` and prints markdown:

- per point: test macro AUROC, mean and sample standard deviation over the seeds;
- per axis: for each pair of grid points that differ only in that axis (same other axes, same
  seed), the change of the test figure from the smaller to the larger value; the mean change and
  how many pairs improved, overall and per label (``test_auroc_<label>``).

Usage::

    python benchmarks/ptbxl_scale_summary.py runs/scale/ptbxl-rhythm-s{0,1,2}
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
from pathlib import Path

AXES = {"D": 0, "C": 1, "K": 2, "pooling": 3}
POINT = re.compile(r"^d(\d+)-c(\d+)-k(\d+)-(\w+)$")


def load(folders: list[Path]) -> dict[int, dict[tuple, dict]]:
    """``{seed index: {(d, c, k, pooling): record}}`` of the finished points."""
    out = {}
    for s, folder in enumerate(folders):
        points = json.loads((folder / "results.json").read_text())["points"]
        out[s] = {}
        for pid, rec in points.items():
            m = POINT.match(pid)
            if m and rec.get("status") == "ok":
                out[s][(int(m[1]), int(m[2]), int(m[3]), m[4])] = rec
    return out


def fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f} (n={len(values)})"


def axis_pairs(runs: dict, axis: int, key: str) -> list[float]:
    """Changes of ``key`` from the smaller to the larger value of ``axis`` (others equal)."""
    deltas = []
    for recs in runs.values():
        for point, rec in recs.items():
            for other, rec2 in recs.items():
                same = all(point[i] == other[i] for i in range(4) if i != axis)
                if same and point[axis] < other[axis] and key in rec and key in rec2:
                    deltas.append(rec2[key] - rec[key])
    return deltas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", type=Path, nargs="+")
    args = ap.parse_args()
    runs = load(args.folders)
    points = sorted({p for recs in runs.values() for p in recs})
    with open(args.folders[0] / "table.csv", newline="") as fh:  # the sweep's own scale columns
        scale = {r["point"]: r for r in csv.DictReader(fh)}
    print("| point | params | RF s | test macro AUROC (mean ± sd over seeds) | val macro AUROC |")
    print("|---|---|---|---|---|")
    for p in points:
        recs = [runs[s][p] for s in runs if p in runs[s]]
        test = [r["test_macro_auroc"] for r in recs if "test_macro_auroc" in r]
        val = [r["val_macro_auroc"] for r in recs if "val_macro_auroc" in r]
        pid = f"d{p[0]}-c{p[1]}-k{p[2]}-{p[3]}"
        info = scale.get(pid, {})
        cost = f"{info.get('params')} | {info.get('rf_seconds')}"
        print(f"| {pid} | {cost} | {fmt(test)} | {fmt(val)} |")
    means = [
        (float(scale[f"d{p[0]}-c{p[1]}-k{p[2]}-{p[3]}"]["rf_seconds"]),
         statistics.mean(runs[s][p]["test_macro_auroc"] for s in runs if p in runs[s]))
        for p in points if f"d{p[0]}-c{p[1]}-k{p[2]}-{p[3]}" in scale
    ]  # fmt: skip
    if len(means) > 2:
        from scipy.stats import spearmanr

        rho = spearmanr([m[0] for m in means], [m[1] for m in means]).statistic
        print(f"\nSpearman rank correlation, receptive field vs mean test macro AUROC: {rho:+.2f}")
    labels = sorted(
        {k[len("test_auroc_") :] for recs in runs.values() for r in recs.values() for k in r
         if k.startswith("test_auroc_")}
    )  # fmt: skip
    print()
    keys = ["test_macro_auroc"] + [f"test_auroc_{lab}" for lab in labels]
    print("| axis (small -> large) | " + " | ".join(k.replace("test_", "") for k in keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, axis in AXES.items():
        values = sorted({p[axis] for p in points})
        if len(values) < 2:  # an axis the grid does not vary
            continue
        cells = []
        for key in keys:
            d = axis_pairs(runs, axis, key)
            up = sum(x > 0 for x in d)
            cells.append(f"{statistics.mean(d):+.3f} ({up}/{len(d)} up)" if d else "n/a")
        print(f"| {name} {values[0]} -> {values[-1]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
