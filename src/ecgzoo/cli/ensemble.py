"""`ecgzoo ensemble`: join trained runs (e.g. the members of a k-fold ensemble) into one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import app, console, rich_table


@app.command()
def ensemble(
    runs: Annotated[list[Path], typer.Argument(help="member run folders (two or more)")],
    output: Annotated[Path, typer.Option(help="the ensemble's run folder (must not exist)")],
    operating_point: Annotated[
        str | None,
        typer.Option(
            help="choose decision weights out of fold (accuracy, recall, sv_f1) and store them "
            "in the ensemble"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Average the probabilities of trained runs that share a test split; score the ensemble
    on that test split and out of fold on the members' validation examples."""
    from ecgzoo.cli.printing import print_metrics
    from ecgzoo.train.ensemble import join_runs

    metrics = join_runs(list(runs), output, operating_point)
    if as_json:
        print(json.dumps({"run": str(output), **metrics}))
        return
    figures = [{k: v for k, v in m.items() if k != "environment"} for m in metrics["members"]]
    console.print(rich_table(figures, title="members (their own figures)"))
    print_metrics(
        metrics["val_out_of_fold"],
        f"{output}: out of fold on {metrics['n_val_out_of_fold']} validation examples",
    )
    print_metrics(metrics["test"], f"{output}: test split")
