"""Apply a multi-label 2021 challenge run to 12-lead records (``NAME.hea`` + ``NAME.mat``).

Each record is read by the one WFDB reading routine (``read_wfdb``: the header checked against
its files), then turned into the model input by its ``InputSpec`` (``model.json``), which calls
the SAME example-stage function training used (:func:`ecgzoo.examples.multilabel.window_of`:
the run's leads by name, resampled, first ``length_s`` seconds or zero-padded, z-scored when the
run was). A run trained on random
crops is scored by multi-crop voting, as in evaluation. Binary labels use the per-label
thresholds chosen on the run's validation split (``model.json``). No ``# Dx:`` line is needed:
the records are unlabelled input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.apply.model import AppliedModel
from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.readers.wfdb_io import read_wfdb

BATCH_RECORDS = 64  # records prepared and scored at a time (12 x 5000 float32 each at 500 Hz)


@dataclass
class MultilabelPrediction:
    """Per-record sigmoid probabilities and thresholded labels over the run's classes."""

    records: list[str]
    class_names: list[str]
    prob: np.ndarray  # (n_records, n_classes) float
    binary: np.ndarray  # (n_records, n_classes) bool: prob >= the run's validation thresholds

    def rows(self) -> list[dict[str, Any]]:
        """One dict per record: ``record``, then ``p_<class>`` and ``y_<class>`` per class."""
        out = []
        for name, prob, binary in zip(self.records, self.prob, self.binary, strict=True):
            row: dict[str, Any] = {"record": name}
            for c, p, b in zip(self.class_names, prob, binary, strict=True):
                row[f"p_{c}"] = float(p)
                row[f"y_{c}"] = int(b)
            out.append(row)
        return out


def find_2021_records(folder: Path) -> list[Path]:
    """``folder/.../NAME`` (no extension) of every record with a ``.hea`` and a ``.mat``, found
    recursively (a challenge ``training/<source>/<group>`` tree works too), sorted by name."""
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    found = [p.with_suffix("") for p in folder.rglob("*.hea") if not p.name.startswith(".")]
    signal = (".mat", ".dat")  # 2021 records are MATLAB v4, PTB-XL's are format 16
    found = sorted(
        (p for p in found if any(p.with_suffix(s).is_file() for s in signal)), key=lambda p: p.name
    )
    if not found:
        raise DataError(f"{folder}: no challenge-2021 records (NAME.hea + NAME.mat) found")
    names = [p.name for p in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"{folder}: record name {dupes[0]} appears more than once")
    return found


def model_inputs(bases: list[Path], spec: InputSpec) -> np.ndarray:
    """``(n, n_leads, samples)`` float32, each record prepared by the model's ``InputSpec``
    (the function the training dataset calls)."""
    xs = []
    for base in bases:
        rec = read_wfdb(base)  # the record checks; the rate is checked by InputSpec.prepare
        xs.append(spec.prepare(rec.signal, rec.fs, lead_names=rec.lead_names).x[0])
    return np.stack(xs).astype(np.float32)


def probabilities(model: AppliedModel, x: np.ndarray) -> np.ndarray:
    """Sigmoid probabilities, by multi-crop voting for a run trained on random crops."""
    from ecgzoo.train.evaluate import predict_proba, predict_proba_multicrop

    crop = model.input.crop
    if crop and x.shape[-1] > crop:
        return predict_proba_multicrop(model.torch_model, x, crop, 5, multilabel=True)
    return predict_proba(model.torch_model, x, multilabel=True)


def predict_2021(
    paths: list[Path], model: AppliedModel, failures: list[tuple[str, str]] | None = None
) -> MultilabelPrediction:
    """Probabilities and validation-threshold labels for the records ``paths`` (no extension).

    One bad record never discards the others: with a ``failures`` list, each record that
    cannot be read is appended as ``(record, message)`` and left out; without one, the first
    failure is raised once every record was tried.
    """
    if model.kind != "multilabel":
        raise ConfigError(f"{model.ref}: not a multi-label 2021 run")
    if model.torch_model is None:
        raise ConfigError(f"--engine: {model.engine} is not supported for multi-label runs")
    thresholds = model.spec.thresholds
    if not thresholds or len(thresholds) != len(model.class_names):
        raise DataError(f"{model.folder / 'model.json'}: no per-label thresholds for its classes")
    options = model.input  # every record prepared by the model's InputSpec
    probs, kept = [], []
    failed: list[tuple[str, str]] = [] if failures is None else failures
    for start in range(0, len(paths), BATCH_RECORDS):
        batch = paths[start : start + BATCH_RECORDS]
        try:
            x = model_inputs(batch, options)
        except (EcgzooError, ValueError, OSError):  # find the bad ones, keep the rest
            good = []
            for path in batch:
                try:
                    model_inputs([path], options)
                    good.append(path)
                except (EcgzooError, ValueError, OSError) as exc:
                    failed.append((path.name, str(exc).splitlines()[0] if str(exc) else repr(exc)))
            batch = good
            if not batch:
                continue
            x = model_inputs(batch, options)
        probs.append(probabilities(model, x))
        kept += batch
    if failures is None and failed:
        raise DataError(f"{len(failed)} of {len(paths)} records failed; the first: {failed[0][1]}")
    if not kept and failed:
        raise DataError(f"none of the {len(paths)} records could be read: {failed[0][1]}")
    prob = np.concatenate(probs).astype(np.float64)
    binary = prob >= np.asarray(thresholds, dtype=np.float64)[None, :]
    return MultilabelPrediction([p.name for p in kept], model.class_names, prob, binary)


def write_challenge_outputs(
    pred: MultilabelPrediction, out_dir: Path, scoring_folder: Path | None = None
) -> list[Path]:
    """One ``<record>.csv`` per record in the official 2021 output format (each written to a
    temporary name and renamed); the run's classes must be the challenge's scored classes."""
    from ecgzoo.metrics.challenge2021 import challenge_output_text, load_scoring
    from ecgzoo.runs.runfolder import atomic_write_text

    scoring = load_scoring(scoring_folder)
    if list(pred.class_names) not in (list(scoring.abbreviations), list(scoring.names)):
        raise ConfigError(
            "--challenge-outputs: the run's classes are not the 2021 challenge's scored classes"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, prob, binary in zip(pred.records, pred.prob, pred.binary, strict=True):
        path = out_dir / f"{name}.csv"
        atomic_write_text(path, challenge_output_text(name, scoring, binary, prob))
        written.append(path)
    return written
