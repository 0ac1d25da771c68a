"""The building blocks of ecgzoo's self-contained HTML pages: the inline style sheet, tables,
PNG images as ``data:`` URIs and the page around the sections (no script, no network)."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path
from typing import Any

STYLE = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #bbb;padding:4px 8px}
th{background:#e8eef7}td.num{text-align:right}img{max-width:100%;margin:6px 0}
.strips{max-height:900px;overflow-y:auto;border:1px solid #ddd;padding:4px}
"""
HEADLINE = ["accuracy", "macro_f1", "weighted_f1", "roc_auc_macro", "n_examples"]


def img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _cell(v: Any) -> str:
    if v is None:
        return "<td>n/a</td>"
    if isinstance(v, float):
        return f'<td class="num">{v:.4f}</td>'
    if isinstance(v, int):
        return f'<td class="num">{v:,}</td>'
    return f"<td>{html.escape(str(v))}</td>"


def table(rows: list[dict[str, Any]]) -> str:
    """An HTML table of dict rows sharing keys."""
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(_cell(v) for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, sections: list[str]) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>\n"
    )


def plot_png(draw, *args: Any) -> bytes:
    """Run an ``ecgzoo.report.plots`` function into a temporary file; its PNG bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plot.png"
        draw(*args, path)
        return path.read_bytes()


def duration_text(seconds: float | None) -> str:
    """Seconds as a person reads them: ``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds is None:
        return "n/a"
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
