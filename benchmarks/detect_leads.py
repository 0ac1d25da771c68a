"""QRS detection on one lead, on the other, on both (union) and with the first lead's gaps filled
from the second, unchecked (round ML's G, ``annotate --detect-leads gaps-unchecked``) or where the
first lead's own vote has a candidate scoring at least t (round CF; ``gaps``, t = 0.05): missed
and false beats per record and in all (issue 19, ``docs/notes/beats19.md``, ``beats20.md``). Each
record's first two leads, whole record, ``annotate``'s detector; a detection matches a reference
AAMI beat within 150 ms, one to one.

    nice python benchmarks/detect_leads.py FOLDER --records 101 106 ... --out runs/ds1.json
    nice python benchmarks/detect_leads.py SVDB_FOLDER --out runs/svdb.json   (every record)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ecgzoo.apply.scoring import match_beats, reference_beats
from ecgzoo.examples.detect import MATCH_S, detect_qrs, fill_gaps
from ecgzoo.examples.qrs_vote import detect_vote_scored

#: Round CF's grid (notes/beats20.md): the read lead's vote score a filled-in peak needs.
CONFIRM_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)


def union(first: np.ndarray, second: np.ndarray, fs: float) -> np.ndarray:
    """Every first-lead peak and every second-lead peak with none of the first within 150 ms."""
    if len(first) == 0:
        return second
    j = np.searchsorted(first, second)
    near = np.minimum(
        np.abs(first[np.clip(j, 0, len(first) - 1)] - second),
        np.abs(first[np.clip(j - 1, 0, len(first) - 1)] - second),
    )
    return np.union1d(first, second[near > MATCH_S * fs])


def counts(base: Path) -> dict[str, dict[str, int]]:
    import wfdb

    rec = wfdb.rdrecord(str(base))
    fs = float(rec.fs)
    ref, labels = reference_beats(base)
    first, cand, scores = detect_vote_scored(rec.p_signal[:, 0], fs)  # annotate's detector
    second = detect_qrs(rec.p_signal[:, 1], fs)
    ways = {
        "first": first,
        "second": second,
        "union": union(first, second, fs),
        "gaps": fill_gaps(first, second, fs, min_score=None),  # round ML's G (gaps-unchecked)
        "gaps_margin": fill_gaps(first, second, fs, margin_rr=0.5),  # round ML2's G2
    } | {  # round CF: a filled-in peak confirmed by the first lead's own vote
        f"confirm_{t:g}": fill_gaps(first, second, fs, confirm=(cand, scores), min_score=t)
        for t in CONFIRM_GRID
    }
    out = {}
    for name, peaks in ways.items():
        ri, ti = match_beats(ref, peaks, fs)
        missed = np.ones(len(ref), dtype=bool)
        missed[ri] = False
        out[name] = {
            "fn": int(missed.sum()),
            "fp": int(len(peaks) - len(ti)),
            "S_missed": int((missed & (labels == 1)).sum()),
            "V_missed": int((missed & (labels == 2)).sum()),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--records", nargs="*", help="default: every record with an .atr file")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    records = args.records or sorted(p.stem for p in args.folder.glob("*.atr"))
    rows = {r: counts(args.folder / r) for r in records}
    total = {
        w: {k: sum(r[w][k] for r in rows.values()) for k in rows[records[0]][w]}
        for w in rows[records[0]]
    }
    for way, t in total.items():
        print(f"{way:12s} missed {t['fn']:6d} false {t['fp']:5d} sum {t['fn'] + t['fp']:6d}")
    args.out.write_text(json.dumps({"records": rows, "total": total}, indent=1))


if __name__ == "__main__":
    main()
