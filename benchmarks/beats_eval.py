"""Issue 19: score one beat run on MIT-BIH DS2 and on SVDB, with reference R peaks
(``ecgzoo evaluate RUN --data FOLDER``) and end to end (``ecgzoo annotate FOLDER --reference atr``:
its own QRS detection), optionally with label-free per-record adaptation (``--adapt adabn``).

    python benchmarks/beats_eval.py RUN OUT.json [--adapt adabn] [--skip-e2e]
    python benchmarks/beats_eval.py RUN OUT.json --adapt none,adabn,cluster   (one OUT.ADAPT.json
        each: the records are read and the QRS complexes detected once for all of them)
    python benchmarks/beats_eval.py RUN OUT.json --af-gate   (every figure with the AF gate,
        ``evaluate --af-gate`` and ``annotate --af-gate``)

Writes one JSON: for each of ``ds2`` and ``svdb``, ``ref`` and ``e2e``: accuracy, SVEB and VEB
Se / +P / F1 (fractions), per-record S / V counts, and the rows of records 232 and 822. A run
trained with ``data.mitbih.extra_test_fold`` is scored on its held-out SVDB fold only. The DS2
and SVDB folders are links to the records' .hea/.dat/.atr (nothing else of the database folder
is read).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ecgzoo.datasets.splits import DS2
from ecgzoo.examples.detect import DETECT_LEADS

MITDB = "mit-bih-arrhythmia-database-1.0.0"
SVDB = "mit-bih-supraventricular-arrhythmia-database-1.0.0"


def linked_folder(src: Path, names: list[str], dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        for ext in (".hea", ".dat", ".atr"):
            (dst / f"{name}{ext}").symlink_to((src / f"{name}{ext}").resolve())
    (dst / "RECORDS").write_text("\n".join(names) + "\n")
    return dst


def svdb_folder() -> Path:
    from ecgzoo.fetch.physionet import fetch

    return Path(fetch("svdb", "1.0.0", progress=False)) / SVDB


def held_out_svdb(run: str | Path) -> list[str] | None:
    """The SVDB records a run trained with ``data.mitbih.extra_test_fold`` never saw (its test
    fold), or ``None`` when it has no such fold. Such a run is scored on these records only:
    the rest of SVDB trained it."""
    from ecgzoo.datasets.splits import record_fold
    from ecgzoo.runs.runfolder import read_run_config, resolve_run

    options = read_run_config(resolve_run(str(run))).data.options
    if getattr(options, "extra_test_fold", None) is None:
        return None
    names = (svdb_folder() / "RECORDS").read_text().split()
    return record_fold(
        names, options.extra_n_folds, options.extra_test_fold, options.extra_fold_seed
    )


def folders(tmp: Path, svdb_names: list[str] | None = None) -> dict[str, Path]:
    """Linked DS2 and SVDB folders; ``svdb_names``: only these SVDB records (a held-out fold)."""
    from ecgzoo.fetch.physionet import fetch

    mit = Path(fetch("mitdb", "1.0.0", progress=False)) / MITDB
    sv = svdb_folder()
    sv_names = svdb_names or (sv / "RECORDS").read_text().split()
    return {
        "ds2": linked_folder(mit, list(DS2), tmp / "ds2"),
        "svdb": linked_folder(sv, sv_names, tmp / "svdb"),
    }


def from_reference(metrics: dict[str, Any], record: str) -> dict[str, Any]:
    rows = {r["class"]: r for r in metrics["aami"]}
    out = {"accuracy": metrics["accuracy"]}
    for cls, key in (("S", "sveb"), ("V", "veb")):
        out[key] = {"Se": rows[cls]["Se"], "+P": rows[cls]["+P"], "F1": rows[cls]["F1"]}
    out["veb"]["uncounted"] = rows["V"]["uncounted"]  # F beats called V (EC57 leaves them out)
    out["record_" + record] = metrics["per_record"].get(record)
    out["per_record"] = metrics["per_record"]
    return out


def from_annotate(scored: dict[str, Any], per_record: list[dict], record: str) -> dict[str, Any]:
    """EC57 figures of ``annotate``'s scores; the per-record counts hold the beats detection
    missed (S and V false negatives) and the extra detections called S or V (false positives),
    as ``bxb`` counts them; ``n`` and ``correct`` are of matched beats."""
    from ecgzoo.apply.scoring import ec57_matrix
    from ecgzoo.metrics.aami import sv_counts

    rows = {r["class"]: r for r in scored["classes"]}
    class_names = scored["class_names"]

    def frac(v):
        return None if v is None else v / 100.0

    out = {"accuracy": frac(scored["accuracy"]), "detection": scored["detection"]}
    for cls, key in (("S", "sveb"), ("V", "veb")):
        out[key] = {m: frac(rows[cls][m]) for m in ("Se", "+P", "F1")}
    out["veb"]["uncounted"] = sv_counts(*ec57_matrix(scored, class_names))["V_uncounted"]
    out["per_record"] = {}
    for r in per_record:
        row = sv_counts(*ec57_matrix(r, class_names))
        out["per_record"][r["record"]] = row
        if r["record"] == record:
            out["record_" + record] = row
    return out


def cached_detection() -> None:
    """Detect each chunk's QRS complexes once per process: ``annotate`` is run once per
    adaptation on the same records, and detection does not depend on the adaptation (the cache
    key is the chunk's samples, rate, detector and quality flag)."""
    import hashlib

    from ecgzoo.apply import chunks

    real, memo = chunks.detect_with_quality, {}

    def detect(signal, fs, detector, quality, detect_qrs):
        key = (hashlib.sha1(signal.tobytes()).hexdigest(), float(fs), detector, bool(quality))
        if key not in memo:
            memo[key] = real(signal, fs, detector, quality, detect_qrs)
        return memo[key]

    chunks.detect_with_quality = detect


def cached_gate() -> None:
    """Score each record's rhythm windows once per process (``annotate`` runs once per
    adaptation on the same records; the key is the lead's samples, so the reference-peak path,
    which reads the record through another reader, is scored on its own)."""
    import hashlib

    import numpy as np

    from ecgzoo.apply.af_gate import AfGate

    real, memo = AfGate.window_probabilities, {}

    def window_probabilities(self, read, n_samples, fs):
        samples = np.ascontiguousarray(read(0, n_samples))
        key = (hashlib.sha1(samples.tobytes()).hexdigest(), int(n_samples), float(fs))
        if key not in memo:
            memo[key] = real(self, read, n_samples, fs)
        return memo[key]

    AfGate.window_probabilities = window_probabilities


def self_train_overrides(text: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """``K=V,...`` as a dict, each value cast to the type of its default; ``ValueError`` for an
    unknown key or a value of the wrong type."""
    out: dict[str, Any] = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key not in defaults:
            raise ValueError(f"unknown parameter {key!r} (known: {', '.join(defaults)})")
        out[key] = type(defaults[key])(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--adapt", default="none", help="one adaptation, or several: a,b,c")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--only", choices=["ds2", "svdb"], default=None)
    ap.add_argument("--af-gate", action="store_true", help="S -> N in the rhythm model's AF")
    ap.add_argument(
        "--detect-leads", default=DETECT_LEADS, help="annotate's: one, gaps, gaps-unchecked"
    )
    ap.add_argument(
        "--self-train", default="", metavar="K=V,...",
        help="self_train parameters other than the defaults, e.g. threshold=0.9,rounds=2",
    )  # fmt: skip
    args = ap.parse_args()
    if args.self_train:  # this process only: record_probabilities reads SELF_TRAIN
        from ecgzoo.models.adapt_record import SELF_TRAIN

        try:
            SELF_TRAIN.update(self_train_overrides(args.self_train, SELF_TRAIN))
        except ValueError as exc:
            ap.error(f"--self-train: {exc}")
    from ecgzoo.api import annotate
    from ecgzoo.apply.scoring import summarise_scores
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.runs.runfolder import read_run_config, resolve_run
    from ecgzoo.train.external_beats import cnn_beats, evaluate_beat_folder, score_beat_split

    adapts = args.adapt.split(",")
    folder = resolve_run(args.run)
    cfg = read_run_config(folder)
    results: dict[str, dict[str, Any]] = {
        a: {"run": args.run, "adapt": a, "af_gate": args.af_gate, "self_train": args.self_train}
        for a in adapts
    }
    rhythm = None
    if args.af_gate:
        from ecgzoo.apply.af_gate import AfGate

        rhythm = AfGate().of_signal
    if len(adapts) > 1:
        cached_detection()
        if args.af_gate:
            cached_gate()
    with tempfile.TemporaryDirectory() as tmp:
        for db, data in folders(Path(tmp), held_out_svdb(folder)).items():
            if args.only and db != args.only:
                continue
            record = "232" if db == "ds2" else "822"
            t = time.perf_counter()
            if len(adapts) == 1:
                refs = {
                    adapts[0]: evaluate_beat_folder(
                        folder, cfg, data, adapt=adapts[0], rhythm=rhythm
                    )
                }
            else:  # the same records read once, then scored under each adaptation
                run = load_run(folder)
                split, _, names, beat_af = cnn_beats(data, run.input, None, rhythm)
                refs = {
                    a: score_beat_split(run.model, run.spec, split, names, a, beat_af)
                    for a in adapts
                }
            for a, ref in refs.items():
                results[a][f"{db}_ref"] = from_reference(ref, record)
                results[a][f"{db}_ref"]["seconds"] = (time.perf_counter() - t) / len(adapts)
            if args.skip_e2e:
                continue
            for a in adapts:
                t = time.perf_counter()
                res = annotate(
                    data,
                    str(folder),
                    write=False,
                    plots=False,
                    reference="atr",
                    adapt=a,
                    af_gate=args.af_gate,
                    detect_leads=args.detect_leads,
                )
                scores = [r.score for r in res]
                scored = summarise_scores(scores, res[0].annotation.class_names)
                results[a][f"{db}_e2e"] = from_annotate(scored, scores, record)
                results[a][f"{db}_e2e"]["seconds"] = time.perf_counter() - t
    out = Path(args.out)
    for a, result in results.items():
        path = out if len(adapts) == 1 else out.with_suffix(f".{a}.json")
        path.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
