"""Issue 19: how many S beats the AF gate would close, per threshold, on training records only.

Scores every 30 s window (``ecgzoo.models.af_gate.window_edges``) of MIT-BIH DS1 and of the
mirror's SVDB records with the gate's rhythm model (``ecgzoo.apply.af_gate.AfGate``) and counts,
per threshold, the S beats lying in closed windows (at most that many S beats the gate can
remove) and, for DS1, the windows the reference rhythm annotations call AF (``(AFIB``, ``(AFL``
over more than half of the window's beats) that it closes. DS2 is never read.

    python benchmarks/af_gate_threshold.py [--out table.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
MITDB = "mit-bih-arrhythmia-database-1.0.0"
SVDB = "mit-bih-supraventricular-arrhythmia-database-1.0.0"
S_SYMBOLS = frozenset("AaJS")


def window_counts(path: Path, gate) -> dict:
    """Per window: P(AF), S beats, and the share of beats in an AF/flutter rhythm episode."""
    import wfdb

    from ecgzoo.readers.wfdb_folder import BEAT_SYMBOLS

    rec = wfdb.rdrecord(str(path), channels=[0])
    ann = wfdb.rdann(str(path), "atr")
    signal = rec.p_signal[:, 0]
    edges, p_af = gate.window_probabilities(lambda a, b: signal[a:b], len(signal), rec.fs)
    k = len(p_af)
    s_beats, beats, in_af = np.zeros(k), np.zeros(k), np.zeros(k)
    rhythm = ""
    for symbol, note, sample in zip(ann.symbol, ann.aux_note, ann.sample, strict=True):
        if symbol == "+" and note:
            rhythm = note.strip("\x00")
        elif symbol in BEAT_SYMBOLS:
            w = min(int(np.searchsorted(edges, sample, side="right")) - 1, k - 1)
            beats[w] += 1
            s_beats[w] += symbol in S_SYMBOLS
            in_af[w] += rhythm in ("(AFIB", "(AFL")
    return {"p_af": p_af, "s": s_beats, "af": in_af / np.maximum(beats, 1) > 0.5}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import torch

    from ecgzoo.apply.af_gate import AfGate
    from ecgzoo.datasets.splits import DS1
    from ecgzoo.fetch.physionet import fetch

    torch.set_num_threads(1)
    gate = AfGate()
    mit = Path(fetch("mitdb", "1.0.0", progress=False)) / MITDB
    sv = Path(fetch("svdb", "1.0.0", progress=False)) / SVDB
    sets = {
        "DS1": [mit / r for r in DS1],
        "SVDB": [sv / r for r in (sv / "RECORDS").read_text().split()],
    }
    table: dict[str, dict] = {}
    for name, paths in sets.items():
        rows = [window_counts(p, gate) for p in paths]
        p_af = np.concatenate([r["p_af"] for r in rows])
        s = np.concatenate([r["s"] for r in rows])
        af = np.concatenate([r["af"] for r in rows])
        table[name] = {"s_beats": int(s.sum()), "windows": len(p_af), "af_windows": int(af.sum())}
        for t in THRESHOLDS:
            closed = p_af >= t
            table[name][f"t={t}"] = {
                "s_in_closed": int(s[closed].sum()),
                "s_share": float(s[closed].sum() / max(s.sum(), 1)),
                "af_windows_closed": int((closed & af).sum()),
                "other_windows_closed": int((closed & ~af).sum()),
            }
    print(json.dumps(table, indent=1))
    if args.out is not None:
        args.out.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
