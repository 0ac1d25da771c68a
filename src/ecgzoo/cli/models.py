"""`ecgzoo models list`."""

from __future__ import annotations

from typing import Annotated

import typer

from ecgzoo.cli.app import console, models_app, rich_table
from ecgzoo.errors import EcgzooError


@models_app.command("list")
def models_list(
    n_samples: Annotated[int, typer.Option(help="input length for the parameter count")] = 187,
    n_classes: Annotated[int, typer.Option(help="classes for the parameter count")] = 5,
) -> None:
    """Every registered model with a one-line description and its default parameter count."""
    from ecgzoo.models.registry import (
        available_models,
        available_tree_models,
        build_model,
        count_parameters,
    )

    rows = []
    for info in available_models():
        try:
            kwargs = {"pretrained": False} if info.name == "spectrogram_cnn" else {}
            length = 3000 if info.name == "spectrogram_cnn" else n_samples
            params = count_parameters(build_model(info.name, 1, length, n_classes, **kwargs))
        except EcgzooError as exc:
            params = f"n/a ({exc})"
        rows.append({"model": info.name, "parameters": params, "description": info.description})
    for info in available_tree_models():
        rows.append({"model": info.name, "parameters": "trees", "description": info.description})
    console.print(rich_table(rows, title="ecgzoo models"))
