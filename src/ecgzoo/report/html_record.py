"""The HTML page of an annotated record (``NAME.ecgzoo.json`` written by ``ecgzoo annotate``):
the summary, the heart-rate plot and an ECG strip viewer (10-second strips with every beat's
label above it: the first strips and one around the first beat of each ectopic class).

The record is read only from beside its summary (:func:`record_beside`), never from a path the
JSON names.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.report.html_parts import duration_text, img, table
from ecgzoo.safe_load import read_json


def strip_png(
    signal: np.ndarray, fs: float, t0: float, samples: np.ndarray, labels: list[str], title: str
) -> bytes:
    """A 10-second ECG strip with each beat's label above its R peak."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = t0 + np.arange(len(signal)) / fs
    fig, ax = plt.subplots(figsize=(12, 2.2))
    ax.plot(t, signal, lw=0.8, color="black")
    top = float(np.max(signal)) if len(signal) else 1.0
    colours = {"N": "tab:green", "S": "tab:orange", "V": "tab:red", "F": "tab:purple"}
    for s, lab in zip(samples, labels, strict=True):
        ax.text(
            s / fs,
            top,
            lab,
            ha="center",
            va="bottom",
            fontsize=9,
            color=colours.get(lab, "tab:blue"),
            fontweight="bold",
        )
    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(float(np.min(signal)) - 0.1, top + 0.5)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mV")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def record_sections(summary_json: Path, n_strips: int = 3, strip_s: float = 10.0) -> list[str]:
    """Summary tables, heart-rate plot and ECG strips of an annotated record."""
    import pandas as pd

    from ecgzoo.apply.signals import open_source

    summary = read_json(summary_json, "annotation summary")
    _check_summary(summary, summary_json)
    csv = summary_json.parent / (summary_json.name[: -len(".json")] + ".csv")
    try:
        beats = pd.read_csv(csv)
        if not {"class", "time_s", "sample"} <= set(beats.columns):
            raise ValueError("columns class, time_s, sample missing")
    except (OSError, ValueError) as exc:
        raise DataError(f"{csv}: cannot read the annotated beats ({exc})") from None
    out = [f"<h2>Record {html.escape(summary['record'])} ({html.escape(summary['lead'])})</h2>"]
    out.append(
        table(
            [
                {
                    "beats": summary["n_beats"],
                    "duration": duration_text(summary["duration_s"]),
                    "median HR (bpm)": _rounded(summary["mean_hr_bpm"], 0),
                    "ectopic burden (%)": _rounded(summary["ectopic_burden_total_percent"], 2),
                    # older summaries name one lead: detection ran on it alone
                    "QRS detected on": " + ".join(summary.get("detected_on") or [summary["lead"]]),
                }
            ]
        )
    )
    out.append(
        table(
            [
                {
                    "class": c,
                    "beats": n,
                    "longest run": summary["longest_runs"].get(c, {}).get("beats"),
                }
                for c, n in summary["counts"].items()
            ]
        )
    )
    gate = summary.get("af_gate")
    if isinstance(gate, dict):  # annotate --af-gate: say where S was not allowed
        out.append(
            "<p>AF gate on: {n} beats lay in 30 s windows that {model} calls atrial "
            "fibrillation (P &ge; {t}); none of them is called S.</p>".format(
                n=html.escape(str(gate.get("beats_in_af_windows"))),
                model=html.escape(str(gate.get("model"))),
                t=html.escape(str(gate.get("threshold"))),
            )
        )
    png = summary_json.parent / (summary_json.name[: -len(".json")] + ".png")
    if png.is_file():
        out.append(img(png.read_bytes(), "heart rate and class counts"))
    record = record_beside(summary_json, summary)
    if record is None:
        out.append("<p>The record is not beside its annotation: no ECG strips.</p>")
        return out
    source = open_source(record, summary.get("fs"))
    lead = source.lead_index(summary["lead"])
    starts = [i * strip_s for i in range(n_strips)]
    for c in ("V", "S", "F"):
        hit = beats[beats["class"] == c]
        if len(hit):
            t_first = max(float(hit["time_s"].iloc[0]) - strip_s / 2, 0.0)
            if t_first >= n_strips * strip_s:  # not already shown in the first strips
                starts.append(t_first)
    strips = []
    for t0 in sorted(set(starts)):
        a = int(t0 * source.fs)
        b = min(a + int(strip_s * source.fs), source.n_samples)
        if b - a < 2:
            continue
        sig = source.read(lead, a, b)
        sel = beats[(beats["sample"] >= a) & (beats["sample"] < b)]
        strips.append(
            img(
                strip_png(
                    sig,
                    source.fs,
                    a / source.fs,
                    sel["sample"].to_numpy(),
                    sel["class"].astype(str).tolist(),
                    f"{summary['record']} {t0:.0f}-{t0 + strip_s:.0f} s",
                ),
                f"strip at {t0:.0f} s",
            )
        )
    out.append("<h2>ECG strips</h2><div class='strips'>" + "".join(strips) + "</div>")
    return out


_SUMMARY_TYPES = {
    "record": str,
    "lead": str,
    "n_beats": int,
    "duration_s": (int, float),
    "ectopic_burden_total_percent": (int, float),
    "counts": dict,
    "longest_runs": dict,
}


def _check_summary(summary: dict, path: Path) -> None:
    """An annotation summary as ``annotate`` writes it; anything else is one line."""
    for key, kind in _SUMMARY_TYPES.items():
        if not isinstance(summary.get(key), kind) or isinstance(summary.get(key), bool):
            raise DataError(
                f"{path}: not an ecgzoo annotation summary ({key!r} is missing or wrong)"
            )
    fs = summary.get("fs")
    if fs is not None and not (isinstance(fs, int | float) and 0 < fs < 1e6):
        raise DataError(f"{path}: not an ecgzoo annotation summary ('fs' is {fs!r})")


def record_beside(summary_json: Path, summary: dict) -> Path | None:
    """The annotated record itself, found beside its ``NAME.ecgzoo.json`` and nowhere else.

    The path stored in the JSON is never followed (it is relative to wherever ``annotate``
    ran, and a received JSON could name any file): only its file name is used, and it must be
    the record the JSON is named after. None when the record is not there.
    """
    from ecgzoo.apply.outputs import EXTENSION

    name = summary["record"]
    if summary_json.name != f"{name}.{EXTENSION}.json" or "/" in name or name in ("", ".", ".."):
        raise DataError(
            f"{summary_json}: its 'record' ({name!r}) is not the record it is named for"
        )
    stored = Path(str(summary.get("path") or name)).name
    if Path(stored).stem != name and stored != name:
        raise DataError(f"{summary_json}: 'path' names another record ({stored!r})")
    candidate = summary_json.parent / stored
    if candidate.suffix.lower() in (".csv", ".npy"):
        return candidate if candidate.is_file() else None
    return candidate if Path(f"{candidate}.hea").is_file() else None


def _rounded(value: float | None, digits: int) -> str | None:
    return None if value is None else f"{float(value):.{digits}f}"


def record_title(summary_json: Path) -> str:
    """``Record 208, annotated by pretrained:mitbih-inter`` (the file name is no title)."""
    summary = read_json(summary_json, "annotation summary")
    model = summary.get("model")
    return f"Record {summary.get('record')}" + (f", annotated by {model}" if model else "")


def record_summary(target: Path) -> Path:
    """The ``NAME.ecgzoo.json`` of an annotated record given as itself or as the record."""
    from ecgzoo.apply.outputs import EXTENSION

    stem = target.stem if target.suffix.lower() in (".hea", ".dat", ".csv", ".npy") else target.name
    return target if target.name.endswith(".json") else target.parent / f"{stem}.{EXTENSION}.json"
