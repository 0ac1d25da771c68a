"""Round OP (issue 19, notes/beats18.md): S and V decision weights (the ``sv_f1`` operating
point) chosen out of fold on the SVDB development folds, then scored like every round.

    python benchmarks/svdb_fold_weights.py OUT --groups 012 345 678 [--arm A] [--name OP]
    python benchmarks/svdb_fold_weights.py OUT --groups 012 345 678 --ds2   (rule 2 only)

For each seed group ``g`` and fold ``K`` the three-seed ensemble ``OUT/models/ARM_fK_eg`` (from
``svdb_fold_arms.py``) gives its probabilities on the 13 SVDB records it never saw (reference R
peaks; cached in ``OUT/probs``). The weights for fold ``K`` are chosen on group ``g``'s other three
folds only, written into a copy of the ensemble (``OUT/models/NAME_fK_eg``: ``decision_weights``
in its ``model.json``, which ``evaluate`` and ``annotate`` apply) and scored by ``beats_eval.py
--only svdb`` (reference peaks and end to end) into ``OUT/eval/NAME_fK_eg.json``, two at a time.
``--ds2``: the weights chosen on all four folds of group ``g`` go into ``OUT/models/ARM_eg``
(DS1 + all 52 SVDB), scored once on DS2 (``--adapt none,self_train``). Weights and the scores they
were chosen at: ``OUT/weights_NAME.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FOLDS = 4


def fold_probabilities(run: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(prob, y, class_names)`` of ``run`` on its held-out SVDB fold, reference R peaks, as
    ``evaluate --data`` computes them (cached as ``cache``)."""
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.train.evaluate import predict_split
    from ecgzoo.train.external_beats import cnn_beats

    sys.path.insert(0, str(HERE))
    from beats_eval import folders, held_out_svdb

    run_ = load_run(run)
    names = list(run_.spec.class_names)
    if cache.is_file():
        saved = np.load(cache)
        return saved["prob"], saved["y"], names
    with tempfile.TemporaryDirectory() as tmp:
        data = folders(Path(tmp), held_out_svdb(run))["svdb"]
        split, skipped, _, _ = cnn_beats(data, run_.input, None, None)
    if skipped:
        raise SystemExit(f"{run}: records skipped: {skipped}")
    prob = predict_split(run_.model, run_.spec, split)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, prob=prob, y=np.asarray(split.y))
    return prob, np.asarray(split.y), names


def weighted_copy(src: Path, dst: Path, weights: list[float]) -> None:
    """``src`` (an ensemble folder) copied to ``dst`` with ``decision_weights`` set."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    spec = json.loads((dst / "model.json").read_text())
    spec["params"]["decision_weights"] = [float(w) for w in weights]
    (dst / "model.json").write_text(json.dumps(spec, indent=2))


def score(out: Path, run: str, only: str, adapts: str) -> int:
    target = out / "eval" / f"{run}.json"
    if only == "ds2" and all(
        (out / "eval" / f"{run}.{a}.json").is_file() for a in adapts.split(",")
    ):
        return 0
    if only == "svdb" and target.is_file():
        return 0
    cmd = [
        sys.executable, str(HERE / "beats_eval.py"), str(out / "models" / run), str(target),
        "--only", only, "--adapt", adapts,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with (out / "logs" / f"{run}.log").open("a") as log:
        return subprocess.run(cmd, env=env, stdout=log, stderr=log).returncode


def main() -> None:
    from ecgzoo.metrics.operating_points import choose_weights

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--groups", nargs="+", required=True)
    ap.add_argument("--arm", default="A")
    ap.add_argument("--name", default="OP")
    ap.add_argument("--ds2", action="store_true", help="rule 2: weights from all four folds")
    args = ap.parse_args()
    models, record = args.out / "models", {}
    (args.out / "logs").mkdir(exist_ok=True)
    data = {
        (k, g): fold_probabilities(
            models / f"{args.arm}_f{k}_e{g}", args.out / "probs" / f"{args.arm}_f{k}_e{g}.npz"
        )
        for g in args.groups
        for k in range(FOLDS)
    }
    jobs = []
    for g in args.groups:
        held = [None] if args.ds2 else list(range(FOLDS))
        for k in held:
            chosen_on = [j for j in range(FOLDS) if j != k]
            prob = np.concatenate([data[j, g][0] for j in chosen_on])
            y = np.concatenate([data[j, g][1] for j in chosen_on])
            point = choose_weights(prob, y, "sv_f1", data[0, g][2])
            src = f"{args.arm}_e{g}" if k is None else f"{args.arm}_f{k}_e{g}"
            dst = f"{args.name}_e{g}" if k is None else f"{args.name}_f{k}_e{g}"
            weighted_copy(models / src, models / dst, point.weights)
            record[dst] = point.to_json() | {"chosen_on_folds": chosen_on}
            jobs.append(dst)
    path = args.out / f"weights_{args.name}{'_ds2' if args.ds2 else ''}.json"
    path.write_text(json.dumps(record, indent=1))
    only, adapts = ("ds2", "none,self_train") if args.ds2 else ("svdb", "none")
    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(lambda run: score(args.out, run, only, adapts), jobs))
    if any(codes):
        failed = [run for run, code in zip(jobs, codes, strict=True) if code]
        raise SystemExit(f"scoring failed for {failed}: see {args.out / 'logs'}")
    for run in jobs:
        w, on = record[run]["weights"], record[run]["chosen_on_folds"]
        print(f"{run}: S x{w['S']:.3g}, V x{w['V']:.3g} (chosen on folds {on})")


if __name__ == "__main__":
    main()
