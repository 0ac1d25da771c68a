"""The three operating points of trained beat models on a split: one markdown table.

Usage:
    python benchmarks/operating_points.py pretrained:mitbih-intra runs/x/y --accuracy-floor 0.969

For each run and each point (argmax, accuracy, recall) the decision weights are chosen on the
run's own VALIDATION split (``ecgzoo.train.evaluate.evaluate_at_operating_point``, the same
code as ``ecgzoo evaluate --operating-point``); the scored split (``--split``, test by
default) is predicted once per point at those weights. The table shows the validation scores
the choice saw next to the scored split's figures.
"""

from __future__ import annotations

import argparse

from ecgzoo.datasets.loading import load_data
from ecgzoo.metrics.operating_points import OPERATING_POINTS
from ecgzoo.report.tables import to_markdown
from ecgzoo.runs.runfolder import read_run_config, resolve_run
from ecgzoo.train.evaluate import evaluate_at_operating_point, load_trained_model


def aami_f1(metrics: dict, name: str) -> float | None:
    """EC57 F1 of class ``name`` (S: SVEB, V: VEB), or None."""
    for row in metrics.get("aami", []):
        if row["class"] == name:
            return row["F1"]
    return None


def rows_for(run: str, split: str, floor: float) -> list[dict]:
    """One row per operating point of ``run``."""
    folder = resolve_run(run)
    model, spec = load_trained_model(folder)
    data = load_data(read_run_config(folder).data)
    rows = []
    for point in OPERATING_POINTS:
        m = evaluate_at_operating_point(model, spec, data, split, point, floor)
        op = m["operating_point"]
        val = op["chosen_scores"]
        rows.append(
            {
                "run": run,
                "point": point,
                "val acc": round(val["accuracy"], 4),
                "val macro R": round(val["macro_recall"], 4),
                "val macro F1": round(val["macro_f1"], 4),
                f"{split} acc": round(m["accuracy"], 4),
                "macro P": round(m["macro_precision"], 4),
                "macro R": round(m["macro_recall"], 4),
                "macro F1": round(m["macro_f1"], 4),
                "SVEB F1": aami_f1(m, "S"),
                "VEB F1": aami_f1(m, "V"),
                "weights N/S/V/F/Q": " / ".join(f"{w:.3g}" for w in op["weights"].values()),
            }
        )
    return rows


def main() -> None:
    """Print the table for the runs on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders or pretrained:NAME")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--accuracy-floor", type=float, default=0.969)
    args = parser.parse_args()
    rows = [row for run in args.runs for row in rows_for(run, args.split, args.accuracy_floor)]
    for row in rows:
        for key in ("SVEB F1", "VEB F1"):
            row[key] = None if row[key] is None else round(row[key], 3)
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
