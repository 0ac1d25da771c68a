"""The typer application and the shared console helpers every command module uses."""

from __future__ import annotations

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
    "svdb": "svdb",
    "challenge-2021": "challenge-2021",
    "cinc2021": "challenge-2021",
    "ptb-xl": "ptb-xl",
    "ptbxl": "ptb-xl",
}


def database_name(name: str) -> str:
    """The catalog name of a database given on the command line (aliases accepted)."""
    if name not in DATABASES:
        raise EcgzooError(
            f"unknown database {name!r} (choose mitdb, svdb, cinc2017, cinc2021 or ptbxl)"
        )
    return DATABASES[name]


def rich_table(rows: list[dict], title: str | None = None) -> Table:
    """A rich table of ``rows`` (dicts sharing keys); text columns left, numbers right."""
    table = Table(title=title)
    if not rows:
        return table
    for col in rows[0]:
        table.add_column(str(col), justify="left" if col in ("model", "class", "run") else "right")
    for row in rows:
        table.add_row(*(format_value(v) for v in row.values()))
    return table


def format_value(value) -> str:
    """A table cell: ``n/a`` for missing, 4 decimals for small floats, thousands separators."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
