"""Issue 19: choose the parameters of the ``cluster`` and ``self_train`` adaptations on
development records. Rounds 1 and 2 (MIT-BIH DS1 only): each model RUN_K was trained on DS1
without record-wise fold K of N (``data.mitbih.inter_validation=fold``); its held-out DS1 records
are adapted record by record through ``evaluate --data``'s path (``cnn_beats`` +
``record_probabilities``), and the predictions of all folds are pooled (out of fold over DS1).
Round 3 (``--round 3``, notes/beats10.md): each RUN was trained with
``data.mitbih.extra_test_fold`` (DS1 + 39 SVDB records) and is adapted on the 13 SVDB records of
its fold. No DS2 record is read in any round.

    python benchmarks/adapt_dev.py OUT.json RUN_0 RUN_1 ... [--round 3]
    python benchmarks/adapt_dev.py --table OUT.json     (the markdown table of OUT.json)

Writes, per candidate (method and parameters), pooled accuracy and SVEB / VEB Se, +P, F1, and
per run (``per_run``) each candidate's counts, so folds can be pooled in any grouping
(``benchmarks/adapt_folds.py``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ecgzoo.datasets.splits import DS1

CLUSTER_GRID = {"k": [4, 8, 16], "smooth": [0.5, 1.0], "anchor": [False, True],
                "premature": [None, 0.9, 1.0]}  # fmt: skip
SELF_GRID = {"threshold": [0.9, 0.99], "steps": [10, 40]}
# round 3 (docs/notes/beats10.md): self_train with rounds of pseudo-labelling, on SVDB folds
ROUND3_SELF = {"threshold": [0.9, 0.99], "steps": [40, 160], "rounds": [1, 2]}
# round 2 (docs/notes/adapt.md): around round 1's choice, the RR gate and promotion
ROUND2_GRID = {"k": [4], "smooth": [1.0], "anchor": [False], "premature": [0.8, 0.85, 0.9],
               "promote": [None, 0.1, 0.2]}  # fmt: skip


def fold_records(n_folds: int, fold: int, seed: int) -> list[str]:
    """The DS1 records of fold ``fold``, dealt as ``datasets.mitbih.inter_validation`` does."""
    records = np.random.default_rng(seed).permutation(np.unique(np.asarray(DS1, dtype=str)))
    return [str(r) for r in records[fold::n_folds]]


def counts(y: np.ndarray, pred: np.ndarray, names: list[str]) -> dict:
    """Beats, correct beats, and per class S / V: true, called, both (poolable)."""
    out = {"n": len(y), "correct": int(np.sum(y == pred))}
    for cls in ("S", "V"):
        c = names.index(cls)
        hit = int(np.sum((y == c) & (pred == c)))
        out[cls] = [int(np.sum(y == c)), int(np.sum(pred == c)), hit]
    return out


def scores_from_counts(k: dict) -> dict:
    out = {"n": k["n"], "accuracy": k["correct"] / max(k["n"], 1)}
    for cls in ("S", "V"):
        true, called, tp = k[cls]
        se, pp = tp / max(true, 1), tp / max(called, 1)
        out[cls] = {"Se": se, "+P": pp, "F1": 2 * se * pp / max(se + pp, 1e-12)}
    out["mean_f1"] = (out["S"]["F1"] + out["V"]["F1"]) / 2
    return out


def scores(y: np.ndarray, pred: np.ndarray, names: list[str]) -> dict:
    return scores_from_counts(counts(y, pred, names))


def candidates(round_: int = 1) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = [("none", {}), ("prior_em", {}), ("adabn", {})]
    if round_ == 3:
        return [
            ("none", {}), ("prior_em", {}), ("cluster", {}),
            *(("self_train", dict(zip(ROUND3_SELF, v, strict=True)))
              for v in itertools.product(*ROUND3_SELF.values())),
        ]  # fmt: skip
    if round_ == 2:
        grid = ROUND2_GRID.values()
        return out + [
            ("cluster", dict(zip(ROUND2_GRID, v, strict=True))) for v in itertools.product(*grid)
        ]
    for vals in itertools.product(*CLUSTER_GRID.values()):
        out.append(("cluster", dict(zip(CLUSTER_GRID, vals, strict=True))))
    for vals in itertools.product(*SELF_GRID.values()):
        out.append(("self_train", dict(zip(SELF_GRID, vals, strict=True))))
    return out


def table(path: str) -> None:
    print("| method | parameters | acc | S Se | S +P | S F1 | V Se | V +P | V F1 | mean S/V F1 |")
    print("|---" * 10 + "|")
    for r in json.loads(Path(path).read_text())["rows"]:
        cells = [r["accuracy"]] + [r[c][m] for c in ("S", "V") for m in ("Se", "+P", "F1")]
        text = " | ".join(f"{v:.3f}" for v in [*cells, r["mean_f1"]])
        params = " ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"
        print(f"| {r['method']} | {params} | {text} |")


def main() -> None:
    if sys.argv[1] == "--table":
        table(sys.argv[2])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--round", type=int, default=1, dest="round_")
    args = ap.parse_args()
    from beats_eval import MITDB, held_out_svdb, linked_folder, svdb_folder  # run as a script

    from ecgzoo.fetch.physionet import fetch
    from ecgzoo.models import adapt_record as ar
    from ecgzoo.models.adapt import adapted_model, prior_adjusted, standardised
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.runs.runfolder import read_run_config
    from ecgzoo.train.evaluate import predict_split
    from ecgzoo.train.external_beats import cnn_beats

    mit = Path(fetch("mitdb", "1.0.0", progress=False)) / MITDB
    cands = candidates(args.round_)
    pred: dict[int, list[np.ndarray]] = {i: [] for i in range(len(cands))}
    ys: list[np.ndarray] = []
    names: list[str] = []
    t0 = time.perf_counter()
    per_run = []
    for run_path in args.runs:
        if args.round_ == 3:  # the SVDB fold the run never saw
            held, source = held_out_svdb(run_path), svdb_folder()
            if held is None:
                sys.exit(f"{run_path}: --round 3 needs a run trained with extra_test_fold")
        else:
            cfg = read_run_config(Path(run_path))
            opts, seed = cfg.data.options, int(cfg.data.seed)
            held, source = fold_records(int(opts.n_val_folds), int(opts.val_fold), seed), mit
        run = load_run(Path(run_path))
        model, spec = run.model, run.spec
        names = list(spec.class_names)
        with tempfile.TemporaryDirectory() as tmp:
            folder = linked_folder(source, held, Path(tmp) / "d")
            split, skipped, recs, _ = cnn_beats(folder, run.input, None)
        print(run_path, "held out:", recs, "skipped:", skipped, flush=True)
        groups = np.asarray(split.groups)
        run_y: list[np.ndarray] = []
        run_pred: dict[int, list[np.ndarray]] = {i: [] for i in range(len(cands))}
        for g in np.unique(groups):
            part = split.subset(np.flatnonzero(groups == g))
            ys.append(np.asarray(part.y))
            run_y.append(np.asarray(part.y))
            base = predict_split(model, spec, part)
            for i, (method, params) in enumerate(cands):
                if method == "none":
                    p = base
                elif method == "prior_em":
                    p = prior_adjusted(base)
                elif method == "adabn":
                    p = predict_split(adapted_model(model, spec, part.x, part.features), spec, part)
                elif method == "cluster":
                    p = ar.cluster_adjusted(
                        base, part.x, part.features, spec.side_features, names, **params
                    )
                else:
                    side = standardised(part.features, spec)
                    p = ar.self_train_probabilities(
                        model, part.x, side, base,
                        lambda m, part=part, spec=spec: predict_split(m, spec, part), **params,
                    )  # fmt: skip
                pred[i].append(np.asarray(p).argmax(axis=1))
                run_pred[i].append(pred[i][-1])
        yr = np.concatenate(run_y)
        per_run.append({
            "run": run_path, "records": recs,
            "counts": [counts(yr, np.concatenate(run_pred[i]), names) for i in range(len(cands))],
        })  # fmt: skip
    y = np.concatenate(ys)
    rows = []
    for i, (method, params) in enumerate(cands):
        rows.append({"method": method, "params": params,
                     **scores(y, np.concatenate(pred[i]), names)})  # fmt: skip
    out = {"runs": args.runs, "seconds": time.perf_counter() - t0, "rows": rows,
           "per_run": per_run}  # fmt: skip
    Path(args.out).write_text(json.dumps(out, indent=1))
    for r in sorted(rows, key=lambda r: -r["mean_f1"])[:15]:
        print(r["method"], r["params"], round(r["accuracy"], 3),
              {c: {k: round(v, 3) for k, v in r[c].items()} for c in ("S", "V")},
              round(r["mean_f1"], 3))  # fmt: skip


if __name__ == "__main__":
    main()
