"""End-to-end EC57-style scores of ``ecgzoo annotate`` (no reference R peaks used).

For every record: detect the QRS complexes, classify each beat with the model, match the
detections to the reference beats within 150 ms, and score detection (Se, +P) and the beat
classes over matched beats (Se, +P, F1), gross and per record (:mod:`ecgzoo.apply.scoring`).

    nice python benchmarks/annotate_ec57.py --database mitdb --records ds2 --out runs/ec57_ds2.json
    nice python benchmarks/annotate_ec57.py --database mitdb --records all --out runs/ec57_all.json
    nice python benchmarks/annotate_ec57.py --database svdb --out runs/ec57_svdb.json

``mitdb`` comes from ``ecgzoo.fetch.physionet.fetch``; ``svdb`` is unpacked from the PhysioNet
mirror's zip (``$ECGZOO_PHYSIONET_MIRROR/svdb/1.0.0/...zip``) into ``$ECGZOO_HOME/svdb``.
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
import zipfile
from pathlib import Path

from ecgzoo.apply.annotate import annotate_source
from ecgzoo.apply.model import load_model
from ecgzoo.apply.scoring import (
    ec57_exclusions,
    reference_beats,
    score_record,
    summarise_scores,
)
from ecgzoo.apply.signals import open_source
from ecgzoo.datasets.splits import DS1, DS2
from ecgzoo.paths import ecgzoo_home, shared_mirror
from ecgzoo.readers.mitdb import default_folder as mitdb_folder

SVDB_ZIP = "svdb/1.0.0/mit-bih-supraventricular-arrhythmia-database-1.0.0.zip"


def svdb_folder() -> Path:
    """SVDB records unpacked (bare file names only) from the mirror's zip, once."""
    target = ecgzoo_home() / "svdb"
    if (target / "RECORDS").is_file():
        return target
    mirror = shared_mirror()
    if mirror is None:
        raise SystemExit("set ECGZOO_PHYSIONET_MIRROR to the local PhysioNet mirror")
    target.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(r"^(?:[^/]+/)*([0-9A-Za-z_]+\.(?:hea|dat|atr)|RECORDS)$")
    with zipfile.ZipFile(mirror / SVDB_ZIP) as zf:
        for info in zf.infolist():
            m = pattern.match(info.filename)
            if m and ".." not in info.filename:
                (target / m.group(1)).write_bytes(zf.read(info))
    return target


def fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["mitdb", "svdb"], default="mitdb")
    parser.add_argument("--records", default="all", help="all, ds1, ds2 or comma-separated")
    parser.add_argument("--model", default="pretrained:mitbih-inter")
    parser.add_argument("--engine", default="torch")
    parser.add_argument("--detector", default="pantompkins1985")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    folder = mitdb_folder() if args.database == "mitdb" else svdb_folder()
    names = (folder / "RECORDS").read_text().split()
    if args.records == "ds1":
        names = [n for n in names if n in DS1]
    elif args.records == "ds2":
        names = [n for n in names if n in DS2]
    elif args.records != "all":
        names = args.records.split(",")
    model = load_model(args.model, engine=args.engine)
    per_record, per_record_ec57, seconds = [], [], 0.0
    for name in names:
        src = open_source(folder / name)
        t = time.perf_counter()
        ann = annotate_source(src, model, detector=args.detector)
        seconds += time.perf_counter() - t
        ref_s, ref_l = reference_beats(folder / name)
        per_record.append(score_record(ann, ref_s, ref_l, model.class_names))
        spans = ec57_exclusions(folder / name, src.fs)
        per_record_ec57.append(score_record(ann, ref_s, ref_l, model.class_names, spans))
    print(f"{args.database} {args.records}: {len(names)} records, {seconds:.1f} s annotating")
    results = {}
    for rules, rows in (("whole", per_record), ("ec57", per_record_ec57)):
        scored = summarise_scores(rows, model.class_names)
        results[rules] = scored
        d = scored["detection"]
        print(f"\nrules: {rules}\n| TP | FN | FP | Se (%) | +P (%) |\n|---:|---:|---:|---:|---:|")
        print(f"| {d['tp']} | {d['fn']} | {d['fp']} | {fmt(d['Se'])} | {fmt(d['+P'])} |\n")
        print("| class | reference beats | Se (%) | +P (%) | F1 (%) |\n|:---|---:|---:|---:|---:|")
        for r in scored["classes"]:
            print(
                f"| {r['class']} | {r['ref_beats']} | {fmt(r['Se'])} | {fmt(r['+P'])} | "
                f"{fmt(r['F1'])} |"
            )
        scored["per_record_confusion"] = {r["record"]: r["confusion"].tolist() for r in rows}
        scored["per_record_detection"] = {r["record"]: [r["tp"], r["fn"], r["fp"]] for r in rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        results["seconds"] = seconds
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
