"""Train every model on the MIT-BIH intra- and inter-patient splits; print the tables.

Usage:
    python benchmarks/mitbih.py --split intra inter --models fc cnn2d gru cblstm hadln resnet1d \
        --epochs 8 --out runs/bench --report runs/bench/mitbih.md

Each (model, split) uses ``configs/mitbih_<split>_<model>.yaml``; ``--epochs`` and extra
``key=value`` overrides apply to all. Finished runs are reused, so an interrupted benchmark
continues where it stopped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from pathlib import Path

from ecgzoo.experiment import load_config
from ecgzoo.metrics.aami import aami_markdown
from ecgzoo.report.tables import to_markdown
from ecgzoo.train.engine import train_run

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _aami_row(metrics: dict, name: str) -> dict:
    for row in metrics["test"].get("aami", []):
        if row["class"] == name:
            return row
    return {}


def summary_row(model: str, split: str, metrics: dict) -> dict:
    test = metrics["test"]
    s, v = _aami_row(metrics, "S"), _aami_row(metrics, "V")
    return {
        "model": model,
        "split": split,
        "accuracy": test["accuracy"],
        "macro P": test["macro_precision"],
        "macro R": test["macro_recall"],
        "macro F1": test["macro_f1"],
        "weighted F1": test["weighted_f1"],
        "SVEB Se": s.get("Se"),
        "SVEB +P": s.get("+P"),
        "SVEB F1": s.get("F1"),
        "VEB Se": v.get("Se"),
        "VEB +P": v.get("+P"),
        "VEB F1": v.get("F1"),
        "params": metrics["n_parameters"],
        "epochs": metrics["epochs_run"],
        "train s": round(metrics["train_seconds"], 1),
        "train loss": metrics["final_train_loss"],
        "test loss": metrics["test_loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", nargs="+", default=["intra", "inter"])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["fc", "cnn2d", "gru", "cblstm", "hadln", "resnet1d", "ecgzoo"],
    )
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--report", default=None, help="write the markdown report here")
    parser.add_argument("overrides", nargs="*", help="key=value for every run")
    args = parser.parse_args()

    rows, details = [], []
    for split in args.split:
        for model in args.models:
            path = CONFIGS / f"mitbih_{split}_{model}.yaml"
            overrides = [f"output_dir={args.out}", *args.overrides]
            if args.epochs is not None:
                overrides.append(f"train.epochs={args.epochs}")
            config = load_config(path, overrides)
            run_dir = Path(args.out) / config.name
            if (run_dir / "metrics.json").is_file():
                metrics = json.loads((run_dir / "metrics.json").read_text())
            else:
                metrics = train_run(config, progress=False).metrics
            rows.append(summary_row(model, split, metrics))
            details.append(
                f"#### {model}, {split} split (`{path.relative_to(CONFIGS.parent)}`)\n\n"
                + aami_markdown(metrics["test"]["aami"])
            )
            print(to_markdown([rows[-1]]), flush=True)

    header = (
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_version()}; date {dt.date.today()}.\n"
    )
    report = header + "\n" + to_markdown(rows) + "\n\n" + "\n\n".join(details) + "\n"
    print(report)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(report)


if __name__ == "__main__":
    main()
