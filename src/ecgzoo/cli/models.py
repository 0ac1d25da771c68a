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
    console.print(rich_table(pretrained_rows(), title="shipped trained models (pretrained:NAME)"))
    console.print(
        "use one by name: ecgzoo annotate RECORD --model pretrained:mitbih-inter, "
        "ecgzoo predict FOLDER --model pretrained:cinc2017, ecgzoo evaluate pretrained:NAME",
        highlight=False,
    )


def pretrained_rows() -> list[dict]:
    """One row per model shipped in the package: its name, kind, training data and classes."""
    from ecgzoo.paths import PRETRAINED_DIR, PRETRAINED_PREFIX
    from ecgzoo.runs.runfolder import describe_model
    from ecgzoo.safe_load import read_json, read_yaml

    rows = []
    for folder in sorted(p for p in PRETRAINED_DIR.iterdir() if (p / "model.json").is_file()):
        spec = read_json(folder / "model.json", "model.json")
        data = (read_yaml(folder / "config.yaml", "run config", mapping=True) or {}).get("data", {})
        dataset = data.get("dataset", "?")
        options = data.get(dataset) or {}
        split = options.get("split")
        model = read_yaml(folder / "config.yaml", "run config", mapping=True).get("model") or {}
        rows.append(
            {
                "name": PRETRAINED_PREFIX + folder.name,
                "model": describe_model(model)[0] or spec.get("name"),
                "trained on": dataset + (f" ({split})" if split else ""),
                "classes": " ".join(spec.get("class_names", [])),
            }
        )
    return rows
