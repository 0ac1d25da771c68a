"""Score a trained beat model on any folder of annotated WFDB records (``evaluate --data``).

Reference beats come from each record's ``.atr`` (AAMI classes, as for MIT-BIH); the record may
be at any sampling rate (the beats are resampled exactly as the model's training beats were);
the lead is chosen by name (``lead``) or by the model's lead preference (MLII, else V5, else the
first). Every beat goes through the model's ``InputSpec`` (``model.json``). The output has the
same metrics (and AAMI EC57 table) as the built-in splits, plus the per-record S/V counts and
the records that could not be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.config import ExperimentConfig
from ecgzoo.data import registry
from ecgzoo.data.arrays import ArraySplit
from ecgzoo.data.examples.beats import aami_labels
from ecgzoo.data.examples.input_spec import InputSpec, check_rate
from ecgzoo.data.readers.wfdb_folder import WfdbFolderReader
from ecgzoo.errors import ConfigError, DataError, EcgzooError


def _folder(data: Path) -> Path:
    data = Path(data)
    if not data.is_dir():
        raise DataError(f"{data}: --data must be a folder of WFDB records (.hea/.dat/.atr)")
    return data


def cnn_beats(folder: Path, spec: InputSpec, lead: str | None) -> tuple[ArraySplit, list[str]]:
    """Beats of every record of ``folder`` prepared by the model's ``InputSpec`` (the cut and
    side features of its training beats); records that cannot be read are listed, not scored."""
    reader = WfdbFolderReader(_folder(folder), annotator="atr", require_annotations=True)
    xs, ys, groups, feats, skipped = [], [], [], [], []
    for i, name in enumerate(reader.list_records()):
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
        try:
            prepared = spec.prepare(rec.signal[channel], rec.fs, samples)
        except DataError as exc:
            skipped.append(f"{folder / name}: {exc}")
            continue
        xs.append(prepared.x)
        ys.append(labels[prepared.kept])
        groups.append(np.full(int(prepared.kept.sum()), i, dtype=np.int64))
        feats.append(prepared.features)
    if not xs:
        raise DataError(f"{folder}: no record with annotated beats could be read")
    split = ArraySplit(
        np.concatenate(xs),
        np.concatenate(ys),
        np.concatenate(groups),
        None if spec.side_features is None else np.concatenate(feats),
    )
    return split, skipped


def evaluate_beat_folder(
    run_folder: Path, cfg: ExperimentConfig, data: Path, lead: str | None = None
) -> dict[str, Any]:
    """Metrics of the beat model in ``run_folder`` on the annotated records of ``data``."""
    from ecgzoo.train.trees import evaluate_tree_table, is_tree_run

    if registry.get(str(cfg.data.dataset)).task != "beats":
        raise EcgzooError(f"--data FOLDER: {run_folder} is not a beat model")
    if is_tree_run(run_folder):
        from ecgzoo.data.contextset import load_table

        table = load_table("folder", folder=_folder(data), lead=lead, cache=False)
        if len(np.asarray(table["y"])) == 0:
            raise DataError(f"{data}: no record with annotated beats could be read")
        metrics = evaluate_tree_table(run_folder, cfg.data.mitbih, table)
        metrics["skipped"] = [str(s) for s in table["skipped"]]
        return metrics
    from ecgzoo.train.evaluate import evaluate_split
    from ecgzoo.train.loaded import load_run

    run = load_run(run_folder)
    split, skipped = cnn_beats(data, run.input, lead)
    metrics, _ = evaluate_split(run.model, run.spec, split)
    metrics["skipped"] = skipped
    return metrics
