"""Worked example: apply ecgzoo's shipped models to real recordings from Python.

Run from the repository root (``ECGZOO_PHYSIONET_MIRROR`` pointing at a PhysioNet mirror, or
with internet access):

    python docs/examples/apply_model.py [WORK_DIR]

It annotates MIT-BIH record 208 (a copy in WORK_DIR: outputs are written beside the record),
scores the result against the cardiologists' reference beats the way EC57 does, classifies a
NumPy strip in memory, labels three CinC 2017 recordings, and loads a small MIT-BIH dataset.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import ecgzoo
from ecgzoo.apply.scoring import summarise_scores
from ecgzoo.fetch.physionet import fetch
from ecgzoo.readers.mitdb import default_folder as mitdb_folder


def main(work: Path) -> None:
    # 1. A beat model: detect and classify every heartbeat of a 30-minute record.
    model = ecgzoo.load_model("pretrained:mitbih-inter")
    for path in mitdb_folder().glob("208.*"):
        shutil.copy(path, work / path.name)
    result = ecgzoo.annotate(work / "208", model, reference="atr")[0]
    s = result.summary
    print(f"record 208: {s['n_beats']} beats, counts {s['counts']}")
    print(
        f"ectopic burden {s['ectopic_burden_total_percent']:.1f} %, "
        f"longest V run {s['longest_runs']['V']['beats']} beats"
    )
    print("files:", ", ".join(p.name for p in result.files.values()))
    scored = summarise_scores([result.score], model.class_names)
    d = scored["detection"]
    print(f"QRS detection vs reference: Se {d['Se']:.2f} %, +P {d['+P']:.2f} %")
    for row in scored["classes"]:
        if row["ref_beats"]:
            print(f"  {row['class']}: {row['ref_beats']} reference beats, Se {row['Se']:.1f} %")

    # 2. The same model on a signal already in memory (one minute, mV, 360 Hz).
    import wfdb

    signal = wfdb.rdrecord(str(work / "208"), channels=[0], sampto=360 * 60).p_signal[:, 0]
    beats = model.predict(signal, fs=360)
    print("first minute:", dict(Counter(beats["labels"])))  # N, S, V, ..., unclassified

    # 3. A recording-level model: one label per recording (CinC 2017 rhythm classes).
    src = Path(fetch("challenge-2017", "1.0.0", progress=False)) / "training2017"
    folder = work / "cinc"
    folder.mkdir(exist_ok=True)
    for name in (src / "RECORDS").read_text().split()[:3]:
        for path in src.glob(f"{name}.*"):
            shutil.copy(path, folder / path.name)
    for row in ecgzoo.predict(folder, "pretrained:cinc2017"):
        print(f"{row['record']}: {row['label']} (p={row['p_' + row['label']]:.2f})")

    # 4. A database's examples and splits, as the training engine sees them.
    data = ecgzoo.datasets.load(
        "mitbih", segmentation="centered", rr_features=True, records=["100", "208"]
    )
    print("mitbih subset:", data.train.x.shape, "train beats; classes", data.class_names)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
