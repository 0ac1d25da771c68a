"""`ecgzoo data fetch|prepare|info`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import console, data_app, database_name, rich_table
from ecgzoo.errors import EcgzooError


@data_app.command("fetch")
def data_fetch(
    database: Annotated[str, typer.Argument(help="mitdb or cinc2017 (challenge-2017)")],
    version: Annotated[str, typer.Option(help="database version")] = "1.0.0",
) -> None:
    """Download (or copy from the mirror), verify and unpack a PhysioNet database."""
    from ecgzoo.data.physionet import fetch

    path = fetch(database_name(database), version)
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
    console.print(rich_table(_split_counts(data), title=f"{database}: examples per split"))
    console.print(
        f"input shape per example: ({data.n_leads}, {data.n_samples}); "
        f"side features: {data.n_features}"
    )


def _data_config(database: str, segmentation: str, split: str, seed: int = 0):
    """The data section for a database named on the command line, validated."""
    from ecgzoo.config import build_config

    if database_name(database) == "mitdb":
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

    db = database_name(database)
    if out.exists() and not out.is_dir():  # checked before the (slow) data preparation
        raise EcgzooError(f"--out: {out} is a file, not a folder")
    data_cfg = _data_config(database, segmentation, split)
    data = load_data(data_cfg)
    rows = _split_counts(data)
    console.print(rich_table(rows, title=f"{database}: examples per split"))
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
            rich_table(
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
