"""`ecgzoo scale`: sweep resnet1d over depth, width, kernel and pooling on Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import app, console, rich_table

SHOWN = ("point", "params", "rf_seconds", "macs", "train_seconds", "status")


@app.command()
def scale(
    config: Annotated[Path, typer.Argument(help="base experiment YAML (any dataset)")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides")] = None,
    grid: Annotated[Path, typer.Option(help="grid YAML: depth, width, kernel, pooling")] = Path(
        "configs/scale/mitbih_small.yaml"
    ),
    cpus_per_trial: Annotated[float, typer.Option(help="CPUs per grid point")] = 1,
    gpus_per_trial: Annotated[float, typer.Option(help="GPUs per grid point")] = 0,
    address: Annotated[str | None, typer.Option(help="join this Ray cluster")] = None,
    max_concurrent: Annotated[int | None, typer.Option(help="points at a time")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted sweep")] = False,
    output: Annotated[Path | None, typer.Option(help="sweep folder")] = None,
    report_only: Annotated[
        bool, typer.Option(help="train nothing: redraw table and plots of the finished points")
    ] = False,
) -> None:
    """Train resnet1d at every D x C x K x pooling point; write a table and the study's plots."""
    from ecgzoo.experiment import load_config
    from ecgzoo.study import load_grid, run_sweep

    base = load_config(config, overrides or [])
    if base.model.name != "resnet1d":  # the study is defined on resnet1d: say what is trained
        console.print(
            f"note: the scale study trains resnet1d at every grid point; {config}'s model "
            f"({base.model.name}) is not used, its data, training and split are",
            markup=False,
            highlight=False,
        )
    sweep = load_grid(grid)
    result = run_sweep(
        base,
        sweep,
        output=output,
        resume=resume,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        address=address,
        max_concurrent=max_concurrent,
        report_only=report_only,
    )
    metric = f"test_{sweep.metric}"
    rows = [{k: r.get(k) for k in (*SHOWN[:-1], metric, SHOWN[-1])} for r in result.rows]
    console.print(rich_table(rows, title=f"scale sweep ({result.new_points} points trained now)"))
    console.print(f"table, best scales and plots written to {result.sweep_dir}")
