"""The typer application and the shared console helpers every command module uses."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

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

# markup off: paths, record names and values print as they are (a "[/x]" in a path is text,
# not a closing tag that crashes rich); the few styled lines pass markup=True and escape values
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

TABLE_WIDTH = 80  # every table the CLI prints fits a plain 80-column terminal


def table_width(rows: list[dict]) -> int:
    """Characters a rich table of ``rows`` needs with no cell wrapped (borders included)."""
    if not rows:
        return 0
    widths = [
        max([len(str(col))] + [len(format_value(r.get(col))) for r in rows]) for col in rows[0]
    ]
    return sum(widths) + 3 * len(widths) + 1


def transpose(rows: list[dict], corner: str = "") -> list[dict]:
    """Rows become columns: each row's first value heads a column, each other key is a row
    (``split x label`` counts become ``label x split``)."""
    first = next(iter(rows[0]))
    names = [str(r[first]) for r in rows]
    return [
        {corner: key, **{name: r.get(key) for name, r in zip(names, rows, strict=True)}}
        for key in rows[0]
        if key != first
    ]


def rich_table(rows: list[dict], title: str | None = None, corner: str = "") -> Table:
    """A rich table of ``rows`` (dicts sharing keys); text columns left, numbers right.

    A table wider than 80 columns whose transpose fits is printed transposed (``corner``
    names its first column); cells fold rather than vanish when nothing fits.
    """
    if rows and table_width(rows) > TABLE_WIDTH:
        flipped = transpose(rows, corner)
        if table_width(flipped) < table_width(rows):
            rows = flipped
    table = Table(title=title)
    if not rows:
        return table
    text_cols = ("model", "class", "run", corner)
    for col in rows[0]:
        numeric = any(
            isinstance(r.get(col), int | float) and not isinstance(r.get(col), bool) for r in rows
        )
        justify = "right" if numeric and col not in text_cols else "left"
        table.add_column(str(col), justify=justify, overflow="fold")
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
