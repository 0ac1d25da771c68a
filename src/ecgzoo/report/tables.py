"""Result tables: markdown pipe tables, CSV files and a model-comparison table."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.paths import atomic_write

__all__ = ["compare_table", "format_value", "mean_over_seeds", "to_markdown", "write_table"]

# Where compare_table looks for each column, first match wins (see its docstring).
_COMPARE_ALIASES: dict[str, tuple[str, ...]] = {
    "model": ("model", "name", "model_name", "run", "run_name"),
    "precision": ("{avg}_precision", "precision"),
    "recall": ("{avg}_recall", "recall"),
    "F1": ("{avg}_f1", "f1", "F1"),
    "accuracy": ("accuracy", "acc"),
    "parameters": ("parameters", "n_parameters", "n_params", "num_params", "params_count"),
    "train time (s)": ("train_time_s", "train_time", "fit_time_s", "train_seconds", "time_s"),
}
_NESTED = ("metrics", "test", "test_metrics", "summary")


def format_value(value: Any) -> str:
    """One cell as text: ints as is, floats with 4 significant decimals, ``None`` as ''."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        a = abs(v)
        if a == 0:
            return "0"
        if a >= 1e6 or a < 1e-4:
            return f"{v:.3e}"
        if a >= 100:
            return f"{v:.1f}"
        if a >= 1:
            return f"{v:.3f}"
        return f"{v:.4f}"
    return str(value)


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(str(key), None)
    return list(seen)


def _is_numeric_column(rows: Sequence[Mapping[str, Any]], col: str) -> bool:
    values = [row.get(col) for row in rows if row.get(col) is not None]
    return bool(values) and all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        for v in values
    )


def to_markdown(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
) -> str:
    """A markdown pipe table of ``rows`` (dicts); ``columns`` picks and orders the columns.

    Without ``columns`` the columns are the union of the rows' keys in first-seen order.
    Missing cells are empty, floats go through :func:`format_value`, numeric columns are
    right-aligned, and ``|`` inside text is escaped. Ends with a newline.
    """
    cols = _columns(rows, columns)
    if not cols:
        return ""

    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in cols) + " |"]
    lines.append(
        "|" + "|".join("---:" if _is_numeric_column(rows, c) else ":---" for c in cols) + "|"
    )
    for row in rows:
        lines.append("| " + " | ".join(cell(format_value(row.get(c))) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def write_table(
    rows: Sequence[Mapping[str, Any]],
    path_base: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
) -> tuple[Path, Path]:
    """Write ``{path_base}.md`` (markdown) and ``{path_base}.csv``, each atomically.

    ``path_base`` has no extension (``reports/compare`` -> ``reports/compare.md`` and
    ``reports/compare.csv``); parent folders are created. The CSV keeps full float precision
    and leaves missing cells empty. Returns ``(md_path, csv_path)``.
    """
    import pandas as pd

    base = Path(path_base)
    md_path = base.parent / f"{base.name}.md"
    csv_path = base.parent / f"{base.name}.csv"
    cols = _columns(rows, columns)
    frame = pd.DataFrame([{c: row.get(c) for c in cols} for row in rows], columns=cols)
    markdown = to_markdown(rows, cols)

    def write_md(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(markdown)

    def write_csv(tmp: Path) -> None:
        frame.to_csv(tmp, index=False)

    atomic_write(md_path, write_md)
    atomic_write(csv_path, write_csv)
    return md_path, csv_path


def _lookup(summary: Mapping[str, Any], keys: Iterable[str]) -> Any:
    scopes: list[Mapping[str, Any]] = [summary]
    scopes += [summary[n] for n in _NESTED if isinstance(summary.get(n), Mapping)]
    for key in keys:
        for scope in scopes:
            if scope.get(key) is not None:
                return scope[key]
    return None


def compare_table(
    run_summaries: Iterable[Mapping[str, Any]],
    average: str = "macro",
    sort_by: str | None = "F1",
    extra_columns: Mapping[str, str | Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """Rows ``model, precision, recall, F1, accuracy, parameters, train time (s)`` per run.

    Each summary is a dict; a value is looked up at its top level and then in its nested
    ``metrics``, ``test``, ``test_metrics`` or ``summary`` dicts, trying these keys in order:

    * model: ``model``, ``name``, ``model_name``, ``run``, ``run_name``
    * precision / recall / F1: ``{average}_precision`` / ``{average}_recall`` /
      ``{average}_f1`` (``average`` is ``"macro"`` or ``"weighted"``), then plain
      ``precision`` / ``recall`` / ``f1``
    * accuracy: ``accuracy``, ``acc``
    * parameters: ``parameters``, ``n_parameters``, ``n_params``, ``num_params``, ``params_count``
    * train time (s): ``train_time_s``, ``train_time``, ``fit_time_s``, ``train_seconds``,
      ``time_s``

    Missing values are ``None``. ``extra_columns`` maps further column names to a key or a
    list of keys looked up the same way (``{"challenge F1": "challenge_f1"}``). Rows are
    sorted by ``sort_by`` descending (missing last) unless it is ``None``.
    """
    if average not in ("macro", "weighted"):
        raise ValueError(f"average must be 'macro' or 'weighted', got {average!r}")
    extra = {
        col: (keys,) if isinstance(keys, str) else tuple(keys)
        for col, keys in (extra_columns or {}).items()
    }
    rows: list[dict[str, Any]] = []
    for summary in run_summaries:
        row: dict[str, Any] = {}
        for col, aliases in _COMPARE_ALIASES.items():
            row[col] = _lookup(summary, [a.format(avg=average) for a in aliases])
        for col, keys in extra.items():
            row[col] = _lookup(summary, keys)
        if isinstance(row["parameters"], float) and row["parameters"].is_integer():
            row["parameters"] = int(row["parameters"])
        rows.append(row)
    if sort_by is not None:
        if rows and sort_by not in rows[0]:
            raise ValueError(f"cannot sort by {sort_by!r}: columns are {list(rows[0])}")
        present = [r for r in rows if r.get(sort_by) is not None]
        absent = [r for r in rows if r.get(sort_by) is None]
        rows = sorted(present, key=lambda r: r[sort_by], reverse=True) + absent
    return rows


def mean_over_seeds(
    rows: Sequence[Mapping[str, Any]], groups: Sequence[str], label: str = "run"
) -> list[dict[str, Any]]:
    """One row per group of ``rows`` (``groups[i]`` names row i's group), in first-seen order.

    Each numeric column becomes the group's mean beside ``"<column> sd"``, the sample standard
    deviation (``ddof=1``; ``None`` for a group of one run, where no spread was measured);
    ``seeds`` counts the group's runs and ``label`` joins their names with spaces. ``parameters``
    keeps its first value (the runs of a group differ only in their seed). A column missing in
    some run of a group is averaged over the runs that have it.
    """
    if len(rows) != len(groups):
        raise ValueError(f"{len(rows)} rows but {len(groups)} group keys")
    members: dict[str, list[Mapping[str, Any]]] = {}
    for row, key in zip(rows, groups, strict=True):
        members.setdefault(key, []).append(row)
    out: list[dict[str, Any]] = []
    for group in members.values():
        first = group[0]
        merged: dict[str, Any] = {}
        for col in first:
            values = [r.get(col) for r in group]
            numbers = [
                float(v)
                for v in values
                if isinstance(v, int | float | np.integer | np.floating)
                and not isinstance(v, bool | np.bool_)
            ]
            if col == label:
                merged[col] = " ".join(str(v) for v in values)
            elif col == "parameters" or not numbers:
                merged[col] = first[col]
            else:
                merged[col] = float(np.mean(numbers))
                merged[f"{col} sd"] = float(np.std(numbers, ddof=1)) if len(numbers) > 1 else None
        merged["seeds"] = len(group)
        out.append(merged)
    return out
