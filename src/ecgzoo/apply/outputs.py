"""Writing an annotated record: WFDB annotation file, CSV, JSON summary and a PNG of the summary.

Every file is written to a temporary name in its destination folder and renamed, so a reader
never sees half a file and an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.apply.annotate import Annotation
from ecgzoo.errors import DataError
from ecgzoo.paths import default_file_mode

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
    """``wfdb.wrann`` into a private temporary folder beside ``path``, then a rename."""
    import wfdb

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        ext = path.suffix[1:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wfdb.wrann(
                path.stem,
                ext,
                np.asarray(ann.samples, dtype=np.int64),
                symbol=ann.symbols(),
                write_dir=str(tmp),
                fs=ann.fs,
            )
        os.replace(tmp / f"{path.stem}.{ext}", path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def csv_text(ann: Annotation) -> str:
    """``time_s,sample,class,p_<class>...``: one row per beat (empty probabilities for a beat
    that could not be classified)."""
    import pandas as pd

    frame = pd.DataFrame({"time_s": np.round(ann.samples / ann.fs, 4), "sample": ann.samples})
    frame["class"] = ann.label_names()
    for i, c in enumerate(ann.class_names):
        frame[f"p_{c}"] = ann.prob[:, i]
    return frame.to_csv(index=False, float_format="%.5g", lineterminator="\n")


def summary_png(summary: dict[str, Any]) -> bytes:
    """Heart-rate trend and beat counts per class, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [3, 1]})
    trend = summary["hr_trend"]
    a.plot([p["t_s"] / 3600 for p in trend], [p["hr_bpm"] for p in trend], lw=1.2)
    a.set_xlabel("time (h)")
    a.set_ylabel("heart rate (bpm, median per minute)")
    a.set_title(f"{summary['record']} ({summary['lead']})")
    a.grid(alpha=0.3)
    counts = {k: v for k, v in summary["counts"].items() if v}
    b.bar(list(counts), list(counts.values()), color="tab:blue")
    b.set_yscale("log")
    b.set_title("beats per class")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
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
