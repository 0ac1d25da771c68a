"""`ecgzoo tune` and `explain`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import app, console, rich_table
from ecgzoo.errors import EcgzooError


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
    wandb: Annotated[
        bool,
        typer.Option(
            help="also log every trial to Weights & Biases, offline (EXPERIMENT/wandb; "
            "`wandb sync` uploads it later)"
        ),
    ] = False,
) -> None:
    """Search hyperparameters with Ray Tune + HyperOpt (TPE) and ASHA; log trials to MLflow."""
    if mode not in ("max", "min"):
        raise EcgzooError(f"--mode: must be max or min, got {mode!r}")
    from ecgzoo.experiment import load_config
    from ecgzoo.tune.space import load_space

    # the config and the space are checked before Ray is imported (mistakes fail fast)
    base = load_config(config, overrides or [])
    load_space(space).check(base)
    from ecgzoo.tune.command import tune_command

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
        wandb=wandb,
    )


@app.command()
def explain(
    run: Annotated[str, typer.Argument(help="run folder or pretrained:NAME")],
    records: Annotated[
        list[str],
        typer.Argument(help="record names of the run's dataset; NAME:SAMPLE picks one beat"),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="folder for the PNGs and summary [RUN/explain, ./explain-NAME]"),
    ] = None,
    classes: Annotated[
        list[str] | None, typer.Option("--class", help="explain these classes (repeatable)")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="write into an --out folder that already holds files")
    ] = False,
) -> None:
    """Grad-CAM overlays per record and class, and how much attribution falls on padding."""
    from ecgzoo.paths import resolve_run

    resolve_run(run)  # mistakes are refused before torch loads
    from ecgzoo.explain.runner import default_out_dir

    out = out or default_out_dir(run)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise EcgzooError(
            f"--out: {out} already holds files (pass --overwrite to replace them, "
            "or choose another --out)"
        )
    from ecgzoo.explain import explain_run

    summary = explain_run(run, records, out, classes=classes)
    filler = summary.get("filler", "zero padding")
    rows = [
        {
            "record": row["record"],
            "true": row["true"],
            "predicted": row["predicted"],
            "p": row["probability"],
            "map for": target["class"],
            "on signal": _percent(target["signal_fraction"]),
            f"on {filler}": _percent(target["padding_fraction"]),
            f"{filler} share": _percent(row["padding_share"]),
        }
        for row in summary.get("records", [])
        for target in row["targets"]
    ]
    if rows:
        console.print(rich_table(rows, title=f"Grad-CAM: attribution on signal vs {filler}"))
        mean = summary["mean"]
        console.print(
            f"mean over {summary['n_maps']} map(s): {_percent(mean['padding_fraction'])} of the "
            f"attribution on the {filler}, which is {_percent(mean['padding_share'])} of the "
            f"input; p: {summary.get('probability_rule', 'one pass')}",
            highlight=False,
        )
    console.print(f"overlays and summary written to {out}")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
