"""Writing an annotated record: WFDB annotation file, CSV, JSON summary and a PNG of the summary.

Every file is written to a temporary name in its destination folder and renamed, so a reader
never sees half a file and an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.apply.annotate import Annotation
from ecgzoo.errors import DataError
from ecgzoo.paths import atomic_write_bytes, default_file_mode

EXTENSION = "ecgzoo"  # the WFDB annotator name: NAME.ecgzoo beside NAME.hea


def output_paths(ann: Annotation, out_dir: Path | None = None) -> dict[str, Path]:
    """Where the outputs of ``ann`` go: beside the record unless ``out_dir`` is given."""
    folder = Path(out_dir) if out_dir is not None else ann.path.parent
    stem = ann.record
    return {
        "wfdb": folder / f"{stem}.{EXTENSION}",
        "csv": folder / f"{stem}.{EXTENSION}.csv",
        "json": folder / f"{stem}.{EXTENSION}.json",
        "png": folder / f"{stem}.{EXTENSION}.png",
    }


_WFDB_NAME = re.compile(r"[-\w]+")  # wfdb.wrann's own rule


def check_output_name(name: str, where: Path) -> None:
    """Refuse (before any work) a record name the outputs cannot carry: WFDB annotation files
    take letters, digits, ``-`` and ``_`` only (spaces, ``$``, commas, quotes, newlines or
    brackets would fail only after the whole record was annotated)."""
    if not _WFDB_NAME.fullmatch(name):
        raise DataError(
            f"{where}: record name {name!r} cannot name a WFDB annotation (letters, digits, "
            "- and _ only); rename the file"
        )


def check_output_folder(folder: Path) -> None:
    """Refuse (before any work) an output folder that is a file or cannot be written."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise DataError(f"{probe}: not a folder; cannot write outputs under it")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise DataError(f"{probe}: not writable; choose another --out")


def write_wfdb(ann: Annotation, path: Path) -> None:
    """The WFDB annotation file ``wfdb.wrann`` would write (:mod:`ecgzoo.apply.wfdb_ann`,
    numpy-encoded), written atomically."""
    from ecgzoo.apply.wfdb_ann import annotation_file

    samples, symbols = ann.samples, ann.symbols()
    spans = [] if ann.quality is None else ann.quality.spans
    if spans:  # a '~' (signal quality change) where each unusable stretch starts and ends
        marks = np.asarray([x for span in spans for x in span], dtype=np.int64)
        marks = np.minimum(marks, max(ann.n_samples - 1, 0))
        order = np.argsort(np.concatenate([samples, marks]), kind="stable")
        samples = np.concatenate([samples, marks])[order]
        every = symbols + ["~"] * len(marks)
        symbols = [every[i] for i in order]
    data = annotation_file(path.name, samples, symbols, ann.fs)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def _csv_cell(value: str) -> str:
    """One cell as the csv module writes it (quoted where it holds a comma, quote or newline)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()


def csv_text(ann: Annotation) -> str:
    """``time_s,sample,class,p_<class>...,usable``: one row per beat (empty probabilities for
    a beat that could not be classified; ``usable`` 0 inside an unusable stretch). Rows are
    %-formatted (pandas took 0.6 s for a day's 107k beats); each cell that holds a name is
    escaped by the csv module."""
    probs = [f"p_{c}" for c in ann.class_names]
    header = ["time_s", "sample", "class", *probs, "usable"]
    k = len(ann.class_names)
    cells = {i: _csv_cell(c) for i, c in enumerate(ann.class_names)}
    unclassified = _csv_cell("unclassified") + "," * k
    row = "%.4f,%d,%s," + ",".join(["%.5g"] * k) + ",%d"
    times = (ann.samples / ann.fs).tolist()
    samples = np.asarray(ann.samples, dtype=np.int64).tolist()
    labels = np.asarray(ann.labels).tolist()
    prob = np.asarray(ann.prob, dtype=np.float64).tolist()
    usable = ann.usable().astype(int).tolist()
    lines = [",".join(_csv_cell(h) for h in header)]
    for t, n, label, p, u in zip(times, samples, labels, prob, usable, strict=True):
        if label >= 0:
            lines.append(row % (t, n, cells[label], *p, u))
        else:
            lines.append(f"{t:.4f},{n},{unclassified},{u}")
    return "\n".join(lines) + "\n"


def summary_png(summary: dict[str, Any]) -> bytes:
    """Heart-rate trend and beat counts per class, as PNG bytes."""
    # a bare Figure on the Agg canvas and fixed margins: pyplot and tight_layout took ~2 s of
    # the ~10 s a day's Holter takes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.2))
    FigureCanvasAgg(fig)
    a, b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    trend = summary["hr_trend"]
    a.plot([p["t_s"] / 3600 for p in trend], [p["hr_bpm"] for p in trend], lw=1.2)
    a.set_xlabel("time (h)")
    a.set_ylabel("heart rate (bpm, median per minute)")
    a.set_title(f"{summary['record']} ({summary['lead']})", y=1.0)  # fixed: no auto-layout
    a.grid(alpha=0.3)
    counts = {k: v for k, v in summary["counts"].items() if v}
    b.bar(list(counts), list(counts.values()), color="tab:blue")
    b.set_yscale("log")
    b.set_title("beats per class", y=1.0)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.22)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def write_outputs(
    ann: Annotation, summary: dict[str, Any], out_dir: Path | None = None, plots: bool = True
) -> dict[str, Path]:
    """Write the WFDB annotation, CSV, JSON summary (and PNG); returns their paths.

    All of them or none: each is written in full under a temporary name first, and only
    then are they renamed into place (a full disk leaves no partial set behind).
    """
    paths = output_paths(ann, out_dir)
    if not plots:
        paths.pop("png")
    folder = paths["csv"].parent
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=folder, prefix=f".{ann.record}.{EXTENSION}."))
    try:
        staged = {k: stage / p.name for k, p in paths.items()}
        write_wfdb(ann, staged["wfdb"])
        staged["csv"].write_text(csv_text(ann))
        staged["json"].write_text(json.dumps(summary, indent=1) + "\n")
        if plots:
            staged["png"].write_bytes(summary_png(summary))
        for path in paths.values():
            if path.is_dir():
                raise DataError(f"{path}: a folder is in the way of this output")
        for key, path in paths.items():
            os.chmod(staged[key], default_file_mode())
            os.replace(staged[key], path)
    except OSError as exc:
        raise DataError(
            f"{folder}: cannot write the outputs of {ann.record} ({exc.strerror})"
        ) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return paths
