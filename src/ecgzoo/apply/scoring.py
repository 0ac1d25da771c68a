"""End-to-end scoring the way ANSI/AAMI EC57 does it, without reference R peaks.

Detected beats are matched one to one to the reference beats within 150 ms
(``wfdb.processing.compare_annotations``). Detection: Se = TP / (TP + FN), +P = TP / (TP + FP).
Classification: over the matched pairs only, the confusion of reference AAMI class against the
model's class (a matched beat the model could not classify counts as ``Q``), then per class
Se, +P and F1. Records are scored one by one and summed for the gross figures.

Two rules: ``whole`` scores every beat of the record; ``ec57`` applies the standard's
exclusions as ``bxb`` does: the first 5 minutes are a learning period, and beats inside
ventricular flutter/fibrillation episodes (between the reference's ``[`` and ``]``
annotations) are not compared (:func:`ec57_exclusions`), for reference and detected beats alike.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.apply.annotate import Annotation

MATCH_S = 0.15
LEARNING_S = 300.0


def match_window(fs: float, match_s: float = MATCH_S) -> int:
    """The ``window_width`` for ``compare_annotations`` that matches beats up to ``match_s``
    apart in real time: it matches a sample difference strictly under the width, so
    ``round(0.15 * fs)`` would stop at 140.6 ms at 128 Hz (147.2 ms at 360 Hz)."""
    return int(np.floor(match_s * fs + 1e-9)) + 1


def match_beats(ref: np.ndarray, test: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(ref_i, test_i)`` of the matched pairs within :data:`MATCH_S`."""
    import wfdb.processing

    if len(ref) == 0 or len(test) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = wfdb.processing.compare_annotations(
            np.asarray(ref, dtype=np.int64),
            np.asarray(test, dtype=np.int64),
            match_window(fs),
        )
    ri = np.asarray(cmp.matched_ref_inds, dtype=np.int64)
    ti = np.asarray(cmp.matched_test_inds, dtype=np.int64)
    return ri, ti


def _outside(samples: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    keep = np.ones(len(samples), dtype=bool)
    for a, b in spans:
        keep &= ~((samples >= a) & (samples < b))
    return keep


def score_record(
    ann: Annotation,
    ref_samples: np.ndarray,
    ref_labels: np.ndarray,
    class_names: list[str],
    exclude: list[tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """Detection counts and the matched-beat confusion (reference rows, predicted columns);
    beats (reference and detected) inside the ``exclude`` sample spans are not compared."""
    test_samples, test_labels = ann.samples, ann.labels
    if exclude:
        keep_ref = _outside(ref_samples, exclude)
        keep_test = _outside(test_samples, exclude)
        ref_samples, ref_labels = ref_samples[keep_ref], ref_labels[keep_ref]
        test_samples, test_labels = test_samples[keep_test], test_labels[keep_test]
    ri, ti = match_beats(ref_samples, test_samples, ann.fs)
    k = len(class_names)
    q = class_names.index("Q") if "Q" in class_names else k - 1
    pred = test_labels[ti].copy()
    pred[pred < 0] = q
    conf = np.zeros((k, k), dtype=np.int64)
    np.add.at(conf, (ref_labels[ri], pred), 1)
    return {
        "record": ann.record,
        "tp": int(len(ri)),
        "fn": int(len(ref_samples) - len(ri)),
        "fp": int(len(test_samples) - len(ti)),
        "confusion": conf,
    }


def _pct(a: float, b: float) -> float | None:
    return None if b == 0 else 100.0 * a / b


def class_table(conf: np.ndarray, class_names: list[str]) -> list[dict[str, Any]]:
    """Per class: reference beats, Se, +P, F1 (percent; None where undefined). The AAMI classes
    N, S, V and F are scored by ``metrics.aami`` (what ``evaluate`` reports, EC57's rules:
    reference Q beats left out, F beats called V not counted for V); a class outside them (Q)
    by its row and column. F1 is ``2 TP / (2 TP + FP + FN)``: 0 when a class is missed or only
    falsely called, undefined only with no beat of it either way."""
    from ecgzoo.metrics.aami import AAMI_SCORED, aami_table

    conf = np.asarray(conf)
    ec57 = {}
    if all(c in class_names for c in AAMI_SCORED):
        ec57 = {r["class"]: r for r in aami_table(conf, class_names)}
    rows = []
    for i, c in enumerate(class_names):
        if c in ec57:
            r = ec57[c]
            tp, ref, pred = r["TP"], r["support"], r["TP"] + r["FP"]
        else:
            tp, ref, pred = int(conf[i, i]), int(conf[i].sum()), int(conf[:, i].sum())
        se, ppv = _pct(tp, ref), _pct(tp, pred)
        f1 = _pct(2 * tp, ref + pred)  # ref + pred = 2 TP + FN + FP
        rows.append({"class": c, "ref_beats": ref, "Se": se, "+P": ppv, "F1": f1})
    return rows


def summarise_scores(per_record: list[dict[str, Any]], class_names: list[str]) -> dict[str, Any]:
    """Gross detection and classification figures plus one row per record."""
    tp = sum(r["tp"] for r in per_record)
    fn = sum(r["fn"] for r in per_record)
    fp = sum(r["fp"] for r in per_record)
    k = len(class_names)
    conf = sum((r["confusion"] for r in per_record), np.zeros((k, k), dtype=np.int64))
    rows = []
    for r in per_record:
        acc = _pct(np.trace(r["confusion"]), r["confusion"].sum())
        rows.append(
            {
                "record": r["record"],
                "beats": r["tp"] + r["fn"],
                "det_Se": _pct(r["tp"], r["tp"] + r["fn"]),
                "det_+P": _pct(r["tp"], r["tp"] + r["fp"]),
                "class_acc": acc,
            }
        )
    return {
        "detection": {
            "tp": tp,
            "fn": fn,
            "fp": fp,
            "Se": _pct(tp, tp + fn),
            "+P": _pct(tp, tp + fp),
        },
        "classes": class_table(conf, class_names),
        "accuracy": _pct(np.trace(conf), conf.sum()),
        "confusion": conf.tolist(),
        "class_names": list(class_names),
        "records": rows,
    }


def reference_beats(record_base: Path, annotator: str = "atr") -> tuple[np.ndarray, np.ndarray]:
    """AAMI beats ``(samples, class index)`` of ``record_base.<annotator>``."""
    from ecgzoo.examples.beats import aami_labels
    from ecgzoo.readers.wfdb_folder import WfdbFolderReader

    base = Path(record_base)
    if annotator != "atr":
        from ecgzoo.errors import ConfigError

        raise ConfigError(f"--reference: only the 'atr' annotator is supported (got {annotator})")
    reader = WfdbFolderReader(base.parent, annotator="atr", require_annotations=True)
    samples, symbols, _, _ = reader.read_beats(base.name)
    return aami_labels(samples, symbols)


def ec57_exclusions(record_base: Path, fs: float, annotator: str = "atr") -> list[tuple[int, int]]:
    """Sample spans EC57 leaves out: the 5-minute learning period and every ventricular
    flutter/fibrillation episode (``[`` ... ``]`` in the reference annotations)."""
    import wfdb

    spans = [(0, int(round(LEARNING_S * fs)))]
    base = Path(record_base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ann = wfdb.rdann(str(base), annotator)
    start = None
    for sample, symbol in zip(ann.sample, ann.symbol, strict=True):
        if symbol == "[":
            start = int(sample)
        elif symbol == "]" and start is not None:
            spans.append((start, int(sample) + 1))
            start = None
    if start is not None:  # an episode running to the end of the record
        spans.append((start, np.iinfo(np.int64).max))
    return spans
