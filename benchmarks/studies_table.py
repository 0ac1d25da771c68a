"""Rows of docs/studies.md from finished run folders (or ``ecgzoo evaluate --json`` files).

    PYTHONPATH=src python benchmarks/studies_table.py runs/studies/cnn2d-paper ...

For each run: macro and weighted precision / recall / F1, accuracy, per-class F1, ROC AUC, the
epochs run and kept, the training seconds, and the best validation value of the monitored
metric per epoch (``history.csv``), so the page can say how far the run got.
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
    if "challenge" in test:
        out["challenge_f1"] = test["challenge"].get("challenge_f1")
    for key in ("epochs_run", "best_epoch", "train_seconds", "final_train_loss", "test_loss"):
        out[key] = metrics.get(key)
    folder = info["folder"]
    if folder is not None and (folder / "history.csv").is_file():
        rows = list(csv.DictReader((folder / "history.csv").open()))
        out["val_curve"] = [
            round(float(r.get("val_macro_recall") or r.get("val_challenge_f1") or "nan"), 3)
            for r in rows
        ]
    return out


def main(argv: list[str]) -> None:
    for arg in argv:
        print(json.dumps(row(Path(arg)), default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
