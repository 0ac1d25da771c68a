"""The human-readable summary of ``ecgzoo explain``: attribution on signal against padding."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{100 * value:.1f}%"
    return f"{value:.2f}"


def summary_markdown(summary: dict[str, Any]) -> str:
    """``summary.md`` of an explanation: a table of the attribution on signal and padding per
    record and target class, and the mean over all maps."""
    lines = [
        f"# Grad-CAM: {summary['run']}",
        "",
        f"Model `{summary['model']}`, layer `{summary['layer']}` ({summary['grid']} grid), "
        f"dataset {summary['dataset']}.",
        "",
        f"Attribution on the {summary.get('filler', 'zero padding')} vs on the signal (padding "
        "share: the padding's share of the input; ratio > 1: the map favours the padding over "
        "a flat map).",
        "",
    ]
    if summary.get("probability_rule", "one pass") != "one pass":
        lines += [
            f"p: {summary['probability_rule']}; each map explains one pass over the whole input.",
            "",
        ]
    if summary.get("fill", "zero") != "zero":  # a padding-free run: the columns are its filler
        lines += [
            f"This run has no zero padding (`fill: {summary['fill']}`): the 'padding' columns "
            "measure the part after each recording (its own repeat or mirror image).",
            "",
        ]
    lines += [
        "| record | true | predicted | p | target | signal | padding | padding share | ratio "
        "| png |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary["records"]:
        for tgt in row["targets"]:
            lines.append(
                f"| {row['record']} | {row['true']} | {row['predicted']} "
                f"| {row['probability']:.2f} | {tgt['class']} "
                f"| {_fmt(tgt['signal_fraction'], True)} | {_fmt(tgt['padding_fraction'], True)} "
                f"| {_fmt(row['padding_share'], True)} | {_fmt(tgt['padding_ratio'])} "
                f"| {tgt['png']} |"
            )
    mean = summary["mean"]
    lines += [
        "",
        f"Mean over all maps: signal {_fmt(mean['signal_fraction'], True)}, padding "
        f"{_fmt(mean['padding_fraction'], True)}, padding share "
        f"{_fmt(mean['padding_share'], True)}.",
        "",
    ]
    return "\n".join(lines)
