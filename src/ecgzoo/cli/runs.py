"""`ecgzoo train`, `evaluate` and `compare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import app, console, rich_table
from ecgzoo.errors import EcgzooError
from ecgzoo.paths import existing_input, resolve_run


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="experiment YAML (see configs/)")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides")] = None,
    overwrite: Annotated[
        bool, typer.Option(help="replace a finished run of the same name")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Train a model; an interrupted run of the same name resumes from its last checkpoint."""
    from ecgzoo.experiment import load_config

    cfg = load_config(config, overrides or [])  # a mistake is refused before torch loads
    if (
        overwrite
        and cfg.model.name != "lightgbm"
        and cfg.train.epochs == 0
        and not cfg.train.init_from
    ):
        # zero epochs from random weights: the "run" would be an untrained model
        raise EcgzooError(
            f"--overwrite with train.epochs=0 (and no train.init_from) would replace "
            f"{Path(cfg.output_dir) / cfg.name} with untrained weights; refusing"
        )
    from ecgzoo.train.engine import train_run

    result = train_run(cfg, progress=not quiet, overwrite=overwrite)
    if not result.primary:  # an extra process of a data-parallel run: rank 0 reports
        return
    from ecgzoo.runs.runfolder import stop_line

    console.print(stop_line(result.metrics), highlight=False)
    print_metrics(result.metrics["test"], f"{cfg.name}: test split")
    console.print(f"run folder: {result.run_dir}")


def print_skipped(m: dict) -> None:
    """The records left out of the figures, said in the text output too (not only --json)."""
    skipped = m.get("skipped") or []
    if skipped:
        console.print(f"warning: {len(skipped)} record(s) skipped, not scored:")
        for line in skipped:
            console.print(f"  skipped: {line}", highlight=False)


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


@app.command()
def evaluate(
    run: Annotated[str, typer.Argument(help="run folder or pretrained:NAME")],
    split: Annotated[str, typer.Option(help="train, val or test")] = "test",
    data: Annotated[Path | None, typer.Option(help="external records (folder or zip)")] = None,
    reference: Annotated[Path | None, typer.Option(help="reference labels for --data")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    lead: Annotated[str | None, typer.Option(help="beat models, --data: lead by name")] = None,
    operating_point: Annotated[
        str,
        typer.Option(
            help="argmax; accuracy (best val macro F1 at no loss of val accuracy); recall "
            "(best val macro recall at val accuracy >= --accuracy-floor). Weights are chosen "
            "on the run's validation split, never on the scored split"
        ),
    ] = "argmax",
    accuracy_floor: Annotated[
        float | None, typer.Option(help="--operating-point recall: least val accuracy (0.969)")
    ] = None,
    adapt: Annotated[
        str,
        typer.Option(
            help="beat models, --data: per-record adaptation (adabn, prior_em, cluster, self_train)"
        ),
    ] = "none",
    af_gate: Annotated[
        bool,
        typer.Option(
            help="beat models, --data: no S beat where the CinC 2017 rhythm model calls a 30 s "
            "window atrial fibrillation"
        ),
    ] = False,
) -> None:
    """Score a trained model on a split of its dataset, or on external challenge-format data."""
    folder = resolve_run(run)  # a mistake is refused before torch loads
    if data is not None:
        existing_input(data)
    from ecgzoo.metrics.operating_points import OPERATING_POINTS
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.train.evaluate import check_data_matches, evaluate_split

    if operating_point not in OPERATING_POINTS:
        raise EcgzooError(
            f"--operating-point: unknown {operating_point!r} ({', '.join(OPERATING_POINTS)})"
        )
    if accuracy_floor is not None and not 0.0 <= accuracy_floor <= 1.0:
        raise EcgzooError(f"--accuracy-floor: {accuracy_floor:g} is not between 0 and 1")
    if accuracy_floor is not None and operating_point != "recall":
        raise EcgzooError("--accuracy-floor: applies to --operating-point recall only")
    loaded = load_run(run, weights=False)  # the checks every command applies
    folder, cfg = loaded.folder, loaded.config
    if (
        cfg.model.name == "ensemble"
        and data is None
        and (split, operating_point)
        != (
            "test",
            "argmax",
        )
    ):
        # its members trained on each other's validation folds: only test is untouched
        raise EcgzooError(
            f"{run}: an ensemble is scored on its test split only (its out-of-fold validation "
            "figures are in metrics.json)"
        )
    if operating_point != "argmax":
        if data is not None:
            raise EcgzooError("--operating-point: scores a split of the run's dataset, not --data")
        if split not in ("train", "val", "test"):
            raise EcgzooError(f"--split: unknown split {split!r} (train, val or test)")
        from ecgzoo.train.trees import is_tree_run

        if is_tree_run(folder):
            raise EcgzooError(f"--operating-point: {run} is a tree model (its priors are tuned)")
        print_operating_point(folder, cfg, run, split, operating_point, accuracy_floor, as_json)
        return
    if adapt != "none" and data is None:
        raise EcgzooError("--adapt: applies to beat models scored on --data FOLDER")
    if af_gate and data is None:
        raise EcgzooError("--af-gate: applies to beat models scored on --data FOLDER")
    beat_result = beat_model_metrics(folder, cfg, split, data, reference, lead, adapt, af_gate)
    if beat_result is not None:  # beat models on a folder of records, and tree models
        metrics, label = beat_result
        metrics.update({"run": str(run), "data": label})
        if as_json:
            print(json.dumps(metrics))
        else:
            print_metrics(metrics, f"{run}: {label}")
        return
    model, spec = load_run(run).model, loaded.spec
    if data is not None or reference is not None:
        if data is None or reference is None:
            raise EcgzooError("--data and --reference go together")
        from ecgzoo.datasets import registry

        dataset = registry.get(cfg.data.dataset)
        arrays, classes, rate = dataset.load_external(cfg.data, data, reference, loaded.input)
        label = str(data)
    else:
        if split not in ("train", "val", "test"):
            raise EcgzooError(f"--split: unknown split {split!r} (train, val or test)")
        from ecgzoo.datasets.loading import load_data

        data_cfg, opts = cfg.data, cfg.data.options
        if split != "train" and getattr(opts, "extra_databases", None):
            # val and test never hold the extra (training-only) records: skip preparing them
            data_cfg = data_cfg.with_options(opts.model_copy(update={"extra_databases": []}))
        prepared = load_data(data_cfg)
        arrays = prepared.split(split)
        label = f"{split} split"
        classes, rate = prepared.class_names, prepared.sampling_rate
    # model.json is checked against the data before anything is scored under its class names
    check_data_matches(spec, folder, arrays, classes, rate)
    metrics, _ = evaluate_split(model, spec, arrays)
    metrics.update({"run": str(run), "data": label, "model": spec.name})
    if as_json:
        print(json.dumps(metrics))
    else:
        print_metrics(metrics, f"{run}: {label}")


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


def _seedless_config(folder: Path) -> str:
    """A run's config without its name, output folder and ``train.seed``: what its seeds share."""
    from ecgzoo.runs.runfolder import read_run_config

    if not (folder / "config.yaml").is_file():
        return str(folder)  # nothing to group on: a group of its own
    tree = read_run_config(folder).model_dump(mode="json")
    for key in ("name", "output_dir"):
        tree.pop(key, None)
    tree.get("train", {}).pop("seed", None)
    return json.dumps(tree, sort_keys=True)


def _read_metrics(path: Path) -> dict:
    """A run's ``metrics.json``; a corrupt or foreign file is one line naming it."""
    from ecgzoo.runs.runfolder import read_metrics

    return read_metrics(path)


def beat_model_metrics(
    folder, cfg, split, data, reference, lead, adapt="none", af_gate=False
) -> tuple[dict, str] | None:
    """Metrics of a beat model on ``--data FOLDER``, or of a tree model on a split; else None."""
    from ecgzoo.datasets import registry
    from ecgzoo.train.trees import is_tree_run

    tree = is_tree_run(folder)
    if data is not None and registry.get(cfg.data.dataset).task == "beats":
        if reference is not None:
            raise EcgzooError("--reference: beat models read reference beats from each .atr")
        from ecgzoo.train.external_beats import evaluate_beat_folder

        rhythm = None
        if af_gate:
            from ecgzoo.apply.af_gate import AfGate

            rhythm = AfGate().of_signal
        return evaluate_beat_folder(folder, cfg, data, lead, adapt, rhythm), str(data)
    if af_gate:
        raise EcgzooError(f"--af-gate: {folder} is not a beat model scored on --data FOLDER")
    if not tree:
        return None
    if data is not None:
        raise EcgzooError(f"--data: {folder} is a beat model; pass a folder of WFDB records")
    if split != "test":
        raise EcgzooError("--split: tree models are scored on their test records only")
    from ecgzoo.train.trees import evaluate_tree_table, protocol_tables

    _, table = protocol_tables(cfg.data.options)
    key = cfg.data.option_key("context_groups")
    return evaluate_tree_table(folder, cfg.data.options, table, key), "test split"


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="run folders or pretrained:NAME")],
    out: Annotated[Path | None, typer.Option(help="write OUT.md and OUT.csv")] = None,
    average: Annotated[
        str,
        typer.Option(
            help="macro (every class counts the same) or weighted (by support, as the HADLN "
            "study reports); the column names say which"
        ),
    ] = "macro",
    seeds: Annotated[
        bool,
        typer.Option(
            "--seeds",
            help="one row per group of runs whose configs differ only in train.seed (and "
            "name): mean and sample sd of each column, and the number of seeds",
        ),
    ] = False,
) -> None:
    """One table of finished runs: model, precision, recall, F1, accuracy, parameters, time."""
    folders = [resolve_run(run) for run in runs]  # mistakes first, before the heavy imports
    from ecgzoo.report.tables import compare_table, mean_over_seeds, to_markdown, write_table

    if average not in ("macro", "weighted"):
        raise EcgzooError(f"--average: must be macro or weighted, got {average!r}")

    summaries = []
    for run, folder in zip(runs, folders, strict=True):
        path = folder / "metrics.json"
        if not path.is_file():
            raise EcgzooError(f"{folder}: no metrics.json (the run has not finished)")
        summaries.append({"run": str(run), **_read_metrics(path)})
    rows = [
        {"run": row["run"], **{k: v for k, v in row.items() if k != "run"}}
        for row in compare_table(summaries, average=average, extra_columns={"run": "run"})
    ]
    if seeds:  # compare_table sorted the rows: group them by their own folders' configs
        by_run = dict(zip(runs, folders, strict=True))
        rows = mean_over_seeds(rows, [_seedless_config(by_run[row["run"]]) for row in rows])
    # the averaged columns carry their averaging in their names, in the table and its files
    named = {"precision": f"{average} P", "recall": f"{average} R", "F1": f"{average} F1"}
    named |= {f"{col} sd": f"{name} sd" for col, name in named.items()}
    rows = [{named.get(k, k): v for k, v in row.items()} for row in rows]
    console.print(rich_table(rows, title=f"comparison (test split, {average} averages)"))
    if out is not None:
        write_table(rows, out)
        console.print(f"written {out}.md and {out}.csv")
    else:
        console.print(to_markdown(rows))
