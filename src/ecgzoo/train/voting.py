"""Crop voting for models trained on random crops: the distinct crops of many recordings.

A model trained on crops of ``crop`` samples scores a longer recording by averaging its
probabilities over ``n_crops`` evenly spaced crops inside the real signal
(:func:`ecgzoo.examples.transforms.crop_offsets`). Most CinC 2017 recordings are exactly one crop
long, so their crops coincide: each distinct crop is scored once and weighted by how many of
the ``n_crops`` it stands for, which gives the same average as scoring every crop, at a
fraction of the cost. Crops of many recordings go through the model together.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from ecgzoo.errors import ConfigError
from ecgzoo.examples.transforms import crop_offsets, windows_at
from ecgzoo.train.crops import gather_crops
from ecgzoo.train.predict import predict_proba, real_lengths

RECORDINGS_PER_CHUNK = 512  # bounds the crops held in memory at once (results do not depend on it)


def check_crops_fit(model: nn.Module, spec) -> None:
    """ConfigError when a model that takes inputs of exactly ``spec.n_samples`` samples (a dense
    layer on the whole input: ``fc``, ``resnet1d`` with ``global_pool: false``) would be trained
    and scored on crops of ``spec.crop_samples``."""
    if spec.crop_samples and getattr(model, "fixed_length", False):
        raise ConfigError(
            f"model {spec.name!r} with these params takes inputs of exactly {spec.n_samples} "
            f"samples, but random_crop_s trains it on crops of {spec.crop_samples}: drop "
            "random_crop_s or pool over time (resnet1d: global_pool: true)"
        )


def distinct_crops(
    lengths: np.ndarray, crop: int, n_crops: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(owner, offset, weight)`` of the distinct voting crops of recordings with ``lengths``.

    ``owner`` indexes the recording, ``offset`` is the crop's start and ``weight`` the share of
    the ``n_crops`` votes it carries (the weights of one recording sum to 1).
    """
    offsets = np.sort(crop_offsets(np.asarray(lengths), crop, n_crops), axis=1)  # (n, k)
    first = np.ones(offsets.shape, dtype=bool)
    first[:, 1:] = offsets[:, 1:] != offsets[:, :-1]
    owner, col = np.nonzero(first)
    start = offsets[owner, col]
    count = (offsets[owner] == start[:, None]).sum(axis=1)
    return owner.astype(np.int64), start.astype(np.int64), count / float(offsets.shape[1])


def vote_proba(
    model: nn.Module,
    x: np.ndarray,
    crop: int,
    n_crops: int = 5,
    lengths: np.ndarray | None = None,
    features: torch.Tensor | None = None,
    device: torch.device | None = None,
    multilabel: bool = False,
    batch_size: int = 512,
) -> np.ndarray:
    """Probabilities ``(n, n_classes)``: the mean over ``n_crops`` evenly spaced crops of each
    example, inside its ``lengths`` real positions (default: up to its last non-zero value)."""
    out: list[np.ndarray] = []
    for lo in range(0, len(x), RECORDINGS_PER_CHUNK):
        xc = np.asarray(x[lo : lo + RECORDINGS_PER_CHUNK], dtype=np.float32)
        real = real_lengths(xc) if lengths is None else np.asarray(lengths[lo : lo + len(xc)])
        owner, start, weight = distinct_crops(np.minimum(real, xc.shape[-1]), crop, n_crops)
        if xc.shape[-1] >= crop:  # the crops alone, not a copy of each crop's recording
            crops = gather_crops(xc, owner, start, crop)
        else:  # recordings shorter than a crop: zero-padded windows
            crops = windows_at(xc[owner], start[:, None], crop)[:, 0]
        f = None if features is None else features[lo : lo + len(xc)][torch.from_numpy(owner)]
        prob = predict_proba(model, crops, f, batch_size, device, multilabel)
        summed = np.zeros((len(xc), prob.shape[1]), dtype=np.float64)
        np.add.at(summed, owner, prob * weight[:, None])
        out.append(summed.astype(np.float32))
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out)
