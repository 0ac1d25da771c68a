"""Rows of docs/studies.md from finished run folders (or ``ecgzoo evaluate --json`` files).

    PYTHONPATH=src python benchmarks/studies_table.py runs/studies/cnn2d-paper ...
    PYTHONPATH=src python benchmarks/studies_table.py --mean RUN_SEED0 RUN_SEED1 RUN_SEED2

For each run: macro and weighted precision / recall / F1, accuracy, per-class F1 and recall
(Se), ROC AUC, the epochs run and kept, the training seconds, the plain loss on a fixed training
subset and on test and their gap, and the best validation value of the monitored metric per
epoch (``history.csv``), so the page can say how far the run got. ``--mean``: a markdown table
of the runs (seeds of one row) with their mean and sample sd, for runs whose configs differ in
more than the seed (``ecgzoo compare --seeds`` groups only identical configs).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def _load(path: Path) -> tuple[dict, dict]:
    if path.is_dir():
        return json.loads((path / "metrics.json").read_text()), {"folder": path}
    data = json.loads(path.read_text())
    return {"test": data}, {"folder": None}


def row(path: Path) -> dict:
    metrics, info = _load(path)
    test = metrics["test"]
    out = {"run": path.name}
    for avg in ("macro", "weighted"):
        for key in ("precision", "recall", "f1"):
            out[f"{avg}_{key}"] = test.get(f"{avg}_{key}")
    out["accuracy"] = test.get("accuracy")
    out["roc_auc_macro"] = test.get("roc_auc_macro")
    for name, scores in test.get("per_class", {}).items():
        out[f"f1_{name}"] = scores.get("f1")
        out[f"se_{name}"] = scores.get("recall")
    if "challenge" in test:
        out["challenge_f1"] = test["challenge"].get("challenge_f1")
    for key in ("epochs_run", "best_epoch", "train_seconds", "final_train_loss", "test_loss"):
        out[key] = metrics.get(key)
    if out["final_train_loss"] is not None and out["test_loss"] is not None:
        out["loss_gap"] = out["test_loss"] - out["final_train_loss"]
    folder = info["folder"]
    if folder is not None and (folder / "history.csv").is_file():
        rows = list(csv.DictReader((folder / "history.csv").open()))
        out["val_curve"] = [
            round(float(r.get("val_macro_recall") or r.get("val_challenge_f1") or "nan"), 3)
            for r in rows
        ]
    return out


MEAN_COLUMNS = ("macro_recall", "accuracy", "macro_f1", "roc_auc_macro")


def mean_table(rows: list[dict]) -> str:
    """The runs, then their mean +- sample sd (ecgzoo's own ``mean_over_seeds``)."""
    from ecgzoo.report.tables import mean_over_seeds

    se = sorted({k for r in rows for k in r if k.startswith("se_")}, key=list(rows[0]).index)
    cols = [*MEAN_COLUMNS, *se, "final_train_loss", "test_loss", "loss_gap", "best_epoch"]
    keep = [{"run": r["run"], **{c: r.get(c) for c in cols}} for r in rows]
    (mean,) = mean_over_seeds(keep, ["all"] * len(keep))
    lines = ["| run | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in keep:
        lines.append(f"| {r['run']} | " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    cells = [f"{_fmt(mean[c])} +- {_fmt(mean[c + ' sd'])}" for c in cols]
    lines.append(f"| mean +- sd ({len(keep)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--mean"]:
        print(mean_table([row(Path(arg)) for arg in argv[1:]]))
        return
    for arg in argv:
        print(json.dumps(row(Path(arg)), default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
