"""Issue 19: the ablation table of `scripts/beats_ablation.sh` runs (DS2 test split, reference
R peaks): mean +- sd over the seeds found of accuracy, SVEB and VEB Se / +P / F1; with
``--eval`` the table of `benchmarks/beats_eval.py` outputs (DS2 / SVDB, reference / end to end).

    python benchmarks/beats_table.py RUNS_DIR [ROW ...]
    python benchmarks/beats_table.py --eval EVAL.json ...
    python benchmarks/beats_table.py --eval-mean EVAL.json ...   (one row per test: mean +- sd)
    python benchmarks/beats_table.py --eval-rows EVAL_DIR [ROW ...]  (ROW_sN.json: a row per
        lever, test and peaks, mean +- sd over the seeds found)
    python benchmarks/beats_table.py --per-record EVAL.json ...  (DS2, reference peaks: S and V
        TP / FP / FN per record, one value per file, "/"-separated)
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


KEYS = ("ds2_ref", "ds2_e2e", "svdb_ref", "svdb_e2e")


def cell(values: list[float]) -> str:
    v = np.array(values, dtype=float)
    return f"{v.mean():.3f}" + (f" +- {v.std(ddof=1):.3f}" if len(v) > 1 else "")


def eval_rows(folder: str, wanted: list[str]) -> None:
    """One line per (row, database, peaks): mean +- sd over the seeds' eval files."""
    found: dict[str, dict[int, dict]] = defaultdict(dict)
    for path in sorted(Path(folder).glob("*_s*.json")):
        m = re.fullmatch(r"(.+)_s(\d+)", path.stem)
        if m:
            found[m.group(1)][int(m.group(2))] = json.loads(path.read_text())
    print("| row | test | peaks | seeds | acc | S Se | S +P | S F1 | V Se | V +P | V F1 |")
    print("|---" * 11 + "|")
    metrics = [("accuracy", None)] + [(c, m) for c in ("sveb", "veb") for m in ("Se", "+P", "F1")]
    for row in wanted or ORDER:
        for key in KEYS:
            runs = {s: d[key] for s, d in sorted(found.get(row, {}).items()) if key in d}
            if not runs:
                continue
            rs = list(runs.values())
            cells = [cell([r[c] if m is None else r[c][m] for r in rs]) for c, m in metrics]
            db, peaks = key.split("_")
            seeds = ",".join(map(str, runs))
            print(f"| {row} | {db} | {peaks} | {seeds} | " + " | ".join(cells) + " |")


def per_record(paths: list[str]) -> None:
    """DS2 with reference peaks: per record S and V TP / FP / FN, one value per file."""
    data = [json.loads(Path(p).read_text())["ds2_ref"]["per_record"] for p in paths]
    print("| record | S | S TP | S FP | S FN | V | V TP | V FP | V FN |")
    print("|---" * 9 + "|")
    for rec in sorted(data[0], key=int):
        rows = [d[rec] for d in data]

        def joined(f, rows=rows) -> str:
            return " / ".join(str(f(r)) for r in rows)

        s, v = rows[0]["S"], rows[0]["V"]
        cells = [
            str(s), joined(lambda r: r["S_tp"]), joined(lambda r: r["S_fp"]),
            joined(lambda r: r["S"] - r["S_tp"]), str(v), joined(lambda r: r["V_tp"]),
            joined(lambda r: r["V_fp"]), joined(lambda r: r["V"] - r["V_tp"]),
        ]  # fmt: skip
        print(f"| {rec} | " + " | ".join(cells) + " |")


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
    if sys.argv[1] == "--eval-rows":
        eval_rows(sys.argv[2], sys.argv[3:])
        return
    if sys.argv[1] == "--per-record":
        per_record(sys.argv[2:])
        return
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
