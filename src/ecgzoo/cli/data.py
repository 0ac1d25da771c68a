"""`ecgzoo data fetch|prepare|info`: a database of the fetch catalog, or a registered dataset
made from one (its ``DatasetSpec.database``); what a dataset adds to ``info`` and ``fetch`` are
its spec's hooks, so a new dataset needs no edit here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecgzoo.cli.app import console, data_app, rich_table, transpose
from ecgzoo.datasets import registry
from ecgzoo.errors import EcgzooError

DB_HELP = "a PhysioNet database (mitdb, challenge-2017 ...) or a dataset made from one (cinc2017)"


def _choices() -> str:
    """The databases, each with the dataset names that stand for it."""
    from ecgzoo.fetch.catalog import available_databases

    out = []
    for db in available_databases():
        aliases = [n for n in registry.names() if registry.get(n).database == db and n != db]
        out.append(db + (f" ({', '.join(aliases)})" if aliases else ""))
    return ", ".join(out)


def database_name(name: str) -> str:
    """The catalog name of a database given on the command line: a catalog name (``mitdb``)
    or a registered dataset made from one (``mitbih``)."""
    from ecgzoo.fetch.catalog import available_databases

    if name in available_databases():
        return name
    if name in registry.names() and registry.get(name).database is not None:
        return str(registry.get(name).database)
    raise EcgzooError(f"unknown database {name!r} (choose {_choices()})")


def dataset_for(database: str) -> registry.DatasetSpec:
    """The registered dataset prepared from a database given on the command line."""
    spec = registry.for_database(database_name(database))
    if spec is None:
        raise EcgzooError(f"{database}: no registered dataset is prepared from it")
    return spec


@data_app.command("fetch")
def data_fetch(
    database: Annotated[str, typer.Argument(help=DB_HELP)],
    version: Annotated[
        str | None, typer.Option(help="database version (default: the newest catalogued)")
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option(
            help="cinc2021 / ptbxl: fetch only this folder, e.g. training/georgia or records100"
        ),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="re-hash every file of an existing copy")
    ] = False,
) -> None:
    """Download (or copy from the mirror), verify and unpack a PhysioNet database."""
    from rich.markup import escape

    from ecgzoo.fetch.physionet import fetch, fetch_summary, verify_fetched

    name = database_name(database)
    if verify:
        for problem in verify_fetched(name, version, include=include)[:10]:
            console.print(f"[yellow]fetching again[/yellow] {escape(str(problem))}", markup=True)
    path = fetch(name, version, include=include, verify=verify)
    s = fetch_summary(name, version)
    unverified = s["unverified"]
    console.print(
        f"[green]ready[/green] {escape(str(path))}: {s['files']} files, {s['bytes'] / 1e6:.1f} MB; "
        f"{s['pinned']} checked against upstream's published SHA-256, {s['listed']} against "
        f"the source's SHA256SUMS.txt, {len(unverified)} not verified",
        markup=True,
    )
    if unverified:
        shown = ", ".join(unverified[:3]) + (" ..." if len(unverified) > 3 else "")
        console.print(
            f"[yellow]not verified[/yellow] (no checksum for them at the source "
            f"or pinned upstream): {escape(shown)}",
            markup=True,
        )
    dataset = registry.for_database(name)
    line = dataset.fetched_line(path) if dataset is not None else None
    if line:
        console.print(line)


@data_app.command("prepare")
def data_prepare(
    database: Annotated[str, typer.Argument(help=DB_HELP)],
    segmentation: Annotated[str, typer.Option(help="beats: kachuee or centered")] = "kachuee",
    split: Annotated[str, typer.Option(help="beats: intra, inter (mitdb) or group")] = "intra",
    seed: Annotated[int, typer.Option(help="split seed")] = 0,
) -> None:
    """Prepare (and cache) the arrays of a dataset and print their class counts per split."""
    from ecgzoo.datasets.loading import load_data

    data_cfg = _data_config(database, segmentation, split, seed)
    data = load_data(data_cfg)
    console.print(counts_table(data, f"{database}: examples per split"))
    console.print(how_prepared(data_cfg), highlight=False)
    console.print(
        f"input shape per example: ({data.n_leads}, {data.n_samples}); "
        f"side features: {data.n_features}"
    )


def _data_config(database: str, segmentation: str, split: str, seed: int = 0):
    """The data section for a database named on the command line, validated."""
    from ecgzoo.experiment import build_config

    spec = dataset_for(database)
    data: dict = {"dataset": spec.name}
    options = spec.options_class()
    if (
        spec.section_name
        and options is not None
        and {"segmentation", "split"} <= set(options.model_fields)
    ):  # a beat dataset: the command's segmentation and split
        data[spec.section_name] = {"segmentation": segmentation, "split": split}
    tree: dict = {"data": {**data, "seed": seed}}
    if spec.task == "multilabel":  # the training defaults must fit the task to validate
        tree["train"] = {"loss": "bce", "monitor": "val_macro_auroc"}
    return build_config(tree, source="options").data


def split_counts(data) -> list[dict]:
    """One row per split: examples per class (multi-label: positives per label), records."""
    import numpy as np

    rows = []
    for name in ("train", "val", "test"):
        split = data.split(name)
        y = np.asarray(split.y)
        counts = y.sum(axis=0) if y.ndim == 2 else np.bincount(y, minlength=len(data.class_names))
        row: dict = {"split": name}
        row.update({c: int(n) for c, n in zip(data.class_names, counts, strict=True)})
        row["total" if y.ndim == 1 else "records"] = int(len(y))
        if y.ndim == 1:
            row["records"] = int(len(set(split.groups.tolist())))
        rows.append(row)
    return rows


def counts_table(data, title: str):
    """Class (label) counts with the classes as rows and the splits as columns: a 26-label
    table stays 4 columns wide."""
    corner = "label" if data.meta.get("multilabel") else "class"
    return rich_table(transpose(split_counts(data), corner), title=title, corner=corner)


def how_prepared(data_cfg) -> str:
    """One line naming the segmentation and split the counts come from."""
    options = data_cfg.options.model_dump()
    if options.get("fold") is None or options.get("n_folds") is None:  # k-fold not in use
        options = {k: v for k, v in options.items() if k not in ("fold", "n_folds")}
    keys = ("segmentation", "split", "fold", "n_folds", "val_fold", "test_fraction")
    shown = {k: v for k, v in options.items() if k in keys and v is not None}
    parts = ", ".join(f"{k} {v}" for k, v in shown.items())
    return f"prepared as data.dataset={data_cfg.dataset}: {parts}, seed {data_cfg.seed}"


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise EcgzooError(f"--out: {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EcgzooError(f"--out: cannot create {out} ({exc.strerror})") from None


@data_app.command("info")
def data_info(
    database: Annotated[str, typer.Argument(help=DB_HELP)],
    out: Annotated[Path, typer.Option(help="folder for the PNGs")] = Path("runs/data-info"),
    segmentation: Annotated[str, typer.Option(help="beats: kachuee or centered")] = "kachuee",
    split: Annotated[str, typer.Option(help="beats: intra, inter (mitdb) or group")] = "intra",
) -> None:
    """Class counts per split as a table (multi-label: positives per label), plus PNGs."""
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.report import plots

    db = database_name(database)
    _check_out(out)
    data_cfg = _data_config(database, segmentation, split)
    data = load_data(data_cfg)
    rows = split_counts(data)
    title = f"{database}: " + (
        "positives per label and split" if data.meta.get("multilabel") else "examples per split"
    )
    console.print(counts_table(data, title))
    console.print(how_prepared(data_cfg), highlight=False)
    extras = dataset_for(database).info_extras(data_cfg)  # the dataset's own tables
    counts = {r["split"]: {c: r[c] for c in data.class_names} for r in rows}
    plots.plot_class_distribution(
        counts, out / f"{db}_class_distribution.png", title=f"{database}: class distribution"
    )
    if "lengths" in extras:
        lengths, labels = extras["lengths"]
        plots.plot_length_distribution(
            lengths, labels, data.class_names, out / f"{db}_length_distribution.png"
        )
    for title, table in extras.get("tables", []):
        console.print(rich_table(table, title=title))
    train, task = data.train, registry.get(data_cfg.dataset).task
    if task == "multilabel":
        _multilabel_examples(data, out / f"{db}_example_recordings.png")
    else:  # single-label: a few inputs per class (beats, or recordings)
        kind = "beats" if task == "beats" else "recordings"
        plots.plot_example_grid(
            train.x[:, 0, :], train.y, data.class_names, out / f"{db}_example_{kind}.png",
            per_class=4 if task == "beats" else 2, fs=data.sampling_rate,
        )  # fmt: skip
    console.print(f"plots written to {out}")


def _multilabel_examples(data, path: Path) -> None:
    """Lead II (else the first) of a few recordings, titled by their most frequent label."""
    import numpy as np

    from ecgzoo.report import plots

    y = np.asarray(data.train.y)
    leads = [name.lower() for name in data.meta.get("leads", [])]
    lead = leads.index("ii") if "ii" in leads else 0
    primary = np.argmax(y * (y.sum(axis=0) + 1)[None, :], axis=1)  # the most frequent positive
    plots.plot_example_grid(
        data.train.x[:, lead, :], primary, data.class_names, path, per_class=1,
        fs=data.sampling_rate,
    )  # fmt: skip
