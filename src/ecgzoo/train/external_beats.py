"""Score a trained beat model on any folder of annotated WFDB records (``evaluate --data``).

Reference beats come from each record's ``.atr`` (AAMI classes, as for MIT-BIH); the record may
be at any sampling rate (the beats are resampled exactly as the model's training beats were);
the lead is chosen by name (``lead``) or by the model's lead preference (MLII, else V5, else the
first). Every beat goes through the model's ``InputSpec`` (``model.json``). The output has the
same metrics (and AAMI EC57 table) as the built-in splits, plus the per-record S/V counts and
the records that could not be read.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.config import ExperimentConfig
from ecgzoo.datasets import registry
from ecgzoo.datasets.arrays import ArraySplit
from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.examples.beats import aami_labels
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.examples.signal_checks import check_rate
from ecgzoo.models.af_gate import THRESHOLD, check_gate_classes, close_supraventricular
from ecgzoo.readers.wfdb_folder import WfdbFolderReader

#: ``(signal, fs, peaks) -> each beat's AF probability`` (``ecgzoo.apply.af_gate.AfGate.of_signal``)
Rhythm = Callable[[np.ndarray, float, np.ndarray], np.ndarray]


def _folder(data: Path) -> Path:
    data = Path(data)
    if not data.is_dir():
        raise DataError(f"{data}: --data must be a folder of WFDB records (.hea/.dat/.atr)")
    return data


def cnn_beats(
    folder: Path, spec: InputSpec, lead: str | None, rhythm: Rhythm | None = None
) -> tuple[ArraySplit, list[str], list[str], np.ndarray | None]:
    """Beats of every record of ``folder`` prepared by the model's ``InputSpec`` (the cut and
    side features of its training beats); records that cannot be read are listed, not scored.

    Returns the beats, the skipped records' messages, the scored records' names and, with
    ``rhythm``, each beat's AF probability from the record's signal (else ``None``)."""
    reader = WfdbFolderReader(_folder(folder), annotator="atr", require_annotations=True)
    xs, ys, groups, feats, skipped, names, beat_af = [], [], [], [], [], [], []
    for name in reader.list_records():
        try:
            rec = reader.read(name)
            check_rate(rec.fs, f"{folder / name}.hea")
        except DataError as exc:
            skipped.append(str(exc))
            continue
        if lead is not None and lead.lower() not in [n.lower() for n in rec.lead_names]:
            raise ConfigError(f"--lead: {folder / name}.hea has no lead named {lead!r}")
        channel = spec.lead_index(rec.lead_names, lead)
        samples, labels = aami_labels(rec.beat_samples, rec.beat_symbols)
        inside = samples < rec.n_samples
        samples, labels = samples[inside], labels[inside]
        if len(samples) < 2:
            skipped.append(f"{name}: fewer than two AAMI beats")
            continue
        try:  # the model's InputSpec: its fiducial, cut, median channel and side features
            prepared = spec.prepare(rec.signal[channel], rec.fs, samples)
        except DataError as exc:
            skipped.append(f"{folder / name}: {exc}")
            continue
        names.append(str(name))
        xs.append(prepared.x)
        ys.append(labels[prepared.kept])
        groups.append(np.full(int(prepared.kept.sum()), len(names) - 1, dtype=np.int64))
        feats.append(prepared.features)
        if rhythm is not None:  # the signal and the beat positions only, never the labels
            beat_af.append(rhythm(rec.signal[channel], rec.fs, samples[prepared.kept]))
    if not xs:
        raise DataError(f"{folder}: no record with annotated beats could be read")
    x_all = np.concatenate(xs)
    split = ArraySplit(
        x_all if x_all.ndim == 3 else x_all[:, None, :],
        np.concatenate(ys),
        np.concatenate(groups),
        None if spec.side_features is None else np.concatenate(feats),
    )
    return split, skipped, names, (np.concatenate(beat_af) if rhythm is not None else None)


def evaluate_beat_folder(
    run_folder: Path,
    cfg: ExperimentConfig,
    data: Path,
    lead: str | None = None,
    adapt: str = "none",
    rhythm: Rhythm | None = None,
) -> dict[str, Any]:
    """Metrics of the beat model in ``run_folder`` on the annotated records of ``data``, with
    the per-record S/V counts (``per_record``, keyed by record name) for every model kind.

    ``adapt`` (``adabn``, ``prior_em``, ``cluster``, ``self_train``): each record is scored by
    the model adapted to that record's own beats (``ecgzoo.models.adapt``; its inputs only,
    never its labels). ``rhythm`` (``--af-gate``): no beat in a window the rhythm model calls
    atrial fibrillation is S (:mod:`ecgzoo.models.af_gate`)."""
    from ecgzoo.train.trees import evaluate_tree_table, is_tree_run

    if registry.get(str(cfg.data.dataset)).task != "beats":
        raise EcgzooError(f"--data FOLDER: {run_folder} is not a beat model")
    if is_tree_run(run_folder):
        if rhythm is not None:
            raise ConfigError(f"--af-gate: {run_folder} is a tree model (neural beat models only)")
        from ecgzoo.datasets.contextset import load_table

        table = load_table("folder", folder=_folder(data), lead=lead, cache=False)
        if len(np.asarray(table["y"])) == 0:
            raise DataError(f"{data}: no record with annotated beats could be read")
        metrics = evaluate_tree_table(
            run_folder, cfg.data.options, table, cfg.data.option_key("context_groups")
        )
        metrics["skipped"] = [str(s) for s in table["skipped"]]
        # the table's groups are FOLDER/RECORD; keyed by record name as for every model kind
        metrics["per_record"] = {
            str(k).split("/", 1)[-1]: v for k, v in metrics["per_record"].items()
        }
        return metrics
    from ecgzoo.models.adapt import check_adaptation
    from ecgzoo.runs.loaded import load_run

    check_adaptation(adapt)
    run = load_run(run_folder)
    if rhythm is not None:
        check_gate_classes(run.spec.class_names, str(run_folder))
    split, skipped, names, beat_af = cnn_beats(data, run.input, lead, rhythm)
    metrics = score_beat_split(run.model, run.spec, split, names, adapt, beat_af)
    metrics["skipped"] = skipped
    return metrics


def score_beat_split(
    model: Any,
    spec: Any,
    split: ArraySplit,
    names: list[str],
    adapt: str = "none",
    beat_af: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics and ``per_record`` S/V counts of ``model`` on the beats of :func:`cnn_beats`
    (``names``: its record names), each record adapted by ``adapt``; with ``beat_af`` (each
    beat's AF probability) S is moved to N in the windows the AF gate closes."""
    from ecgzoo.train.evaluate import predict_split, score_predictions
    from ecgzoo.train.trees import per_record

    if adapt == "none":
        prob = predict_split(model, spec, split)
        if beat_af is not None:
            prob = close_supraventricular(prob, spec.class_names, beat_af)
    else:  # the gate and the adaptation together, as annotate (record_probabilities)
        prob = adapted_predictions(model, spec, split, adapt, beat_af)
    metrics = score_predictions(split.y, prob, spec.class_names, spec.thresholds)
    metrics["adapt"] = adapt
    metrics["af_gate"] = (
        None
        if beat_af is None
        else {
            "threshold": THRESHOLD,
            "beats_in_af_windows": int(np.sum(beat_af >= THRESHOLD)),
        }
    )
    record_names = np.asarray(names)[np.asarray(split.groups)]
    metrics["per_record"] = per_record(np.asarray(split.y), prob.argmax(1), record_names)
    return metrics


def adapted_predictions(
    model: Any,
    spec: Any,
    split: ArraySplit,
    adapt: str = "adabn",
    beat_af: np.ndarray | None = None,
) -> np.ndarray:
    """Probabilities of each record's beats from the model adapted to that record
    (:func:`ecgzoo.models.adapt.record_probabilities`, as ``annotate``: ``adabn``, ``prior_em``,
    ``cluster``, ``self_train``), with ``beat_af`` through the AF gate; the labels of ``split``
    are never read."""
    from ecgzoo.models.adapt import record_probabilities
    from ecgzoo.train.evaluate import predict_split

    groups = np.asarray(split.groups)
    prob = np.zeros((len(groups), int(spec.n_classes)), dtype=np.float32)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        part = split.subset(rows)

        def predict(adapted, part=part) -> np.ndarray:
            return predict_split(model if adapted is None else adapted, spec, part)

        closed = None
        if beat_af is not None:
            closed = partial(
                close_supraventricular, class_names=spec.class_names, beat_af=beat_af[rows]
            )
        prob[rows] = record_probabilities(
            adapt, predict, model, spec, part.x, part.features, closed=closed
        )
    return prob
