"""Label whole recordings with a recording-level model (CinC 2017 rhythm classes).

Input: one record, a folder of records, or a zip of them. A zip is never extracted as is: only
members named ``<record>.hea`` / ``.mat`` / ``.dat`` (bare names, no folders escaping the
target) are copied into a private temporary folder, removed afterwards. Each recording is
prepared by the model's ``InputSpec`` (``model.json``), the same code as in training (resampled
to ``fs``, z-scored when ``normalise``, padded or trimmed to ``length_s``, transformed) and,
for a model trained on random crops, scored by multi-crop voting. Output: one row per record.

A multi-label 2021 run (:mod:`ecgzoo.apply.multilabel`) reads 12-lead ``.hea`` + ``.mat``
records instead: one row per record with a probability and a thresholded label per class, and
optionally the challenge's one-file-per-record outputs.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.apply.model import AppliedModel
from ecgzoo.apply.multilabel import MultilabelPrediction, find_2021_records, predict_2021
from ecgzoo.apply.signals import find_records, open_source
from ecgzoo.apply.threads import apply_threads, torch_threads
from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.examples.signal_checks import check_rate
from ecgzoo.fetch.safe_zip import PREDICT_LIMITS, extract, open_archive

_MEMBER_RE = re.compile(r"^(?:[A-Za-z0-9_\-]+/)*([A-Za-z0-9_\-]+\.(?:hea|mat|dat|csv|npy))$")
# the challenge's own files beside the records: tables, not recordings
_NOT_RECORDS = frozenset({"REFERENCE.csv", "REFERENCE-v3.csv", "REFERENCE-original.csv"})


@contextmanager
def _unzipped(archive: Path) -> Iterator[Path]:
    """A private folder holding the zip's record files under their bare names.

    Unpacked by :func:`ecgzoo.fetch.safe_zip.extract` (size and ratio caps, one name from two
    members refused); the folder is removed on every exit, SIGTERM included (the CLI turns it
    into an exception).
    """

    def bare(info: zipfile.ZipInfo) -> str | None:
        m = _MEMBER_RE.match(info.filename)
        # anything else (folders, other files, odd names, the challenge's REFERENCE.csv) is ignored
        if info.is_dir() or not m or ".." in info.filename or m.group(1) in _NOT_RECORDS:
            return None
        return m.group(1)

    tmp = Path(tempfile.mkdtemp(prefix="ecgzoo-predict-"))
    try:
        with open_archive(archive) as zf:
            extract(zf, tmp, str(archive), PREDICT_LIMITS, select=bare)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def predict_records(
    data: Path,
    model: AppliedModel,
    lead: str | None = None,
    fs: float | None = None,
    failures: list[tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """One dict per record: ``record``, ``label``, ``p_<class>`` for every class (a multi-label
    run: ``record``, ``p_<class>`` and ``y_<class>`` for every class).

    One bad record never discards the others: with a ``failures`` list, each record that
    cannot be read is appended to it as ``(record, message)`` and the rest are returned;
    without one, the first failure is raised once every record was tried.
    """
    if model.kind == "multilabel":
        if lead is not None:
            leads = ", ".join(model.input.leads)
            raise ConfigError(
                f"--lead: a multi-label run reads the leads it was trained on ({leads})"
            )
        return predict_multilabel(data, model, failures).rows()
    if model.kind != "recording":
        raise ConfigError(f"{model.ref}: a beat-level model; use `ecgzoo annotate`")
    if data.suffix.lower() == ".zip":
        with _unzipped(data) as folder:
            rows = _predict_paths(find_records(folder), model, lead, fs, failures)
        return rows
    paths = find_records(data) if data.is_dir() else [data]
    return _predict_paths(paths, model, lead, fs, failures)


def predict_multilabel(
    data: Path, model: AppliedModel, failures: list[tuple[str, str]] | None = None
) -> MultilabelPrediction:
    """A multi-label run on one 2021 record (``NAME``, ``NAME.hea`` or ``NAME.mat``), a folder
    (searched recursively) or a zip of them."""
    if data.suffix.lower() == ".zip":
        with _unzipped(data) as folder:
            return predict_2021(find_2021_records(folder), model, failures)
    if data.is_dir():
        return predict_2021(find_2021_records(data), model, failures)
    base = data.with_suffix("") if data.suffix.lower() in (".hea", ".mat") else data
    if not base.with_suffix(".hea").is_file() or not base.with_suffix(".mat").is_file():
        raise DataError(f"{data}: not a challenge-2021 record (NAME.hea + NAME.mat)")
    return predict_2021([base], model)


BATCH_RECORDS = 64  # recordings scored per forward call (one at a time was 6-8x slower)


def _read_checked(
    path: Path, model: AppliedModel, lead: str | None, fs: float | None
) -> tuple[Any, np.ndarray]:
    """One recording's source and chosen lead, refused with one line when it cannot be used."""
    source = open_source(path, fs)
    if int(model.spec.n_leads) > source.n_leads_available:
        raise DataError(
            f"{source.path}: {len(source.lead_names)} lead(s), the model needs {model.spec.n_leads}"
        )
    check_rate(source.fs, str(source.path))
    idx = source.lead_index(lead, model.input.leads)
    signal = source.read(idx, 0, source.n_samples)
    if np.ptp(signal) == 0:
        raise DataError(f"{source.path}: lead {source.lead_names[idx]} is flat")
    return source, signal


def _predict_paths(
    paths: list[Path],
    model: AppliedModel,
    lead: str | None,
    fs: float | None,
    failures: list[tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Records read one by one, scored in batches of up to :data:`BATCH_RECORDS` that share a
    sampling rate (each batch one call through the model: all its crops, all its members).
    A record that cannot be read is listed in ``failures`` (see :func:`predict_records`)."""
    rows: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = [] if failures is None else failures
    batch: list[tuple[Any, np.ndarray]] = []

    def flush() -> None:
        if not batch:
            return
        with torch_threads(apply_threads()):  # no 2-thread forward on a busy machine
            probs = model.predict_recordings([sig for _, sig in batch], batch[0][0].fs)
        for (source, _), prob in zip(batch, probs, strict=True):
            row: dict[str, Any] = {
                "record": source.name,
                "label": model.class_names[int(np.argmax(prob))],
            }
            row.update({f"p_{c}": float(p) for c, p in zip(model.class_names, prob, strict=True)})
            rows.append(row)
        batch.clear()

    for path in paths:
        try:
            source, signal = _read_checked(path, model, lead, fs)
        except (EcgzooError, ValueError, OSError) as exc:  # a record the readers refuse
            failed.append((path.name, str(exc).splitlines()[0] if str(exc) else repr(exc)))
            continue
        if batch and (source.fs != batch[0][0].fs or len(batch) >= BATCH_RECORDS):
            flush()
        batch.append((source, signal))
    flush()
    if failures is None and failed:
        raise DataError(f"{len(failed)} of {len(paths)} records failed; the first: {failed[0][1]}")
    return rows


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: a string starting with ``= + - @`` (or a tab or
    carriage return) would run as a formula, so it gets a leading ``'``."""
    if isinstance(value, float):
        return f"{value:.5f}"
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV text (header from the first row), quoted by the csv module."""
    import csv
    import io

    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([safe_cell(k) for k in rows[0]])
    for r in rows:
        writer.writerow([safe_cell(v) for v in r.values()])
    return buf.getvalue()
