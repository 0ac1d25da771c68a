"""End-to-end scoring the way ANSI/AAMI EC57 does it, without reference R peaks.

Detected beats are matched one to one to the reference beats within 150 ms
(``wfdb.processing.compare_annotations``). Detection: Se = TP / (TP + FN), +P = TP / (TP + FP).
Classification: the confusion of reference AAMI class against the model's class over the matched
pairs (a matched beat the model could not classify counts as ``Q``), plus, as EC57's comparator
``bxb`` counts them, the beats on one side only: a reference beat no detection matched is a false
negative for its class (``missed``, by reference class) and a detection with no reference beat a
false positive for the class the model gave it (``extra``, by predicted class); then per class
Se, +P and F1 (``metrics.aami``). The accuracy is over matched beats (EC57 defines none; the
detection figures stand beside it). Records are scored one by one and summed for the gross
figures.

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
from ecgzoo.examples.detect import MATCH_S as DETECTION_MATCH_S

MATCH_S = DETECTION_MATCH_S  # one 150 ms for scoring and for matching two leads' peaks
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
    pred = test_labels.copy()
    pred[pred < 0] = q
    conf = np.zeros((k, k), dtype=np.int64)
    np.add.at(conf, (ref_labels[ri], pred[ti]), 1)
    unmatched_ref = np.ones(len(ref_samples), dtype=bool)
    unmatched_ref[ri] = False
    unmatched_test = np.ones(len(test_samples), dtype=bool)
    unmatched_test[ti] = False
    return {
        "record": ann.record,
        "tp": int(len(ri)),
        "fn": int(len(ref_samples) - len(ri)),
        "fp": int(len(test_samples) - len(ti)),
        "confusion": conf,
        "missed": np.bincount(ref_labels[unmatched_ref], minlength=k)[:k],
        "extra": np.bincount(pred[unmatched_test], minlength=k)[:k],
    }


def ec57_matrix(score: dict[str, Any], class_names: list[str]) -> tuple[np.ndarray, list[str]]:
    """A record's (or a sum's) matched confusion with its unmatched beats, as the EC57 scorer
    takes it (:func:`ecgzoo.metrics.aami.with_detection`)."""
    from ecgzoo.metrics.aami import with_detection

    k = len(class_names)
    zeros = np.zeros(k, dtype=np.int64)
    missed, extra = score.get("missed", zeros), score.get("extra", zeros)
    return with_detection(score["confusion"], class_names, missed, extra)


def _pct(a: float, b: float) -> float | None:
    return None if b == 0 else 100.0 * a / b


def class_table(
    conf: np.ndarray,
    class_names: list[str],
    missed: np.ndarray | None = None,
    extra: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Per class: reference beats, Se, +P, F1 (percent; None where undefined). The AAMI classes
    N, S, V and F are scored by ``metrics.aami`` (what ``evaluate`` reports, EC57's rules:
    reference Q beats left out, F beats called V not counted for V, and with ``missed`` /
    ``extra`` the unmatched beats counted as ``bxb`` does); a class outside them (Q) by its row
    and column (its unmatched beats too). F1 is ``2 TP / (2 TP + FP + FN)``: 0 when a class is
    missed or only falsely called, undefined only with no beat of it either way."""
    from ecgzoo.metrics.aami import AAMI_SCORED, aami_table

    conf = np.asarray(conf)
    k = len(class_names)
    missed = np.zeros(k, dtype=np.int64) if missed is None else np.asarray(missed)
    extra = np.zeros(k, dtype=np.int64) if extra is None else np.asarray(extra)
    ec57 = {}
    if all(c in class_names for c in AAMI_SCORED):
        scored = ec57_matrix({"confusion": conf, "missed": missed, "extra": extra}, class_names)
        ec57 = {r["class"]: r for r in aami_table(*scored)}
    rows = []
    for i, c in enumerate(class_names):
        if c in ec57:
            r = ec57[c]
            tp, ref, pred = r["TP"], r["support"], r["TP"] + r["FP"]
        else:
            tp = int(conf[i, i])
            ref, pred = int(conf[i].sum() + missed[i]), int(conf[:, i].sum() + extra[i])
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
    zeros = np.zeros(k, dtype=np.int64)
    missed = sum((np.asarray(r.get("missed", zeros)) for r in per_record), zeros)
    extra = sum((np.asarray(r.get("extra", zeros)) for r in per_record), zeros)
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
        "classes": class_table(conf, class_names, missed, extra),
        "accuracy": _pct(np.trace(conf), conf.sum()),
        "confusion": conf.tolist(),
        "missed": missed.tolist(),
        "extra": extra.tolist(),
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
