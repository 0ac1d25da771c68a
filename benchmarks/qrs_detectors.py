"""QRS detectors compared on the 48 MIT-BIH records: detection Se, +P and seconds per record.

Each detector runs on the record's MLII lead (V5 for 102 and 104), whole record, physical
units (mV). A detection matches a reference beat (every annotation whose symbol is an AAMI
beat: N L R e j A a J S V E F / f Q) when it lies within 150 ms of it, one to one
(``wfdb.processing.compare_annotations`` with :func:`ecgzoo.apply.scoring.match_window`,
so up to 150 ms in real time). Se = TP / (TP + FN), +P = TP / (TP + FP), summed over all
records (gross). The whole record is scored (no 5-minute learning period removed),
which is slightly stricter than EC57's ``bxb`` default.

    nice python benchmarks/qrs_detectors.py --detectors ecgzoo xqrs neurokit pantompkins1985 \
        hamilton2002 elgendi2010 --out runs/qrs.json

``ecgzoo`` is the detector ``ecgzoo annotate`` uses (:func:`ecgzoo.examples.detect.detect_qrs`,
the learnt vote of ``ecgzoo.examples.qrs_vote`` since 2026-12); ``ecgzoo-pt`` the refined
NeuroKit2 Pan-Tompkins it used before; ``sleepecg`` is sleepecg's C Pan-Tompkins.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from ecgzoo.apply.scoring import match_window
from ecgzoo.datasets.mitbih import default_db_dir, list_records, read_record

NEUROKIT_METHODS = (
    "neurokit",
    "pantompkins1985",
    "hamilton2002",
    "elgendi2010",
    "engzeemod2012",
    "kalidas2017",
    "rodrigues2021",
    "nabian2018",
)


def detect(name: str, signal: np.ndarray, fs: float) -> np.ndarray:
    """Detected QRS sample indices of ``signal`` (mV, 1-D) by detector ``name``."""
    if name == "ecgzoo":
        from ecgzoo.examples.detect import detect_qrs

        return detect_qrs(signal, fs)
    if name == "ecgzoo-pt":  # what annotate used before the vote: refined Pan-Tompkins
        from ecgzoo.examples.detect import detect_qrs

        return detect_qrs(signal, fs, "pantompkins1985")
    if name == "sleepecg":
        from ecgzoo.examples import qrs_vote

        return qrs_vote.pan_tompkins(*qrs_vote.energy(signal, fs), fs)
    if name == "xqrs":
        import wfdb.processing

        xq = wfdb.processing.XQRS(sig=signal, fs=fs)
        xq.detect(verbose=False)
        return np.asarray(xq.qrs_inds, dtype=np.int64)
    if name == "gqrs":
        import wfdb.processing

        return np.asarray(wfdb.processing.gqrs_detect(sig=signal, fs=fs), dtype=np.int64)
    if name in NEUROKIT_METHODS:
        import neurokit2 as nk

        clean = nk.ecg_clean(signal, sampling_rate=int(fs), method=_clean_method(name))
        found = nk.ecg_findpeaks(clean, sampling_rate=int(fs), method=name)
        return np.asarray(found["ECG_R_Peaks"], dtype=np.int64)
    raise SystemExit(f"unknown detector {name!r}")


def _clean_method(name: str) -> str:
    # NeuroKit2 pairs some detectors with their own pre-filter; the rest use its default.
    return {
        "pantompkins1985": "pantompkins1985",
        "hamilton2002": "hamilton2002",
        "elgendi2010": "elgendi2010",
        "engzeemod2012": "engzeemod2012",
    }.get(name, "neurokit")


def score(ref: np.ndarray, test: np.ndarray, fs: float) -> tuple[int, int, int]:
    """(TP, FN, FP) of ``test`` against ``ref`` within 150 ms."""
    import wfdb.processing

    cmp = wfdb.processing.compare_annotations(ref, np.unique(test), match_window(fs))
    return int(cmp.tp), int(cmp.fn), int(cmp.fp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=["ecgzoo", "xqrs", "neurokit"])
    parser.add_argument("--records", nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    db = default_db_dir()
    names = args.records or list_records(db)
    rows: dict[str, dict] = {}
    for det in args.detectors:
        tp = fn = fp = 0
        seconds = 0.0
        per_record = {}
        for name in names:
            rec = read_record(db, name)
            t = time.perf_counter()
            peaks = detect(det, rec.signal, rec.fs)
            dt = time.perf_counter() - t
            a, b, c = score(rec.samples, peaks, rec.fs)
            per_record[name] = {"tp": a, "fn": b, "fp": c, "s": round(dt, 3)}
            tp, fn, fp, seconds = tp + a, fn + b, fp + c, seconds + dt
        rows[det] = {
            "se": 100 * tp / max(tp + fn, 1),
            "ppv": 100 * tp / max(tp + fp, 1),
            "tp": tp,
            "fn": fn,
            "fp": fp,
            "s_per_record": seconds / len(names),
            "records": per_record,
        }
        r = rows[det]
        print(
            f"| {det} | {r['se']:.2f} | {r['ppv']:.2f} | {tp} | {fn} | {fp} | "
            f"{r['s_per_record']:.2f} |",
            flush=True,
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
