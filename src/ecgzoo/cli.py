"""The ``ecgzoo`` command line: data, models, train, evaluate, compare, tune, explain."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ecgzoo.errors import EcgzooError

app = typer.Typer(
    help="Train, tune, compare and explain ECG arrhythmia classifiers on PhysioNet data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Obtain, prepare and describe databases.", no_args_is_help=True)
models_app = typer.Typer(help="The model zoo.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")

console = Console()
err_console = Console(stderr=True)

DATABASES = {
    "mitdb": "mitdb",
    "mitbih": "mitdb",
    "challenge-2017": "challenge-2017",
    "cinc2017": "challenge-2017",
}


def _database(name: str) -> str:
    if name not in DATABASES:
        raise EcgzooError(f"unknown database {name!r} (choose mitdb or cinc2017)")
    return DATABASES[name]


def _rich_table(rows: list[dict], title: str | None = None) -> Table:
    table = Table(title=title)
    if not rows:
        return table
    for col in rows[0]:
        table.add_column(str(col), justify="left" if col in ("model", "class", "run") else "right")
    for row in rows:
        table.add_row(*(_fmt(v) for v in row.values()))
    return table


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ----------------------------------------------------------------------------- data


@data_app.command("fetch")
def data_fetch(
    database: Annotated[str, typer.Argument(help="mitdb or cinc2017 (challenge-2017)")],
    version: Annotated[str, typer.Option(help="database version")] = "1.0.0",
) -> None:
    """Download (or copy from the mirror), verify and unpack a PhysioNet database."""
    from ecgzoo.data.physionet import fetch

    path = fetch(_database(database), version)
    console.print(f"[green]ready[/green] {path}")


@data_app.command("prepare")
def data_prepare(
    database: Annotated[str, typer.Argument(help="mitdb or cinc2017")],
    segmentation: Annotated[str, typer.Option(help="mitdb: kachuee or centered")] = "kachuee",
    split: Annotated[str, typer.Option(help="mitdb: intra or inter")] = "intra",
    seed: Annotated[int, typer.Option(help="split seed")] = 0,
) -> None:
    """Prepare (and cache) the arrays of a dataset and print their class counts per split."""
    from ecgzoo.data.loading import load_data

    data = load_data(_data_config(database, segmentation, split, seed))
    console.print(_rich_table(_split_counts(data), title=f"{database}: examples per split"))
    console.print(
        f"input shape per example: ({data.n_leads}, {data.n_samples}); "
        f"side features: {data.n_features}"
    )


def _data_config(database: str, segmentation: str, split: str, seed: int = 0):
    """The data section for a database named on the command line, validated."""
    from ecgzoo.config import build_config

    if _database(database) == "mitdb":
        data = {"dataset": "mitbih", "mitbih": {"segmentation": segmentation, "split": split}}
    else:
        data = {"dataset": "cinc2017"}
    return build_config({"data": {**data, "seed": seed}}, source="options").data


def _split_counts(data) -> list[dict]:
    import numpy as np

    rows = []
    for name in ("train", "val", "test"):
        split = data.split(name)
        counts = np.bincount(split.y, minlength=len(data.class_names))
        row = {"split": name}
        row.update({c: int(n) for c, n in zip(data.class_names, counts, strict=True)})
        row["total"] = int(counts.sum())
        row["records"] = int(len(set(split.groups.tolist())))
        rows.append(row)
    return rows


@data_app.command("info")
def data_info(
    database: Annotated[str, typer.Argument(help="mitdb or cinc2017")],
    out: Annotated[Path, typer.Option(help="folder for the PNGs")] = Path("runs/data-info"),
    segmentation: Annotated[str, typer.Option(help="mitdb: kachuee or centered")] = "kachuee",
    split: Annotated[str, typer.Option(help="mitdb: intra or inter")] = "intra",
) -> None:
    """Class counts per split as a table, plus PNGs of the distribution and example signals."""
    from ecgzoo.data.loading import load_data
    from ecgzoo.report import plots

    db = _database(database)
    data_cfg = _data_config(database, segmentation, split)
    data = load_data(data_cfg)
    rows = _split_counts(data)
    console.print(_rich_table(rows, title=f"{database}: examples per split"))
    out.mkdir(parents=True, exist_ok=True)
    counts = {r["split"]: {c: r[c] for c in data.class_names} for r in rows}
    plots.plot_class_distribution(
        counts, out / f"{db}_class_distribution.png", title=f"{database}: class distribution"
    )
    train = data.train
    if db == "mitdb":
        plots.plot_example_grid(
            train.x[:, 0, :],
            train.y,
            data.class_names,
            out / f"{db}_example_beats.png",
            fs=data.sampling_rate,
        )
    else:
        from ecgzoo.data.cinc2017 import record_table, summary

        _, labels, lengths = record_table(labels=data_cfg.cinc2017.labels)
        plots.plot_length_distribution(
            lengths, labels, data.class_names, out / f"{db}_length_distribution.png"
        )
        info = summary(labels=data_cfg.cinc2017.labels)
        console.print(
            _rich_table(
                [{"statistic": k, "seconds": v} for k, v in info["length_s"].items()],
                title="recording length",
            )
        )
        plots.plot_example_grid(
            train.x[:, 0, :],
            train.y,
            data.class_names,
            out / f"{db}_example_recordings.png",
            per_class=2,
            fs=data.sampling_rate,
        )
    console.print(f"plots written to {out}")


# ----------------------------------------------------------------------------- models


@models_app.command("list")
def models_list(
    n_samples: Annotated[int, typer.Option(help="input length for the parameter count")] = 187,
    n_classes: Annotated[int, typer.Option(help="classes for the parameter count")] = 5,
) -> None:
    """Every registered model with a one-line description and its default parameter count."""
    from ecgzoo.models.registry import available_models, build_model, count_parameters

    rows = []
    for info in available_models():
        try:
            kwargs = {"pretrained": False} if info.name == "spectrogram_cnn" else {}
            length = 3000 if info.name == "spectrogram_cnn" else n_samples
            params = count_parameters(build_model(info.name, 1, length, n_classes, **kwargs))
        except EcgzooError as exc:
            params = f"n/a ({exc})"
        rows.append({"model": info.name, "parameters": params, "description": info.description})
    console.print(_rich_table(rows, title="ecgzoo models"))


# ----------------------------------------------------------------------------- train / evaluate


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
    from ecgzoo.config import load_config
    from ecgzoo.train.engine import train_run

    cfg = load_config(config, overrides or [])
    result = train_run(cfg, progress=not quiet and sys.stderr.isatty(), overwrite=overwrite)
    _print_metrics(result.metrics["test"], f"{cfg.name}: test split")
    console.print(f"run folder: {result.run_dir}")


def _print_metrics(m: dict, title: str) -> None:
    """Summary, per-class and (where they apply) AAMI or challenge tables, narrow enough to read."""
    names = {
        "accuracy": "accuracy",
        "macro_precision": "macro P",
        "macro_recall": "macro R",
        "macro_f1": "macro F1",
        "weighted_f1": "weighted F1",
        "roc_auc_macro": "ROC AUC",
    }
    console.print(_rich_table([{names[k]: m.get(k) for k in names}], title=title))
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
        console.print(_rich_table(rows, title="AAMI EC57 (Q beats not scored)"))
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
        console.print(_rich_table(rows, title="per class"))
    if "challenge" in m:
        ch = m["challenge"]
        keys = ("challenge_f1", "f1_N", "f1_A", "f1_O", "f1_noisy")
        console.print(_rich_table([{k: ch[k] for k in keys}], title="PhysioNet/CinC 2017"))


@app.command()
def evaluate(
    run: Annotated[str, typer.Argument(help="run folder or pretrained:NAME")],
    split: Annotated[str, typer.Option(help="train, val or test")] = "test",
    data: Annotated[Path | None, typer.Option(help="external records (folder or zip)")] = None,
    reference: Annotated[Path | None, typer.Option(help="reference labels for --data")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Score a trained model on a split of its dataset, or on external challenge-format data."""
    from ecgzoo.train.evaluate import evaluate_split, load_trained_model
    from ecgzoo.train.runfolder import read_run_config, resolve_run

    folder = resolve_run(run)
    cfg = read_run_config(folder)
    model, spec = load_trained_model(folder)
    if data is not None or reference is not None:
        if data is None or reference is None:
            raise EcgzooError("--data and --reference go together")
        if cfg.data.dataset != "cinc2017":
            raise EcgzooError(f"--data: {run} was trained on {cfg.data.dataset}, not cinc2017")
        from ecgzoo.data.cinc2017 import load_external

        arrays = load_external(data, reference, cfg.data.cinc2017)
        label = str(data)
    else:
        if split not in ("train", "val", "test"):
            raise EcgzooError(f"--split: unknown split {split!r} (train, val or test)")
        from ecgzoo.data.loading import load_data

        arrays = load_data(cfg.data).split(split)
        label = f"{split} split"
    metrics, _ = evaluate_split(model, spec, arrays)
    metrics.update({"run": str(run), "data": label, "model": spec.name})
    if as_json:
        print(json.dumps(metrics))
    else:
        _print_metrics(metrics, f"{run}: {label}")


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="run folders or pretrained:NAME")],
    out: Annotated[Path | None, typer.Option(help="write OUT.md and OUT.csv")] = None,
) -> None:
    """One table of finished runs: model, precision, recall, F1, accuracy, parameters, time."""
    from ecgzoo.report.tables import compare_table, to_markdown, write_table
    from ecgzoo.train.runfolder import resolve_run

    summaries = []
    for run in runs:
        folder = resolve_run(run)
        path = folder / "metrics.json"
        if not path.is_file():
            raise EcgzooError(f"{folder}: no metrics.json (the run has not finished)")
        summaries.append({"run": str(run), **json.loads(path.read_text())})
    rows = [
        {"run": row["run"], **{k: v for k, v in row.items() if k != "run"}}
        for row in compare_table(summaries, extra_columns={"run": "run"})
    ]
    console.print(_rich_table(rows, title="comparison (test split)"))
    if out is not None:
        write_table(rows, out)
        console.print(f"written {out}.md and {out}.csv")
    else:
        console.print(to_markdown(rows))


@app.command()
def tune(
    config: Annotated[Path, typer.Argument(help="base experiment YAML")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides")] = None,
    space: Annotated[Path, typer.Option(help="search space YAML (configs/spaces/)")] = Path(
        "configs/spaces/cnn.yaml"
    ),
    num_samples: Annotated[int, typer.Option(help="number of trials")] = 64,
    metric: Annotated[str, typer.Option(help="metric to optimise")] = "val_macro_recall",
    mode: Annotated[str, typer.Option(help="max or min")] = "max",
    cpus_per_trial: Annotated[float, typer.Option(help="CPUs per trial")] = 1,
    gpus_per_trial: Annotated[float, typer.Option(help="GPUs per trial")] = 0,
    address: Annotated[str | None, typer.Option(help="join this Ray cluster")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted search")] = False,
    output: Annotated[Path | None, typer.Option(help="experiment folder")] = None,
) -> None:
    """Search hyperparameters with Ray Tune + HyperOpt (TPE) and ASHA; log trials to MLflow."""
    if mode not in ("max", "min"):
        raise EcgzooError(f"--mode: must be max or min, got {mode!r}")
    from ecgzoo.tune.search import tune_command

    tune_command(
        config,
        space,
        num_samples=num_samples,
        metric=metric,
        mode=mode,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        address=address,
        resume=resume,
        output=output,
        overrides=overrides or [],
    )


@app.command()
def explain(
    run: Annotated[str, typer.Argument(help="run folder or pretrained:NAME")],
    records: Annotated[
        list[str], typer.Argument(help="A00001 (cinc2017), 100 or 100:1234 (mitbih)")
    ],
    out: Annotated[Path | None, typer.Option(help="folder for the PNGs and summary")] = None,
    classes: Annotated[
        list[str] | None, typer.Option("--class", help="explain these classes (repeatable)")
    ] = None,
) -> None:
    """Grad-CAM overlays per record and class, and how much attribution falls on padding."""
    from ecgzoo.explain import explain_run
    from ecgzoo.train.runfolder import resolve_run

    folder = resolve_run(run)
    out = out or folder / "explain"
    summary = explain_run(run, records, out, classes=classes)
    rows = [
        {k: v for k, v in row.items() if not isinstance(v, dict | list)}
        for row in summary.get("records", [])
    ]
    if rows:
        console.print(_rich_table(rows, title="Grad-CAM: attribution on padding vs signal"))
    console.print(f"overlays and summary written to {out}")


def main() -> None:
    """Entry point: expected mistakes print one line, never a traceback."""
    try:
        app()
    except EcgzooError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(130) from None
