"""Named records of a dataset as model inputs: what ``explain`` (Grad-CAM) and ``export``
(ONNX parity) read, through the dataset registry (``DatasetSpec.named_examples``).

Every example is made by the model's :class:`~ecgzoo.examples.input_spec.InputSpec`, so it
is what the model was trained on and what ``annotate`` / ``predict`` would feed it.

* cinc2017: a record is a challenge record name (``A00001``), read from ``training2017/`` and
  labelled by the reference the run trained on (``REFERENCE-v3.csv`` or ``REFERENCE.csv``).
* mitbih: a record is ``100`` (``beats_per_class`` beats of every AAMI class present, evenly
  spaced through it) or ``100:1234``, the beat whose R peak (annotation) is nearest sample 1234
  (within 0.5 s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import EcgzooError

_BEAT_RE = re.compile(r"^(\d+):(\d+)$")
_BEAT_TOLERANCE_S = 0.5


@dataclass
class NamedExamples:
    """Inputs ``x`` ``(n, leads, samples)``, labels, ids, real lengths, raw side features."""

    x: np.ndarray
    y: np.ndarray
    ids: list[str]
    lengths: np.ndarray
    features: np.ndarray | None = None
    extra: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.ids = list(self.ids)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self.extra = self.extra or [{} for _ in self.ids]


def trailing_zero_lengths(x: np.ndarray) -> np.ndarray:
    """Real samples of each example: everything up to the last non-zero sample (any lead)."""
    nonzero = np.any(x != 0, axis=1)  # (n, samples)
    last = x.shape[-1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0).astype(np.int64)


def cinc2017_examples(
    options: Any, spec: Any, records: list[str] | None, root: Path | None, **_: Any
) -> NamedExamples:
    """CinC 2017 records by name (``None``: the first four of the reference), windowed by
    ``spec`` (see the module docstring)."""
    from ecgzoo.datasets import cinc2017

    root = Path(root) if root is not None else Path(cinc2017.resolve_root(None))
    source = cinc2017.training_source(root)
    ref, _ = cinc2017.reference_for(options.labels, root, source)
    records = sorted(ref)[:4] if records is None else records
    unknown = [r for r in records if r not in ref]
    if unknown:
        raise EcgzooError(
            f"unknown record {unknown[0]!r}: not a challenge-2017 record "
            f"(names look like A00001; {len(ref)} records in {root})"
        )
    signals, labels, ids = cinc2017.load_recordings(
        source, {r: ref[r] for r in records}, fs=cinc2017.FS
    )
    x, lengths = spec.windows(signals, cinc2017.FS)  # the model's InputSpec, as in training
    order = {r: i for i, r in enumerate(ids)}
    idx = np.array([order[r] for r in records])
    y = cinc2017.label_index(labels)
    return NamedExamples(x[idx], y[idx], records, lengths[idx])


def _parse_beat(text: str) -> tuple[str, int | None]:
    match = _BEAT_RE.match(text)
    if match:
        return match.group(1), int(match.group(2))
    return text, None


def mitbih_examples(
    options: Any, spec: Any, records: list[str], root: Path | None, beats_per_class: int = 2
) -> NamedExamples:
    """MIT-BIH beats by record (and sample), cut by ``spec`` (see the module docstring)."""
    from ecgzoo.datasets import mitbih

    db_dir = Path(root) if root is not None else mitbih.default_db_dir()
    available = set(mitbih.list_records(db_dir))
    xs, ys, ids, feats, extra = [], [], [], [], []
    for text in records:
        name, sample = _parse_beat(text)
        if name not in available:
            raise EcgzooError(
                f"unknown record {text!r}: not an MIT-BIH record (use 100, or 100:SAMPLE for "
                "one beat)"
            )
        rec = mitbih.read_record(db_dir, name)
        prepared = spec.prepare(rec.signal, rec.fs, rec.samples)  # as the training beats
        peaks, labels = rec.samples[prepared.kept], rec.labels[prepared.kept]
        if sample is not None:
            if len(peaks) == 0:
                raise EcgzooError(f"unknown record {text!r}: record {name} has no kept beats")
            i = int(np.argmin(np.abs(peaks - sample)))
            if abs(int(peaks[i]) - sample) > _BEAT_TOLERANCE_S * rec.fs:
                raise EcgzooError(
                    f"unknown record {text!r}: no beat of record {name} within "
                    f"{_BEAT_TOLERANCE_S} s of sample {sample} (nearest R peak: {int(peaks[i])})"
                )
            chosen = [i]
        else:
            chosen = []
            for c in np.unique(labels):
                members = np.flatnonzero(labels == c)
                k = min(beats_per_class, len(members))
                picks = np.unique(np.round(np.linspace(0, len(members) - 1, k)).astype(int))
                chosen.extend(members[picks].tolist())
            chosen.sort()
        for i in chosen:
            xs.append(prepared.x[i])
            ys.append(int(labels[i]))
            ids.append(f"{name}_s{int(peaks[i])}")
            if prepared.features is not None:
                feats.append(prepared.features[i])
            extra.append({"mitbih_record": name, "r_peak_sample_360hz": int(peaks[i])})
    x = np.stack(xs).astype(np.float32)
    features = np.stack(feats).astype(np.float32) if feats else None
    return NamedExamples(x, ys, ids, trailing_zero_lengths(x), features, extra)
