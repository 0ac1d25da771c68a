"""How a trained beat model calls the beats ``data.mitbih.rhythm_database`` would add.

    python benchmarks/rhythm_beats_calls.py RUN [RUN ...]

For each run, the CinC 2017 beats of ``rhythm_labels`` N and of A (chosen as
``datasets.rhythm_beats`` chooses them, cut with the run's own beat options) are classified by
the run's model; the share of each predicted class is printed. All of them are labelled N, so
the N share is how much of the added data the model already gets right (notes/beats15.md).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ecgzoo.datasets.arrays import ArraySplit
from ecgzoo.datasets.mitbih import load_mitbih
from ecgzoo.datasets.rhythm_beats import RECORD_OFFSET
from ecgzoo.runs.loaded import load_run
from ecgzoo.train.evaluate import predict_split

# two small MIT-BIH records to satisfy the inter-patient split; their beats are not scored
CARRIER_RECORDS = ["100", "208"]


def calls(run: str, rhythm: str) -> tuple[int, dict[str, float]]:
    loaded = load_run(run)
    options = loaded.config.data.options.model_copy(
        update={"rhythm_database": "cinc2017", "rhythm_labels": [rhythm],
                "records": CARRIER_RECORDS, "extra_databases": [], "extra_test_fold": None}
    )  # fmt: skip
    train = load_mitbih(options).train
    added = train.groups >= RECORD_OFFSET
    features = None if train.features is None else train.features[added]
    split = ArraySplit(train.x[added], train.y[added], train.groups[added], features)
    predicted = predict_split(loaded.model, loaded.spec, split).argmax(axis=1)
    shares = {c: float(np.mean(predicted == i)) for i, c in enumerate(loaded.spec.class_names)}
    return int(added.sum()), shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| run | rhythm | beats | " + " | ".join("N S V F".split()) + " |")
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        for rhythm in ("N", "A"):
            n, shares = calls(run, rhythm)
            cells = " | ".join(f"{shares[c]:.3f}" for c in "NSVF")
            print(f"| {run} | {rhythm} | {n:,} | {cells} |")


if __name__ == "__main__":
    main()
