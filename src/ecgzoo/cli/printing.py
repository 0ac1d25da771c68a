"""The metric tables of `ecgzoo train`, `evaluate` and `ensemble` (what the terminal shows)."""

from __future__ import annotations

import json

from ecgzoo.cli.app import console, rich_table
from ecgzoo.errors import EcgzooError


def print_skipped(m: dict) -> None:
    """The records left out of the figures, said in the text output too (not only --json)."""
    skipped = m.get("skipped") or []
    if skipped:
        console.print(f"warning: {len(skipped)} record(s) skipped, not scored:")
        for line in skipped:
            console.print(f"  skipped: {line}", highlight=False)


def fail_on_skipped(m: dict) -> None:
    """After the figures are out: a non-zero exit when records of ``--data`` could not be scored,
    as ``annotate`` and ``predict`` do for a folder (a script must not take a partial score for
    the whole folder's)."""
    skipped = m.get("skipped") or []
    if skipped:
        n_scored = len(m.get("per_record") or {})
        raise EcgzooError(
            f"{len(skipped)} of {len(skipped) + n_scored} records could not be scored (the "
            f"figures are over the other {n_scored}); the first: {skipped[0]}"
        )


def print_metrics(m: dict, title: str) -> None:
    """Summary, per-class and (where they apply) AAMI or challenge tables, narrow enough to read."""
    print_skipped(m)
    if "per_label" in m:
        print_multilabel_metrics(m, title)
        return
    names = {
        "accuracy": "accuracy",
        "macro_precision": "macro P",
        "macro_recall": "macro R",
        "macro_f1": "macro F1",
        "weighted_f1": "weighted F1",
        "roc_auc_macro": "ROC AUC",
    }
    console.print(rich_table([{names[k]: m.get(k) for k in names}], title=title))
    if "aami" in m:
        rows = [
            {
                "class": r["class"],
                "beats": r["support"],
                "Se": r["Se"],
                "+P": r["+P"],
                "FPR": r["FPR"],
                "F1": r["F1"],
            }
            for r in m["aami"]
        ]
        console.print(rich_table(rows, title="AAMI EC57 (Q beats not scored)"))
    else:
        rows = [
            {
                "class": c,
                "precision": pc["precision"],
                "recall": pc["recall"],
                "F1": pc["f1"],
                "support": pc["support"],
            }
            for c, pc in m["per_class"].items()
        ]
        console.print(rich_table(rows, title="per class"))
    if "challenge" in m:
        ch = m["challenge"]
        keys = ("challenge_f1", "f1_N", "f1_A", "f1_O", "f1_noisy")
        console.print(rich_table([{k: ch[k] for k in keys}], title="PhysioNet/CinC 2017"))


def print_multilabel_metrics(m: dict, title: str) -> None:
    """Macro summary, one row per label with examples, and the label groups."""
    summary = {
        "macro AUROC": m.get("macro_auroc"),
        "macro AUPRC": m.get("macro_auprc"),
        "macro F1": m.get("macro_f1"),
        "micro F1": m.get("micro_f1"),
        "labels scored": m.get("n_labels_scored"),
        "examples": m.get("n"),
    }
    if "challenge" in m:
        summary["2021 challenge score"] = m["challenge"].get("challenge_score")
    console.print(rich_table([summary], title=title))
    rows = [
        {
            "label": name,
            "positives": st["support"],
            "AUROC": st["auroc"],
            "AUPRC": st["auprc"],
            "F1": st["f1"],
            "threshold": st["threshold"],
        }
        for name, st in m["per_label"].items()
        if st["support"] > 0
    ]
    absent = [name for name, st in m["per_label"].items() if st["support"] == 0]
    note = f" ({len(absent)} labels without positives left out)" if absent else ""
    console.print(rich_table(rows, title="per label, thresholds chosen on validation" + note))
    groups = [
        {"group": g, "labels": len(st["labels"]), "macro AUROC": st["macro_auroc"],
         "macro AUPRC": st["macro_auprc"], "macro F1": st["macro_f1"]}
        for g, st in (m.get("groups") or {}).items()
    ]  # fmt: skip
    if groups:
        console.print(rich_table(groups, title="per label group"))


def print_operating_point(folder, cfg, run, split, point, floor, as_json) -> None:
    """``evaluate --operating-point``: weights chosen on the run's validation split."""
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.train.evaluate import check_data_matches, evaluate_at_operating_point

    loaded = load_run(folder)
    model, spec = loaded.model, loaded.spec
    prepared = load_data(cfg.data)
    for name in ("val", split):
        check_data_matches(
            spec, folder, prepared.split(name), prepared.class_names, prepared.sampling_rate
        )
    metrics = evaluate_at_operating_point(model, spec, prepared, split, point, floor)
    metrics.update({"run": str(run), "data": f"{split} split", "model": spec.name})
    if as_json:
        print(json.dumps(metrics))
        return
    print_metrics(metrics, f"{run}: {split} split, operating point {point}")
    op = metrics["operating_point"]
    rows = [{"class": c, "weight w": w} for c, w in op["weights"].items()]
    console.print(rich_table(rows, title="w, chosen on val"))
    names = {"accuracy": "accuracy", "macro_recall": "macro R", "macro_f1": "macro F1"}
    val = [
        {"point": name, **{names[k]: v for k, v in scores.items()}}
        for name, scores in (("argmax", op["argmax_scores"]), (point, op["chosen_scores"]))
    ]
    console.print(rich_table(val, title="val split, where w was chosen"))
    if not op["floor_met"]:
        console.print(f"warning: no weights reach val accuracy {op['accuracy_floor']:g}")
