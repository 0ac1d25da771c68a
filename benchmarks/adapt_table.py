"""Issue 19, label-free adaptation: tables of `benchmarks/beats_eval.py --adapt a,b,...` outputs
(``DIR/NAME.ADAPT.json``), for docs/notes/adapt.md.

    python benchmarks/adapt_table.py mean DIR NAME... [--adapts none,adabn,...]
        one row per adaptation and (database, peaks): mean +- sd over the NAMEs (seeds)
    python benchmarks/adapt_table.py records DIR NAME [--adapts ...] [--db ds2] [--peaks ref]
        per record: S and V beats, and each adaptation's S TP / S FP and V TP / V FP
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ADAPTS = "none,adabn,prior_em,cluster,self_train"
KEYS = ("ds2_ref", "ds2_e2e", "svdb_ref", "svdb_e2e")


def load(folder: str, name: str, adapt: str) -> dict:
    path = Path(folder) / f"{name}.{adapt}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def mean_table(folder: str, names: list[str], adapts: list[str]) -> None:
    print("| adapt | test | peaks | n | acc | S Se | S +P | S F1 | V Se | V +P | V F1 |")
    print("|---" * 11 + "|")
    for key in KEYS:
        for adapt in adapts:
            rows = [d[key] for d in (load(folder, n, adapt) for n in names) if key in d]
            if not rows:
                continue
            cells = []
            for c, m in [("accuracy", None)] + [(c, m) for c in ("sveb", "veb")
                                                 for m in ("Se", "+P", "F1")]:  # fmt: skip
                v = np.array([r[c] if m is None else r[c][m] for r in rows], dtype=float)
                sd = f" +- {v.std(ddof=1):.3f}" if len(v) > 1 else ""
                cells.append(f"{v.mean():.3f}{sd}")
            db, peaks = key.split("_")
            print(f"| {adapt} | {db} | {peaks} | {len(rows)} | " + " | ".join(cells) + " |")


def records_table(folder: str, name: str, adapts: list[str], db: str, peaks: str) -> None:
    data = {a: load(folder, name, a)[f"{db}_{peaks}"]["per_record"] for a in adapts}
    print("| record | S | V | " + " | ".join(f"{a} S TP/FP, V TP/FP" for a in adapts) + " |")
    print("|---" * (3 + len(adapts)) + "|")
    for rec, row in data[adapts[0]].items():
        cells = [f"{data[a][rec]['S_tp']}/{data[a][rec]['S_fp']}, "
                 f"{data[a][rec]['V_tp']}/{data[a][rec]['V_fp']}" for a in adapts]  # fmt: skip
        print(f"| {rec} | {row['S']} | {row['V']} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["mean", "records"])
    ap.add_argument("folder")
    ap.add_argument("names", nargs="+")
    ap.add_argument("--adapts", default=ADAPTS)
    ap.add_argument("--db", default="ds2")
    ap.add_argument("--peaks", default="ref")
    args = ap.parse_args()
    adapts = args.adapts.split(",")
    if args.mode == "mean":
        mean_table(args.folder, args.names, adapts)
    else:
        records_table(args.folder, args.names[0], adapts, args.db, args.peaks)


if __name__ == "__main__":
    main()
