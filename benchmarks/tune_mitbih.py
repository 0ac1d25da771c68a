"""Reproduce the CNN-versus-RNN hyperparameter searches on MIT-BIH beats (intra-patient split).

Runs the HyperOpt (TPE) + ASHA search of ``configs/spaces/cnn.yaml`` and ``rnn.yaml`` with
64 trials each (the study's budget), then prints the wall time, the overhead per trial against
the training time inside it, and the best trial's test macro recall next to the study's
published best (CNN 0.965, GRU 0.938).

The full run trains 128 models on all MIT-BIH beats; on a CPU machine that takes many hours.
Reduce it for a smoke test::

    python benchmarks/tune_mitbih.py --num-samples 4 --epochs 1 --max-steps 20 \\
        --max-beats-per-class 300 --output runs/bench/tune_smoke

Outputs go to ``--output`` (one experiment folder per space, each with its table, figure,
best_config.yaml and MLflow store) plus ``summary.md`` / ``summary.csv`` / ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACES = REPO / "configs" / "spaces"

#: The study's best test macro recall per space (intra-patient split).
PUBLISHED = {"cnn": ("CNN", 0.965), "rnn": ("GRU", 0.938)}
MODELS = {"cnn": "cnn2d", "rnn": "rnn"}


def base_tree(space: str, args: argparse.Namespace) -> dict:
    mitbih: dict = {"split": "intra", "segmentation": "kachuee"}
    if args.max_beats_per_class:
        mitbih["max_beats_per_class"] = args.max_beats_per_class
    if args.records:
        mitbih["records"] = args.records
    train: dict = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "loss": "ce",
        "monitor": "val_macro_recall",
        "early_stopping_patience": max(3, args.epochs // 4),
    }
    if args.max_steps:
        train["max_steps_per_epoch"] = args.max_steps
    return {
        "name": f"tune-mitbih-{space}",
        "data": {"dataset": "mitbih", "seed": 0, "mitbih": mitbih},
        "model": {
            "name": MODELS[space],
            "params": {"chunk": args.rnn_chunk} if space == "rnn" and args.rnn_chunk else {},
        },
        "train": train,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spaces", nargs="+", default=["cnn", "rnn"], choices=sorted(MODELS))
    p.add_argument("--num-samples", type=int, default=64, help="trials per space (64)")
    p.add_argument("--epochs", type=int, default=20, help="epochs per trial at most (20)")
    p.add_argument("--max-steps", type=int, default=None, help="cap steps per epoch")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--rnn-chunk", type=int, default=None, help="samples per RNN time step")
    p.add_argument("--max-beats-per-class", type=int, default=None, help="cap training beats")
    p.add_argument("--records", nargs="+", default=None, help="restrict to these records")
    p.add_argument("--cpus-per-trial", type=float, default=1)
    p.add_argument("--gpus-per-trial", type=float, default=0)
    p.add_argument("--address", default=None, help="join this Ray cluster")
    p.add_argument("--output", type=Path, default=REPO / "runs" / "bench" / "tune_mitbih")
    p.add_argument("--resume", action="store_true", help="continue an interrupted benchmark")
    p.add_argument("--no-mlflow", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from ecgzoo.experiment import build_config
    from ecgzoo.report.tables import to_markdown, write_table
    from ecgzoo.tune import load_space, run_search, start_ray, stop_ray

    rows = []
    t_all = time.perf_counter()
    started = start_ray(address=args.address)
    try:
        for name in args.spaces:
            base = build_config(base_tree(name, args), source=f"benchmark base ({name})")
            space = load_space(SPACES / f"{name}.yaml")
            t0 = time.perf_counter()
            result = run_search(
                base,
                space,
                num_samples=args.num_samples,
                metric="val_macro_recall",
                mode="max",
                cpus_per_trial=args.cpus_per_trial,
                gpus_per_trial=args.gpus_per_trial,
                resume=args.resume,
                experiment_dir=args.output / name,
                mlflow=not args.no_mlflow,
            )
            wall = time.perf_counter() - t0
            print(f"\n== {name} ==\n{result.summary()}\n", flush=True)
            ov, best = result.overhead, result.best
            label, published = PUBLISHED[name]
            test_recall = best.test_macro_recall if best else None
            rows.append(
                {
                    "space": name,
                    "trials": len(result.trials),
                    "completed": sum(t.status == "completed" for t in result.trials),
                    "stopped_by_asha": sum(t.status == "stopped" for t in result.trials),
                    "concurrency": ov.get("concurrency"),
                    "wall_s": wall,
                    "trial_wall_s": ov.get("mean_trial_seconds"),
                    "train_s_in_trial": ov.get("mean_train_seconds"),
                    "overhead_s_per_trial": ov.get("mean_overhead_seconds"),
                    "effective_s_per_trial": ov.get("effective_seconds_per_trial"),
                    "best_trial": best.trial_id if best else None,
                    "best_val_recall": best.val_metric if best else None,
                    "best_test_recall": test_recall,
                    "best_test_accuracy": best.test_accuracy if best else None,
                    "published": f"{label} {published}",
                    "delta_vs_published": (
                        test_recall - published if test_recall is not None else None
                    ),
                    "best_params": ", ".join(
                        f"{k.split('.')[-1]}={v}" for k, v in best.params.items()
                    )
                    if best
                    else None,
                }
            )
    finally:
        if started:
            stop_ray()
    total = time.perf_counter() - t_all
    args.output.mkdir(parents=True, exist_ok=True)
    columns = [c for c in rows[0] if c != "best_params"] if rows else None
    write_table(rows, args.output / "summary")
    (args.output / "summary.json").write_text(
        json.dumps(
            {
                "total_wall_s": total,
                "args": vars(args) | {"output": str(args.output)},
                "rows": rows,
            },
            indent=2,
            default=str,
        )
    )
    print(to_markdown(rows, columns))
    for row in rows:
        print(f"{row['space']}: best {row['best_params']}")
    print(f"total wall time {total:.1f} s; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
