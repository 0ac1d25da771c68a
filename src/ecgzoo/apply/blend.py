"""Several beat models averaged on the same detected beats: ``annotate --model A --model B``.

Each member keeps its own InputSpec (its fiducial, cut, median channel, side features or
context rows), so a neural beat model and a LightGBM context model can be averaged even though
they eat different inputs (issue 19, round D: on SVDB the pair beat the CNN ensembles alone;
``docs/notes/beats7.md``). A torch ensemble of one InputSpec is ``ecgzoo ensemble`` instead.
The probabilities are averaged with equal weights; a beat is classified when every member can
cut it. Only adaptations that act on the averaged probabilities apply (``none``,
``prior_em``); the members' own networks are left as trained. Under ``--engine onnx`` a tree
member runs as LightGBM (``api._member``) and the networks through ONNX Runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.apply.model import AppliedModel
from ecgzoo.errors import ConfigError, DataError

BLEND_ADAPTATIONS = ("none", "prior_em")


@dataclass
class ModelBlend:
    """Beat models averaged with equal weights (two or more, the same classes)."""

    members: list[AppliedModel]

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise ConfigError("--model: a blend needs two or more models")
        first = self.members[0]
        for m in self.members:
            if m.kind != "beat":
                raise ConfigError(f"--model {m.ref}: only beat models can be averaged")
            if m.class_names != first.class_names:
                raise ConfigError(
                    f"--model {m.ref}: classes {m.class_names} differ from {first.ref}'s "
                    f"{first.class_names}"
                )
            if m.input.segmentation == "kachuee":
                raise ConfigError(f"--model {m.ref}: a fixed-window (kachuee) model; alone only")

    @property
    def ref(self) -> str:
        return " + ".join(m.ref for m in self.members)

    @property
    def class_names(self) -> list[str]:
        return self.members[0].class_names

    def check_adaptation(self, adapt: str) -> None:
        if adapt not in BLEND_ADAPTATIONS:
            raise ConfigError(
                f"--adapt {adapt}: a blend of models takes {' or '.join(BLEND_ADAPTATIONS)}"
            )

    @staticmethod
    def average(probabilities: list[np.ndarray]) -> np.ndarray:
        return np.mean(np.stack(probabilities), axis=0).astype(np.float32)


def members_of(model: AppliedModel | ModelBlend) -> list[AppliedModel]:
    """The models a (possibly blended) model is made of."""
    return model.members if isinstance(model, ModelBlend) else [model]


def member_probabilities(
    blend: ModelBlend, folder: Path, lead: str | None = None
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, list[str]]:
    """``(y, [probabilities of each model], record name, skipped)`` over the reference beats of the
    annotated records of ``folder`` that every model keeps, each model preparing the beats with
    its own InputSpec; a record that cannot be read is listed in ``skipped``."""
    from ecgzoo.examples.beats import aami_labels
    from ecgzoo.readers.wfdb_folder import WfdbFolderReader

    if not Path(folder).is_dir():
        raise DataError(f"{folder}: --data must be a folder of WFDB records (.hea/.dat/.atr)")
    reader = WfdbFolderReader(Path(folder), annotator="atr", require_annotations=True)
    k = len(blend.members)
    ys, probs, groups, skipped = [], [[] for _ in range(k)], [], []
    for name in reader.list_records():
        where = Path(folder) / name
        try:
            rec = reader.read(name)
        except DataError as exc:  # one bad record is listed, the others are scored
            skipped.append(f"{where}: {exc}")
            continue
        if lead is not None and lead.lower() not in [n.lower() for n in rec.lead_names]:
            raise ConfigError(f"--lead: {where}.hea has no lead named {lead!r}")
        samples, labels = aami_labels(rec.beat_samples, rec.beat_symbols)
        inside = samples < rec.n_samples
        samples, labels = samples[inside], labels[inside]
        try:
            prepared = []
            for m in blend.members:
                signal = rec.signal[m.input.lead_index(rec.lead_names, lead)]
                prepared.append(m.input.prepare(signal, rec.fs, samples))
        except DataError as exc:
            skipped.append(f"{where}: {exc}")
            continue
        kept = np.logical_and.reduce([p.kept for p in prepared])
        for i, (m, p) in enumerate(zip(blend.members, prepared, strict=True)):
            rows = kept[p.kept]
            probs[i].append(m.proba(p.x[rows], None if p.features is None else p.features[rows]))
        ys.append(labels[kept])
        groups.append(np.full(int(kept.sum()), name))
    if not ys or not sum(len(y) for y in ys):
        raise DataError(f"{folder}: no record with annotated beats could be read")
    merged = [np.concatenate(p) for p in probs]
    return np.concatenate(ys), merged, np.concatenate(groups), skipped


def score_blend_folder(blend: ModelBlend, folder: Path, lead: str | None = None) -> dict[str, Any]:
    """Metrics of ``blend`` on the reference beats of ``folder`` (``evaluate RUN --data FOLDER
    --blend OTHER``): the AAMI table and ``per_record``, on the beats every model keeps."""
    from ecgzoo.train.trees import inter_metrics

    y, probs, group, skipped = member_probabilities(blend, folder, lead)
    metrics = inter_metrics(y, ModelBlend.average(probs), group)
    metrics["skipped"] = skipped
    return metrics
