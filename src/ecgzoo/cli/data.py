"""`ecgzoo data fetch|prepare|info`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import console, data_app, database_name, rich_table

# command-line names of the catalog's databases beyond those the other commands know
_FETCH_ALIASES = {"cinc2021": "challenge-2021"}


@data_app.command("fetch")
def data_fetch(
    database: Annotated[
        str, typer.Argument(help="mitdb, svdb, cinc2017 (challenge-2017) or cinc2021")
    ],
    version: Annotated[
        str | None, typer.Option(help="database version (default: the newest catalogued)")
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option(help="cinc2021: fetch only this folder, e.g. training/georgia (repeatable)"),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="re-hash every file of an existing copy")
    ] = False,
) -> None:
    """Download (or copy from the mirror), verify and unpack a PhysioNet database."""
    from ecgzoo.data.physionet import CATALOG, fetch, fetch_summary, verify_fetched

    name = _FETCH_ALIASES.get(database, database)
    if name not in CATALOG:
        name = database_name(database)
    if verify:
        for problem in verify_fetched(name, version, include=include)[:10]:
            console.print(f"[yellow]fetching again[/yellow] {problem}")
    path = fetch(name, version, include=include, verify=verify)
    s = fetch_summary(name, version)
    unverified = s["unverified"]
    console.print(
        f"[green]ready[/green] {path}: {s['files']} files, {s['bytes'] / 1e6:.1f} MB; "
        f"{s['pinned']} checked against upstream's published SHA-256, {s['listed']} against "
        f"the source's SHA256SUMS.txt, {len(unverified)} not verified"
    )
    if unverified:
        shown = ", ".join(unverified[:3]) + (" ..." if len(unverified) > 3 else "")
        console.print(
            f"[yellow]not verified[/yellow] (no checksum for them at the source "
            f"or pinned upstream): {shown}"
        )


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
