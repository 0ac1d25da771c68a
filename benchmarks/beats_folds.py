"""Issue 19, session 2: DS1 fold selection. Joins the fold models ``ROW_sSEED_f0..f{k-1}`` of
`FOLDS=k scripts/beats_ablation.sh` into fold ensembles (``ecgzoo ensemble --operating-point
sv_f1``: decision weights chosen on the out-of-fold DS1 predictions) and prints, per candidate,
the out-of-fold DS1 figures at argmax and at the chosen weights, then the candidate the rule
written in docs/notes/beats.md picks (highest mean of OOF SVEB F1 and VEB F1 at the chosen
weights; a tie within 0.005 goes to the earlier candidate). Only the ``val_out_of_fold``
blocks are read: the ensembles' ``test`` (DS2) figures are never printed or used here.

    python benchmarks/beats_folds.py RUNS_DIR "ROW ..." SEED [--folds 4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecgzoo.train.ensemble import join_runs

TIE = 0.005


def oof_figures(block: dict) -> dict[str, float]:
    rows = {r["class"]: r for r in block["aami"]}
    out = {"acc": block["accuracy"]}
    for cls in ("S", "V"):
        for m in ("Se", "+P", "F1"):
            out[f"{cls} {m}"] = rows[cls][m]
    out["mean S/V F1"] = (out["S F1"] + out["V F1"]) / 2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("rows")
    ap.add_argument("seed", type=int)
    ap.add_argument("--folds", type=int, default=4)
    args = ap.parse_args()
    ens_dir = args.runs / "ens"
    results = {}
    for row in args.rows.split():
        out = ens_dir / f"{row}_s{args.seed}"
        if not (out / "metrics.json").is_file():
            members = [args.runs / f"{row}_s{args.seed}_f{k}" for k in range(args.folds)]
            join_runs(members, out, operating_point="sv_f1")
        metrics = json.loads((out / "metrics.json").read_text())
        results[row] = (
            oof_figures(metrics["val_out_of_fold_argmax"]),
            oof_figures(metrics["val_out_of_fold"]),
            metrics["operating_point"]["weights"],
            metrics["n_val_out_of_fold"],
        )
    cols = ["acc", "S Se", "S +P", "S F1", "V Se", "V +P", "V F1", "mean S/V F1"]
    print(f"| candidate | rule | n | {' | '.join(cols)} | weights N/S/V/F/Q |")
    print("|---" * (len(cols) + 4) + "|")
    for row, (argmax, chosen, weights, n) in results.items():
        w = "/".join(f"{v:.3g}" for v in weights.values())
        for name, fig in (("argmax", argmax), ("sv_f1", chosen)):
            cells = " | ".join(f"{fig[c]:.3f}" for c in cols)
            print(f"| {row} | {name} | {n} | {cells} | {w if name == 'sv_f1' else '-'} |")
    best = None
    for row, (_, chosen, _, _) in results.items():  # in the order written down
        if best is None or chosen["mean S/V F1"] > results[best][1]["mean S/V F1"] + TIE:
            best = row
    print(f"\nselected (max OOF mean S/V F1 at sv_f1, ties within {TIE} to the earlier): {best}")


if __name__ == "__main__":
    main()
