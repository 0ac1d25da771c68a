"""Plain-array containers passed from the data stage to training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ArraySplit:
    """One split of examples.

    ``x``: float32 ``(n, n_leads, n_samples)``; ``y``: int64 ``(n,)`` class indices, or for a
    multi-label dataset (``meta["multilabel"]``) float32 ``(n, n_classes)`` multi-hot targets;
    ``groups``: ``(n,)`` record (patient) id of each example, for leakage checks;
    ``features``: optional float32 ``(n, n_features)`` side features (for example RR intervals);
    ``lengths``: optional int64 ``(n,)`` real (not padded or filled) positions along x's last
    axis, where the data knows them (recordings); crop voting keeps its crops inside them.
    """

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    features: np.ndarray | None = None
    lengths: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray) -> ArraySplit:
        feats = None if self.features is None else self.features[index]
        lengths = None if self.lengths is None else self.lengths[index]
        return ArraySplit(self.x[index], self.y[index], self.groups[index], feats, lengths)


@dataclass
class PreparedData:
    """Train, validation and test splits plus what a model needs to know about them."""

    train: ArraySplit
    val: ArraySplit
    test: ArraySplit
    class_names: list[str]
    sampling_rate: float
    meta: dict = field(default_factory=dict)
    #: the training labels whose class frequencies set inverse-frequency class weights
    #: (``None``: all of ``train.y``); a dataset that adds examples of a class only to show
    #: more of it (``mitbih.rhythm_database``) leaves them out, so the weights stay as they were
    weight_y: np.ndarray | None = None

    @property
    def n_leads(self) -> int:
        return int(self.train.x.shape[1])

    @property
    def n_samples(self) -> int:
        return int(self.train.x.shape[2])

    @property
    def n_features(self) -> int:
        return 0 if self.train.features is None else int(self.train.features.shape[1])

    def split(self, name: str) -> ArraySplit:
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}")
        return getattr(self, name)


def multilabel_data(
    dataset: str,
    splits: dict[str, ArraySplit],
    parts: dict[str, Any],
    y: Any,
    lengths: np.ndarray,
    class_names: list[str],
    options: Any,
    **meta: Any,
) -> PreparedData:
    """A multi-label dataset's ``PreparedData``, with the ``meta`` every multi-label task
    reads (leads, rate, real lengths and positives per split, the random crop in samples);
    ``parts`` index each split into ``y`` and ``lengths``; ``meta`` adds the dataset's own."""
    from ecgzoo.examples.multilabel import positives  # here: it imports scipy.signal

    fs = float(options.fs)
    crop = None if options.random_crop_s is None else int(round(options.random_crop_s * fs))
    return PreparedData(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        class_names=list(class_names),
        sampling_rate=fs,
        meta={
            "dataset": dataset,
            "multilabel": True,
            "leads": list(options.leads),
            "signal_fs": fs,
            "lengths": {k: lengths[p].tolist() for k, p in parts.items()},
            "positives": {k: positives(np.asarray(y[p]), class_names) for k, p in parts.items()},
            **meta,
            "random_crop_samples": crop,
        },
    )
