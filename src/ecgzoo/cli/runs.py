"""`ecgzoo train`, `evaluate` and `compare`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import app, console, rich_table
from ecgzoo.cli.printing import fail_on_skipped, print_metrics, print_operating_point
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
    blend: Annotated[
        list[str] | None,
        typer.Option(
            help="beat models, --data: average RUN with this model (repeatable), each fed by "
            "its own InputSpec, as `annotate --model A --model B` does"
        ),
    ] = None,
) -> None:
    """Score a trained model on a split of its dataset, or on external challenge-format data."""
    folder = resolve_run(run)  # a mistake is refused before torch loads
    if data is not None:
        existing_input(data)
    if blend:
        print_blend_metrics(run, blend, data, lead, adapt, af_gate, as_json)
        return
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
        fail_on_skipped(metrics)
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
        if split != "train" and hasattr(opts, "without_training_only"):
            # val and test never hold the training-only records of other databases: skip them
            data_cfg = data_cfg.with_options(opts.without_training_only())
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


def print_blend_metrics(
    run: str, others: list[str], data: Path | None, lead: str | None, adapt: str, af_gate: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """``evaluate RUN --data FOLDER --blend OTHER``: the average of beat models, on reference
    beats (``ecgzoo.apply.blend``)."""
    if data is None:
        raise EcgzooError("--blend: averages beat models on --data FOLDER")
    if adapt != "none" or af_gate:
        raise EcgzooError("--blend: scores the plain average (no --adapt, no --af-gate)")
    for ref in others:
        resolve_run(ref)
    from ecgzoo.apply.blend import ModelBlend, score_blend_folder
    from ecgzoo.apply.model import load_model

    models = ModelBlend([load_model(ref) for ref in [run, *others]])
    metrics = score_blend_folder(models, data, lead)
    metrics.update({"run": models.ref, "data": str(data)})
    if as_json:
        print(json.dumps(metrics))
    else:
        print_metrics(metrics, f"{models.ref}: {data}")
    fail_on_skipped(metrics)


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
