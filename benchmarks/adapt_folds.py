"""Issue 19, round N (docs/notes/beats10.md): pool ``adapt_dev.py --round 3`` results over the
SVDB folds and choose the adaptation.

Each input is one ``adapt_dev.py`` output whose ``per_run`` rows come from runs named
``..._fK_sGROUP`` (fold K, seed group GROUP). A candidate's figure is the mean over groups of
(SVEB F1 + VEB F1) / 2 of the group's counts pooled over its folds. ``--lofo`` adds the honest
figure of the choice itself: for each fold, the candidate is chosen on the other folds and
scored on it; the left-out folds' counts are pooled.

    python benchmarks/adapt_folds.py /work/runs10/dev_*.json [--lofo]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

RUN = re.compile(r"_f(\d+)_s(\w+)$")


def add(a: dict | None, b: dict) -> dict:
    """The sum of two ``adapt_dev.counts`` dicts (``a`` may be ``None``)."""
    if a is None:
        return json.loads(json.dumps(b))
    return {
        "n": a["n"] + b["n"],
        "correct": a["correct"] + b["correct"],
        **{c: [x + y for x, y in zip(a[c], b[c], strict=True)] for c in ("S", "V")},
    }


def f1(k: dict, cls: str) -> float:
    true, called, hit = k[cls]
    return 2 * hit / max(true + called, 1)


def load(paths: list[str]) -> tuple[list[tuple[str, dict]], dict]:
    """Candidates ``(method, params)`` and counts ``{group: {fold: [counts per candidate]}}``."""
    cands: list[tuple[str, dict]] | None = None
    table: dict[str, dict[int, list[dict]]] = defaultdict(dict)
    for path in paths:
        out = json.loads(Path(path).read_text())
        these = [(r["method"], r["params"]) for r in out["rows"]]
        if cands is not None and these != cands:
            raise SystemExit(f"{path}: other candidates than the first file's")
        cands = these
        for row in out["per_run"]:
            m = RUN.search(Path(row["run"]).name)
            if m is None:
                raise SystemExit(f"{path}: run {row['run']} is not named ..._fK_sGROUP")
            table[m.group(2)][int(m.group(1))] = row["counts"]
    return cands or [], dict(table)


def pooled(table: dict, folds_of: dict[str, list[int]], i: int) -> dict[str, dict]:
    """Candidate ``i``'s counts per group, pooled over ``folds_of[group]``."""
    out = {}
    for group, folds in folds_of.items():
        total = None
        for k in folds:
            total = add(total, table[group][k][i])
        out[group] = total
    return out


def figure(per_group: dict[str, dict]) -> float:
    return float(np.mean([(f1(k, "S") + f1(k, "V")) / 2 for k in per_group.values()]))


def summary(per_group: dict[str, dict]) -> str:
    s = [f1(k, "S") for k in per_group.values()]
    v = [f1(k, "V") for k in per_group.values()]
    acc = [k["correct"] / k["n"] for k in per_group.values()]
    return (
        f"{np.mean(s):.3f} ± {np.std(s, ddof=1) if len(s) > 1 else 0:.3f} | "
        f"{np.mean(v):.3f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.3f} | "
        f"{np.mean(acc):.3f} | {figure(per_group):.3f}"
    )


def name(cand: tuple[str, dict]) -> str:
    method, params = cand
    return method + ("" if not params else " " + " ".join(f"{k}={v}" for k, v in params.items()))


def lofo(table: dict, cands: list) -> tuple[dict[str, dict], list[str]]:
    """Counts per group of the leave-one-fold-out choice, and the candidate chosen per fold."""
    folds = sorted({k for g in table.values() for k in g})
    total: dict[str, dict | None] = {g: None for g in table}
    chosen = []
    for left in folds:
        rest = {g: [k for k in folds if k != left] for g in table}
        best = max(range(len(cands)), key=lambda i: figure(pooled(table, rest, i)))
        chosen.append(name(cands[best]))
        for g in table:
            total[g] = add(total[g], table[g][left][best])
    return total, chosen  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--lofo", action="store_true")
    args = ap.parse_args()
    cands, table = load(args.files)
    folds_of = {g: sorted(f) for g, f in table.items()}
    print(f"groups: {', '.join(f'{g} (folds {v})' for g, v in folds_of.items())}")
    print("| candidate | SVEB F1 | VEB F1 | acc | (S + V) / 2 |\n|---|---|---|---|---|")
    rows = [(figure(pooled(table, folds_of, i)), i) for i in range(len(cands))]
    for _, i in sorted(rows, reverse=True):
        print(f"| {name(cands[i])} | {summary(pooled(table, folds_of, i))} |")
    if args.lofo:
        total, chosen = lofo(table, cands)
        print(f"\nleave one fold out: chosen per fold {chosen}")
        print(f"| leave-one-fold-out choice | {summary(total)} |")


if __name__ == "__main__":
    main()
