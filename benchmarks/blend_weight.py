"""Round K (issue 19): the CNN + LightGBM blend's weight chosen out of fold on MIT-BIH.

``oof``: for each of the recipe's 4 record-wise folds over the 44 non-paced MIT-BIH records
(``mitbih.inter_validation`` with ``val_fold=k``, data seed 1), the fold's CNN run ``cnn_fK``
and LightGBM run ``lgb_fK`` (both trained on the other folds' records) predict the fold's
records at their reference beats, each through its own InputSpec; the CNN weight w in 0.0, 0.1,
..., 1.0 that maximises the mean of SVEB and VEB F1 over every out-of-fold beat (Q not scored)
is chosen. ``test``: SVDB (52), reference peaks, each CNN run averaged with the LightGBM at w and
at 1/2.

    python benchmarks/blend_weight.py folds K   # the fold's training records, a YAML list
    python benchmarks/blend_weight.py oof RUNS_DIR OUT.json
    python benchmarks/blend_weight.py test --cnn ENS ENS ENS --tree LGB --weight W OUT.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from beats_eval import MITDB, folders, from_reference, linked_folder

N_FOLDS = 4
DATA_SEED = 1  # configs/mitbih_inter_recipe.yaml's data.seed
WEIGHTS = np.round(np.arange(0.0, 1.01, 0.1), 1)


def fold_records(k: int) -> list[str]:
    """The MIT-BIH records of fold ``k``: the recipe's own record-wise fold (the library's
    ``inter_validation``) over the 44 records a ``test_database: svdb`` run trains on."""
    from ecgzoo.datasets.mitbih import inter_validation
    from ecgzoo.datasets.mitbih_options import MitbihOptions
    from ecgzoo.datasets.splits import DS1, DS2

    ids = np.array(sorted(int(r) for r in DS1 + DS2))
    opts = MitbihOptions(split="inter", inter_validation="fold", val_fold=k, n_val_folds=N_FOLDS)
    _, val = inter_validation(ids, np.zeros(len(ids), dtype=np.int64), opts, DATA_SEED)
    return [str(r) for r in ids[val]]


def sv_f1(y: np.ndarray, prob: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import f1_score

    scored = y != 4  # Q is not scored
    f1 = f1_score(y[scored], prob[scored].argmax(1), labels=[1, 2], average=None, zero_division=0)
    return float(f1[0]), float(f1[1])


def out_of_fold(runs: Path) -> dict[str, Any]:
    from ecgzoo.apply.blend import ModelBlend, member_probabilities
    from ecgzoo.apply.model import load_model
    from ecgzoo.fetch.physionet import fetch

    mit = Path(fetch("mitdb", "1.0.0", progress=False)) / MITDB
    ys, cnn, tree = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(N_FOLDS):
            folder = linked_folder(mit, fold_records(k), Path(tmp) / f"fold{k}")
            blend = ModelBlend([load_model(runs / f"cnn_f{k}"), load_model(runs / f"lgb_f{k}")])
            y, (p_cnn, p_tree), _, skipped = member_probabilities(blend, folder)
            if skipped:
                raise SystemExit(f"fold {k}: records skipped: {skipped}")
            ys.append(y), cnn.append(p_cnn), tree.append(p_tree)
    y, p_cnn, p_tree = np.concatenate(ys), np.concatenate(cnn), np.concatenate(tree)
    table = {float(w): sv_f1(y, w * p_cnn + (1 - w) * p_tree) for w in WEIGHTS}
    best = max(table.values(), key=lambda f: (f[0] + f[1]) / 2)
    tied = [w for w, f in table.items() if (f[0] + f[1]) / 2 == (best[0] + best[1]) / 2]
    weight = min(tied, key=lambda w: abs(w - 0.5))
    return {"n_beats": int(len(y)), "table": table, "weight": weight}


def test(cnn_runs: list[str], tree_run: str, weight: float) -> dict[str, Any]:
    from ecgzoo.apply.blend import ModelBlend, member_probabilities
    from ecgzoo.apply.model import load_model
    from ecgzoo.train.trees import inter_metrics

    tree = load_model(tree_run)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        svdb = folders(Path(tmp))["svdb"]
        for run in cnn_runs:
            blend = ModelBlend([load_model(run), tree])
            y, (p_cnn, p_tree), group, _ = member_probabilities(blend, svdb)
            rows = {}
            for w in sorted({weight, 0.5}):
                metrics = inter_metrics(y, w * p_cnn + (1 - w) * p_tree, group)
                rows[f"w={w}"] = from_reference(metrics, "822")
            out[run] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("folds")
    f.add_argument("k", type=int)
    o = sub.add_parser("oof")
    o.add_argument("runs", type=Path)
    o.add_argument("out", type=Path)
    t = sub.add_parser("test")
    t.add_argument("--cnn", nargs="+", required=True)
    t.add_argument("--tree", required=True)
    t.add_argument("--weight", type=float, required=True)
    t.add_argument("out", type=Path)
    args = ap.parse_args()
    if args.command == "folds":  # the records the fold's models train on
        held = set(fold_records(args.k))
        names = [r for k in range(N_FOLDS) for r in fold_records(k) if r not in held]
        print("[" + ",".join(f"'{r}'" for r in names) + "]")  # a YAML list of names
        return
    result = (
        out_of_fold(args.runs) if args.command == "oof" else test(args.cnn, args.tree, args.weight)
    )
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    if args.command == "oof":
        for w, (s, v) in result["table"].items():
            print(f"w={w}: SVEB F1 {s:.3f}, VEB F1 {v:.3f}, mean {(s + v) / 2:.3f}")
        print(f"chosen w = {result['weight']} over {result['n_beats']} out-of-fold beats")
    else:
        for run, rows in result.items():
            for w, m in rows.items():
                print(f"{run} {w}: SVEB F1 {m['sveb']['F1']:.3f}, VEB F1 {m['veb']['F1']:.3f}")


if __name__ == "__main__":
    main()
