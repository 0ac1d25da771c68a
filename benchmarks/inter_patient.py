"""Inter-patient ablation of the LightGBM beat model (issue 12): one row per lever, same budget.

Each row is ``ecgzoo train configs/mitbih_inter_lightgbm.yaml name=ROW output_dir=OUT
OVERRIDES...`` (printed with the table, so any row can be rerun alone); finished runs are
reused. Nothing is chosen on the test records: every row's model, early stopping and class
priors come from its training records only.

    PYTHONPATH=src python benchmarks/inter_patient.py --out runs/inter [--rows a,b] [--table]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

BASE = "configs/mitbih_inter_lightgbm.yaml"
ALL_GROUPS = "[rr_normalised,irregularity,morphology,median_beat]"
ROWS: dict[str, tuple[str, list[str]]] = {
    "baseline": (
        "absolute RR + raw morphology, DS1 only, no prior tuning",
        [
            "data.mitbih.context_groups=[rr_absolute,morphology]",
            "data.mitbih.amplitude_normalise=false",
            "data.mitbih.extra_databases=[]",
            "model.params.tune_priors=false",
        ],
    ),
    "rr_norm": (
        "+ normalised RR (instead of absolute)",
        [
            "data.mitbih.context_groups=[rr_normalised,morphology]",
            "data.mitbih.amplitude_normalise=false",
            "data.mitbih.extra_databases=[]",
            "model.params.tune_priors=false",
        ],
    ),
    "median": (
        "+ beat-vs-record-median-beat",
        [
            "data.mitbih.context_groups=[rr_normalised,morphology,median_beat]",
            "data.mitbih.amplitude_normalise=false",
            "data.mitbih.extra_databases=[]",
            "model.params.tune_priors=false",
        ],
    ),
    "amplitude": (
        "+ patient-wise amplitude normalisation",
        [
            "data.mitbih.context_groups=[rr_normalised,morphology,median_beat]",
            "data.mitbih.extra_databases=[]",
            "model.params.tune_priors=false",
        ],
    ),
    "irregularity": (
        "+ rhythm irregularity (AF-aware)",
        [
            f"data.mitbih.context_groups={ALL_GROUPS}",
            "data.mitbih.extra_databases=[]",
            "model.params.tune_priors=false",
        ],
    ),
    "priors": (
        "+ class priors tuned on out-of-fold DS1",
        [f"data.mitbih.context_groups={ALL_GROUPS}", "data.mitbih.extra_databases=[]"],
    ),
    "svdb": ("+ SVDB training records (full model)", []),
    "svdb_no_irregularity": (
        "full model without irregularity",
        ["data.mitbih.context_groups=[rr_normalised,morphology,median_beat]"],
    ),
    "svdb_no_priors": ("full model without prior tuning", ["model.params.tune_priors=false"]),
    "cross_mitdb_to_svdb": (
        "train all MIT-BIH (paced out) -> test SVDB",
        ["data.mitbih.extra_databases=[]", "data.mitbih.test_database=svdb"],
    ),
}


def command(name: str, out: str) -> str:
    """The CLI command of one row."""
    overrides = " ".join(f"'{o}'" if "[" in o else o for o in ROWS[name][1])
    return f"ecgzoo train {BASE} name={name} output_dir={out} {overrides}".strip()


def row_summary(name: str, metrics: dict) -> dict:
    """Accuracy and the AAMI S/V figures of one finished row (percent / F1)."""
    test = metrics["test"]
    aami = {r["class"]: r for r in test["aami"]}
    no232 = {r["class"]: r for r in test.get("without_232", [])}

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f}"

    def f1(v):
        return "n/a" if v is None else f"{v:.2f}"

    s, v = aami["S"], aami["V"]
    return {
        "row": name,
        "what": ROWS[name][0],
        "acc": pct(test["accuracy"]),
        "SVEB Se/+P/F1": f"{pct(s['Se'])} / {pct(s['+P'])} / {f1(s['F1'])}",
        "VEB Se/+P/F1": f"{pct(v['Se'])} / {pct(v['+P'])} / {f1(v['F1'])}",
        "SVEB F1 w/o 232": f1(no232["S"]["F1"]) if no232 else "n/a",
        "S false alarms in AF records": af_false_alarms(test),
    }


AF_RECORDS = ("202", "210", "219", "221", "222")  # atrial fibrillation / flutter (DS2)


def af_false_alarms(test: dict) -> str:
    """S false alarms summed over the AF/flutter records of DS2 (``n/a`` on another test set)."""
    rows = [test["per_record"].get(f"mitdb/{r}") for r in AF_RECORDS]
    if any(r is None for r in rows):
        return "n/a"
    return str(sum(r["S_fp"] for r in rows))


def markdown(rows: list[dict]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[k]) for k in head) + " |" for r in rows]
    return "\n".join(lines)


def per_record_table(metrics: dict) -> str:
    """Per-record S and V counts: reference, detected, false alarms."""
    rows = [
        {
            "record": rec,
            "S": r["S"],
            "S found": r["S_tp"],
            "S false alarms": r["S_fp"],
            "V": r["V"],
            "V found": r["V_tp"],
            "V false alarms": r["V_fp"],
        }
        for rec, r in metrics["test"]["per_record"].items()
    ]
    return markdown(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/inter")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--table", action="store_true", help="only print the finished rows")
    parser.add_argument("--per-record", help="print this finished row's per-record S/V table")
    args = parser.parse_args()
    if args.per_record:
        path = Path(args.out) / args.per_record / "metrics.json"
        print(per_record_table(json.loads(path.read_text())))
        return
    from ecgzoo.config import load_config
    from ecgzoo.train.trees import train_trees

    summaries = []
    for name in args.rows.split(","):
        folder = Path(args.out) / name
        if not (folder / "metrics.json").is_file():
            if args.table:
                continue
            cfg = load_config(BASE, [f"name={name}", f"output_dir={args.out}", *ROWS[name][1]])
            train_trees(cfg)
        metrics = json.loads((folder / "metrics.json").read_text())
        summaries.append(row_summary(name, metrics))
        print(markdown([summaries[-1]]).splitlines()[-1], flush=True)
    print(markdown(summaries))
    for name in args.rows.split(","):
        print(f"- {name}: `{command(name, args.out)}`")


if __name__ == "__main__":
    main()
