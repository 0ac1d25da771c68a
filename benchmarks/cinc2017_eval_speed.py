"""Crop-voting evaluation of a CinC 2017 model: every crop scored (before) against distinct crops
only (after, :mod:`ecgzoo.train.voting`), on the same split in the same run.

    nice python benchmarks/cinc2017_eval_speed.py pretrained:cinc2017 --split test --repeat 2

The "before" path is the one ecgzoo used until issue 11: ``multi_crop`` makes all five crops
of every recording and ``predict_proba`` scores them (batches of 2,048 crops, inference mode).
Reports seconds per split for each, the ratio and the largest difference of the probabilities.
Data: the run's own ``data.cinc2017`` options (the prepared cache under ``$ECGZOO_HOME``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ecgzoo.datasets.loading import load_data
from ecgzoo.examples.transforms import multi_crop
from ecgzoo.experiment import load_config
from ecgzoo.runs.runfolder import resolve_run
from ecgzoo.train.evaluate import load_trained_model, predict_proba, real_lengths
from ecgzoo.train.voting import distinct_crops, vote_proba


def every_crop(model, x: np.ndarray, crop: int, n_crops: int = 5) -> np.ndarray:
    """The former path: all ``n_crops`` crops of every recording, averaged."""
    crops = multi_crop(x, crop, n_crops, real_lengths(x))
    prob = predict_proba(model, crops.reshape((-1,) + crops.shape[2:]))
    return prob.reshape(len(x), n_crops, -1).mean(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder or pretrained:NAME (a cinc2017 crop model)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--repeat", type=int, default=1, help="timed repetitions (best kept)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = resolve_run(args.run)
    model, spec = load_trained_model(folder)
    config = load_config(folder / "config.yaml")
    split = load_data(config.data).split(args.split)
    x = np.asarray(split.x)
    crop = int(spec.crop_samples)
    owner, _, _ = distinct_crops(np.minimum(split.lengths, x.shape[-1]), crop, 5)
    timings: dict[str, list[float]] = {"before": [], "after": []}
    probs = {}
    for _ in range(args.repeat):
        for name in ("before", "after"):
            t0 = time.perf_counter()
            if name == "before":
                probs[name] = every_crop(model, x, crop)
            else:
                probs[name] = vote_proba(model, x, crop, 5, split.lengths)
            timings[name].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in timings.items()}
    result = {
        "run": args.run,
        "split": args.split,
        "recordings": len(x),
        "crops_before": 5 * len(x),
        "crops_after": len(owner),
        "seconds_before": round(best["before"], 2),
        "seconds_after": round(best["after"], 2),
        "speedup": round(best["before"] / best["after"], 2),
        "max_abs_prob_diff": float(np.abs(probs["before"] - probs["after"]).max()),
        "same_predictions": bool((probs["before"].argmax(1) == probs["after"].argmax(1)).all()),
        "all_timings_s": {k: [round(t, 2) for t in v] for k, v in timings.items()},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
