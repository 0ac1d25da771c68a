"""Inter-patient ablation (issue 12): one row per lever, same budget, DS1 (+ SVDB) -> DS2.

LightGBM rows (``ROWS``) are ``ecgzoo train configs/mitbih_inter_lightgbm.yaml name=ROW
output_dir=OUT OVERRIDES...``; torch rows (``TORCH_ROWS``) the same with
``configs/mitbih_inter_cnn_context.yaml``; ensemble rows (``ENSEMBLES``) average two finished
models' probabilities with equal weights. A ``pretrained:NAME`` row scores a shipped model the
same way. Commands are printed with the table, so any row can be rerun alone; finished runs
are reused. Nothing is chosen on the test records: every row's model, early stopping,
checkpoint and class priors come from its training records only.

    PYTHONPATH=src python benchmarks/inter_patient.py --out runs/inter [--rows a,b] [--table]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

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


# Torch beat models (ResNet1D) with the label-free RR context as side input, same protocol:
# trained on DS1 (+ SVDB where said), checkpoint and early stopping on DS1 validation records.
TORCH_BASE = "configs/mitbih_inter_cnn_context.yaml"
TORCH_ROWS: dict[str, tuple[str, list[str]]] = {
    "cnn_no_context": (
        "ResNet1D, beat only (no side input), DS1",
        ["data.mitbih.rr_context=false"],
    ),
    "cnn_context": ("ResNet1D + rr_context side features, DS1", []),
    "cnn_context_seed1": (
        "cnn_context with another training seed (noise estimate, not a candidate)",
        ["train.seed=1"],
    ),
    "cnn_context_no_irregularity": (
        "ResNet1D + the six RR ratios only (no irregularity), DS1",
        ["data.mitbih.rr_context_irregularity=false"],
    ),
    "cnn_context_wce": (
        "ResNet1D + rr_context, class-weighted cross-entropy, DS1",
        ["train.loss=weighted_ce", "train.class_weight_power=0.5"],
    ),
    "cnn_context_svdb": (
        "ResNet1D + rr_context, DS1 + SVDB training records",
        ["data.mitbih.extra_databases=[svdb]"],
    ),
}
# Probability averages (equal weights, fixed in advance) of two finished rows or shipped models.
ENSEMBLES: dict[str, tuple[str, str, str]] = {
    "cnn_context+lightgbm": (
        "mean of cnn_context and the shipped LightGBM probabilities",
        "cnn_context",
        "pretrained:mitbih-inter-lightgbm",
    ),
    "cnn_context_svdb+lightgbm": (
        "mean of cnn_context_svdb and the shipped LightGBM probabilities",
        "cnn_context_svdb",
        "pretrained:mitbih-inter-lightgbm",
    ),
}
ALL_ROWS = {**ROWS, **TORCH_ROWS, **{k: (v[0], []) for k, v in ENSEMBLES.items()}}


def command(name: str, out: str) -> str:
    """The CLI command of one row (an ensemble row: this script's ``--rows NAME``)."""
    if name in ENSEMBLES:
        return f"python benchmarks/inter_patient.py --out {out} --rows {name}"
    base, rows = (TORCH_BASE, TORCH_ROWS) if name in TORCH_ROWS else (BASE, ROWS)
    overrides = " ".join(f"'{o}'" if "[" in o else o for o in rows[name][1])
    return f"ecgzoo train {base} name={name} output_dir={out} {overrides}".strip()


def run_folder(ref: str, out: str) -> Path:
    """A row name's run folder under ``out``, or a ``pretrained:NAME`` folder."""
    from ecgzoo.runs.runfolder import resolve_run

    return resolve_run(ref) if ref.startswith("pretrained:") else Path(out) / ref


def torch_test_predictions(folder: Path) -> dict:
    """DS2 beats of a torch beat run, exactly as its test split: ``y, prob, group, sample``."""
    from ecgzoo.datasets import mitbih
    from ecgzoo.datasets.contextset import side_features
    from ecgzoo.datasets.splits import inter_patient_split
    from ecgzoo.runs.runfolder import read_run_config
    from ecgzoo.train.evaluate import load_trained_model, predict_proba, standardise_features

    options = read_run_config(folder).data.mitbih
    model, spec = load_trained_model(folder)
    arrays = mitbih.prepare_beats(mitbih.default_db_dir(), options)
    record = np.asarray(arrays["record"])
    _, ds2 = inter_patient_split(record)
    feats = None
    if spec.n_features:
        context = spec.side_features if spec.side_features != "rr_features" else None
        feats = side_features(arrays, context) if context else arrays["rr"]
        feats = standardise_features(np.asarray(feats)[ds2], spec)
    x = np.ascontiguousarray(arrays["x"][ds2])[:, None, :]
    return {
        "y": np.asarray(arrays["y"])[ds2],
        "prob": predict_proba(model, x, feats),
        "group": np.array([f"mitdb/{r}" for r in record[ds2]]),
        "sample": np.asarray(arrays["sample"])[ds2],
    }


def tree_test_predictions(folder: Path) -> dict:
    """DS2 beats of a LightGBM run (its own beat table): ``y, prob, group, sample``."""
    from ecgzoo.datasets.contextset import feature_matrix, load_table, subset_table
    from ecgzoo.datasets.splits import DS2
    from ecgzoo.examples.beat_context import check_groups
    from ecgzoo.runs.runfolder import read_run_config
    from ecgzoo.train.trees import load_tree_model, predict_ensemble

    options = read_run_config(folder).data.mitbih
    boosters, spec = load_tree_model(folder)
    # the trainer's own cached table of every MIT-BIH record, then the DS2 records
    table = subset_table(load_table("mitdb"), [f"mitdb/{r}" for r in DS2])
    X, y, group, _ = feature_matrix(table, check_groups(options.context_groups, "groups"),
                                    options.amplitude_normalise)  # fmt: skip
    prob = predict_ensemble(boosters, X, np.asarray(spec.params["class_weights"]))
    sample = np.asarray(table["sample"])[np.asarray(table["y"]) >= 0]
    return {"y": y, "prob": prob, "group": group, "sample": sample}


def test_predictions(ref: str, out: str) -> dict:
    from ecgzoo.train.trees import is_tree_run

    folder = run_folder(ref, out)
    return tree_test_predictions(folder) if is_tree_run(folder) else torch_test_predictions(folder)


def ensemble_metrics(name: str, out: str) -> dict:
    """Scores of the equal-weight probability mean of two models on the DS2 beats both score."""
    from ecgzoo.train.trees import inter_metrics

    a, b = (test_predictions(ref, out) for ref in ENSEMBLES[name][1:])
    index = {(g, int(s)): i for i, (g, s) in enumerate(zip(b["group"], b["sample"], strict=True))}
    pairs = [
        (i, index.get((g, int(s))))
        for i, (g, s) in enumerate(zip(a["group"], a["sample"], strict=True))
    ]
    ia = np.array([i for i, j in pairs if j is not None])
    ib = np.array([j for _, j in pairs if j is not None])
    if not np.array_equal(a["y"][ia], b["y"][ib]):
        raise SystemExit(f"{name}: the two models' DS2 labels disagree on shared beats")
    prob = (a["prob"][ia] + b["prob"][ib]) / 2
    m = inter_metrics(a["y"][ia], prob, a["group"][ia])
    m["n_beats_first"], m["n_beats_second"], m["n_beats_shared"] = len(a["y"]), len(b["y"]), len(ia)
    return {"test": m}


def torch_row_metrics(name: str, out: str) -> dict:
    """``test``: the AAMI/per-record scores of a finished torch row; ``val``: its DS1 val."""
    from ecgzoo.train.trees import inter_metrics

    folder = run_folder(name, out)
    p = torch_test_predictions(folder)
    val = json.loads((folder / "metrics.json").read_text())["val"]
    return {"test": inter_metrics(p["y"], p["prob"], p["group"]), "val": val}


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
    val = {r["class"]: r for r in metrics.get("val", {}).get("aami", [])}
    return {
        "row": name,
        "what": ALL_ROWS[name][0] if name in ALL_ROWS else "shipped model",
        "DS1 val S/V F1": f"{f1(val['S']['F1'])} / {f1(val['V']['F1'])}" if val else "n/a",
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


def row_metrics(name: str, out: str, table_only: bool) -> dict | None:
    """A row's metrics (trained or computed here if missing, unless ``table_only``)."""
    from ecgzoo.experiment import load_config

    folder = Path(out) / name
    if name in ROWS:
        if not (folder / "metrics.json").is_file():
            if table_only:
                return None
            from ecgzoo.train.trees import train_trees

            train_trees(load_config(BASE, [f"name={name}", f"output_dir={out}", *ROWS[name][1]]))
        return json.loads((folder / "metrics.json").read_text())
    if name.startswith("pretrained:"):
        return torch_row_metrics(name, out)
    cached = folder / "inter_metrics.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    if table_only:
        return None
    if name in TORCH_ROWS and not (folder / "metrics.json").is_file():
        from ecgzoo.train.engine import train_run

        overrides = [f"name={name}", f"output_dir={out}", *TORCH_ROWS[name][1]]
        train_run(load_config(TORCH_BASE, overrides))
    metrics = ensemble_metrics(name, out) if name in ENSEMBLES else torch_row_metrics(name, out)
    folder.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(metrics, indent=1, default=float))
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/inter")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--table", action="store_true", help="only print the finished rows")
    parser.add_argument("--per-record", help="print this finished row's per-record S/V table")
    args = parser.parse_args()
    if args.per_record:
        metrics = row_metrics(args.per_record, args.out, table_only=True)
        if metrics is None:
            raise SystemExit(f"{args.per_record}: not finished under {args.out}")
        print(per_record_table(metrics))
        return
    summaries = []
    for name in args.rows.split(","):
        metrics = row_metrics(name, args.out, args.table)
        if metrics is None:
            continue
        summaries.append(row_summary(name, metrics))
        print(markdown([summaries[-1]]).splitlines()[-1], flush=True)
    print(markdown(summaries))
    for name in args.rows.split(","):
        if not name.startswith("pretrained:"):
            print(f"- {name}: `{command(name, args.out)}`")


if __name__ == "__main__":
    main()
