"""Label whole recordings with a recording-level model (CinC 2017 rhythm classes).

Input: one record, a folder of records, or a zip of them. A zip is never extracted as is: only
members named ``<record>.hea`` / ``.mat`` / ``.dat`` (bare names, no folders escaping the
target) are copied into a private temporary folder, removed afterwards. Each recording is
prepared as in training (``Cinc2017Options``: resampled to ``fs``, z-scored when ``normalise``,
zero-padded or trimmed to ``length_s``, transformed) and, for a model trained on random crops,
scored by multi-crop voting. Output: one row per record.

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
from ecgzoo.errors import ConfigError, DataError

_MEMBER_RE = re.compile(r"^(?:[A-Za-z0-9_\-]+/)*([A-Za-z0-9_\-]+\.(?:hea|mat|dat|csv|npy))$")
_MAX_MEMBER_BYTES = 256 << 20
MIN_FS = 100.0  # below this a QRS is a few samples wide: no model here was trained on that


def recording_inputs(
    signals: list[np.ndarray], fs: float, options: Any, spec: Any, *, with_lengths: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Model-ready ``(n, leads, samples)`` arrays from 1-D recordings (mV) at ``fs``; with
    ``with_lengths`` also each one's real positions along the last axis (crop voting)."""
    from ecgzoo.data import transforms
    from ecgzoo.data.cinc2017 import axis_lengths, n_samples_for

    if options.transform != "raw" and options.transform != "spectrogram":
        raise ConfigError(f"data.cinc2017.transform: {options.transform!r} cannot be applied yet")
    sigs = [transforms.resample(np.asarray(s, dtype=np.float64), fs, options.fs) for s in signals]
    if options.normalise:
        sigs = [transforms.normalise(np.asarray(s, dtype=np.float32)[None, :])[0] for s in sigs]
    x, lengths = transforms.pad_or_trim(
        [np.asarray(s, dtype=np.float32) for s in sigs], n_samples_for(options), options.fill
    )
    x = x[:, None, :]
    if options.transform == "spectrogram":
        x = transforms.log_spectrogram(
            x, options.fs, options.nperseg, options.noverlap, fmax=options.fmax
        )[:, 0]
    x = np.ascontiguousarray(x, dtype=np.float32)
    return (x, axis_lengths(options, lengths)) if with_lengths else x


@contextmanager
def _unzipped(archive: Path) -> Iterator[Path]:
    """A private folder holding the zip's record files under their bare names."""
    tmp = Path(tempfile.mkdtemp(prefix="ecgzoo-predict-"))
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{archive}: not a readable zip ({exc})") from None
        with zf:
            for info in zf.infolist():
                m = _MEMBER_RE.match(info.filename)
                if info.is_dir() or not m or ".." in info.filename:
                    continue  # anything else (folders, other files, odd names) is ignored
                if info.file_size > _MAX_MEMBER_BYTES:
                    raise DataError(f"{archive}: member {info.filename} is too large")
                target = tmp / m.group(1)
                if target.resolve().parent != tmp.resolve():
                    raise DataError(f"{archive}: member {info.filename} escapes its folder")
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def predict_records(
    data: Path, model: AppliedModel, lead: str | None = None, fs: float | None = None
) -> list[dict[str, Any]]:
    """One dict per record: ``record``, ``label``, ``p_<class>`` for every class (a multi-label
    run: ``record``, ``p_<class>`` and ``y_<class>`` for every class)."""
    if model.kind == "multilabel":
        if lead is not None:
            leads = ", ".join(model.config.data.cinc2021.leads)
            raise ConfigError(
                f"--lead: a multi-label run reads the leads it was trained on ({leads})"
            )
        return predict_multilabel(data, model).rows()
    if model.kind != "recording":
        raise ConfigError(f"{model.ref}: a beat-level model; use `ecgzoo annotate`")
    if data.suffix.lower() == ".zip":
        with _unzipped(data) as folder:
            rows = _predict_paths(find_records(folder), model, lead, fs)
        return rows
    paths = find_records(data) if data.is_dir() else [data]
    return _predict_paths(paths, model, lead, fs)


def predict_multilabel(data: Path, model: AppliedModel) -> MultilabelPrediction:
    """A multi-label run on one 2021 record (``NAME``, ``NAME.hea`` or ``NAME.mat``), a folder
    (searched recursively) or a zip of them."""
    if data.suffix.lower() == ".zip":
        with _unzipped(data) as folder:
            return predict_2021(find_2021_records(folder), model)
    if data.is_dir():
        return predict_2021(find_2021_records(data), model)
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
    if source.fs < MIN_FS:
        raise DataError(f"{source.path}: {source.fs:g} Hz is below the {MIN_FS:g} Hz minimum")
    idx = source.lead_index(lead)
    signal = source.read(idx, 0, source.n_samples)
    if np.ptp(signal) == 0:
        raise DataError(f"{source.path}: lead {source.lead_names[idx]} is flat")
    return source, signal


def _predict_paths(
    paths: list[Path], model: AppliedModel, lead: str | None, fs: float | None
) -> list[dict[str, Any]]:
    """Records read one by one, scored in batches of up to :data:`BATCH_RECORDS` that share a
    sampling rate (each batch one call through the model: all its crops, all its members)."""
    rows: list[dict[str, Any]] = []
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
        source, signal = _read_checked(path, model, lead, fs)
        if batch and (source.fs != batch[0][0].fs or len(batch) >= BATCH_RECORDS):
            flush()
        batch.append((source, signal))
    flush()
    return rows


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV text (header from the first row)."""
    if not rows:
        return ""
    lines = [",".join(rows[0])]
    for r in rows:
        lines.append(",".join(f"{v:.5f}" if isinstance(v, float) else str(v) for v in r.values()))
    return "\n".join(lines) + "\n"
