"""Issue 19: how much a beat model's classes move when its R peaks move (the fiducial problem).

For every DS2 record, the apply path of ``annotate`` (fiducial alignment when the model was
trained with it, segmentation, median channel, RR context) is run on the reference R peaks and
on the same peaks shifted by ``k`` samples (360 Hz); reported: the share of beats whose class is
unchanged, and S sensitivity at each shift.

    python benchmarks/beats_shift.py RUN OUT.json [--shifts 2 6 -6]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--shifts", type=int, nargs="+", default=[2, 6, -6])
    args = ap.parse_args()
    from beats_eval import MITDB  # this folder's script: where the mirror's MIT-BIH unpacks

    from ecgzoo.apply import annotate as ann
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.signals import open_source
    from ecgzoo.datasets.mitbih import read_beat_annotations
    from ecgzoo.datasets.splits import DS2

    model = load_model(args.run)
    from ecgzoo.fetch.physionet import fetch

    folder = Path(fetch("mitdb", "1.0.0", progress=False)) / MITDB
    current: dict[str, np.ndarray] = {}
    ann.detect_qrs = lambda signal, fs, method: current["peaks"]  # the peaks under test
    same = {k: [0, 0] for k in args.shifts}
    s_hits = {k: [0, 0] for k in [0, *args.shifts]}
    for record in DS2:
        peaks, labels = read_beat_annotations(Path(folder), record)
        n = open_source(Path(folder) / record, None).n_samples
        inside = (peaks - max(0, -min(args.shifts)) >= 0) & (peaks + max(args.shifts) < n)
        peaks, labels = peaks[inside], labels[inside]  # every shifted copy lies in the record
        out = {}
        for k in [0, *args.shifts]:
            current["peaks"] = peaks + k
            source = open_source(Path(folder) / record, None)
            out[k] = ann.annotate_source(source, model, chunk_s=3600.0).labels
            ok = out[k] >= 0
            s_hits[k][0] += int(np.sum((labels == 1) & (out[k] == 1) & ok))
            s_hits[k][1] += int(np.sum((labels == 1) & ok))
        for k in args.shifts:
            ok = (out[0] >= 0) & (out[k] >= 0)
            same[k][0] += int(np.sum(out[0][ok] == out[k][ok]))
            same[k][1] += int(ok.sum())
    result = {
        "run": args.run,
        "same_class": {str(k): a / b for k, (a, b) in same.items()},
        "S_Se": {str(k): a / max(b, 1) for k, (a, b) in s_hits.items()},
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
