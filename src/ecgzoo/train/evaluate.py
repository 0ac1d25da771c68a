"""Predict with a trained model and score a split: the metrics every run folder reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ecgzoo.datasets.arrays import ArraySplit, PreparedData
from ecgzoo.errors import DataError
from ecgzoo.examples.beats import AAMI_CLASSES as AAMI
from ecgzoo.metrics.aami import aami_table
from ecgzoo.metrics.challenge import CHALLENGE_CLASSES as CHALLENGE
from ecgzoo.metrics.challenge import challenge_scores
from ecgzoo.metrics.classification import classification_metrics
from ecgzoo.metrics.operating_points import DEFAULT_ACCURACY_FLOOR, apply_weights, choose_weights
from ecgzoo.runs.loaded import check_weights as check_weights  # noqa: F401 (re-exported)
from ecgzoo.runs.loaded import load_trained_model as load_trained_model  # noqa: F401
from ecgzoo.runs.runfolder import ModelSpec
from ecgzoo.train.multilabel import score_multilabel
from ecgzoo.train.predict import predict_proba
from ecgzoo.train.predict import real_lengths as real_lengths  # re-exported (datamodule)
from ecgzoo.train.voting import vote_proba

# Lists, to compare with a run's class_names list; the definitions are imported above.
AAMI_CLASSES = list(AAMI)
CHALLENGE_CLASSES = list(CHALLENGE)


def standardise_features(features: np.ndarray | None, spec: ModelSpec) -> torch.Tensor | None:
    if features is None or spec.n_features == 0:
        return None
    mean = np.asarray(spec.feature_mean, dtype=np.float32)
    std = np.asarray(spec.feature_std, dtype=np.float32)
    return torch.from_numpy(((features - mean) / std).astype(np.float32))


def predict_proba_multicrop(
    model: nn.Module,
    x: np.ndarray,
    crop: int,
    n_crops: int = 5,
    features: torch.Tensor | None = None,
    device: torch.device | None = None,
    multilabel: bool = False,
    lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Average the probabilities of ``n_crops`` evenly spaced crops inside the real signal
    (``lengths``, default up to the last non-zero value); see :mod:`ecgzoo.train.voting`."""
    return vote_proba(model, x, crop, n_crops, lengths, features, device, multilabel)


#: Examples scored at a time by :func:`predict_split`: a memory-mapped split is never read whole
#: (88,000 ECGs: 1.2 GB for a test split and crops). Crop voting reads 512 recordings at a time
#: (``voting.RECORDINGS_PER_CHUNK``); a chunk of chosen ``rows`` is a copy, so it is no larger
#: (1,024 rows were a 47 MiB copy of 12 x 1000 ECGs beside voting's own 23 MiB).
SCORE_CHUNK = 512


def predict_split(
    model: nn.Module,
    spec: ModelSpec,
    split: ArraySplit,
    device: torch.device | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Probabilities for a split (or its ``rows`` only, in that order), with multi-crop voting
    for models trained on crops; scored :data:`SCORE_CHUNK` examples at a time (every example's
    probabilities are its own), so not even the rows are ever read whole."""
    features = standardise_features(split.features, spec)
    parts = []
    n = len(split) if rows is None else len(rows)
    for s in range(0, max(n, 1), SCORE_CHUNK):
        part = slice(s, s + SCORE_CHUNK) if rows is None else rows[s : s + SCORE_CHUNK]
        f = None if features is None else features[part]
        lengths = None if split.lengths is None else split.lengths[part]
        parts.append(predict_inputs(model, spec, split.x[part], f, lengths, device))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def predict_inputs(
    model: nn.Module,
    spec: ModelSpec,
    x: np.ndarray,
    features: torch.Tensor | None = None,
    lengths: np.ndarray | None = None,
    device: torch.device | None = None,
) -> np.ndarray:
    """Probabilities for model-ready inputs (standardised ``features``): 5-crop voting inside
    the real ``lengths`` for a model trained on crops, one pass otherwise. ``evaluate`` and
    ``explain`` report these; ``predict`` votes over the same crops."""
    if spec.crop_samples and x.shape[-1] > spec.crop_samples:
        return predict_proba_multicrop(
            model, x, spec.crop_samples, 5, features, device, spec.multilabel, lengths
        )
    return predict_proba(model, x, features, device=device, multilabel=spec.multilabel)


def check_data_matches(
    spec: ModelSpec,
    folder: Path,
    split: ArraySplit,
    class_names: list[str] | None = None,
    sampling_rate: float | None = None,
) -> None:
    """Refuse to score data the model was not built for: classes, rate, leads, length, features.

    A model whose ``model.json`` lists other classes than the data would report metrics under
    the wrong names; other shapes would fail deep inside the network.
    """
    source = Path(folder) / "model.json"
    if class_names is not None and list(class_names) != list(spec.class_names):
        raise DataError(
            f"{source}: the model's classes {spec.class_names} are not "
            f"the data's {list(class_names)}"
        )
    if sampling_rate is not None and abs(float(sampling_rate) - spec.sampling_rate) > 1e-6:
        raise DataError(
            f"{source}: the model expects {spec.sampling_rate:g} Hz, "
            f"the data is {sampling_rate:g} Hz"
        )
    if split.x.ndim < 3 or split.x.shape[1] != spec.n_leads:
        raise DataError(
            f"{source}: the model expects {spec.n_leads} lead(s), the data has shape "
            f"{tuple(split.x.shape[1:])}"
        )
    length = split.x.shape[-1]
    if length != spec.n_samples and not (spec.crop_samples and length >= spec.crop_samples):
        raise DataError(
            f"{source}: the model expects {spec.n_samples} samples per example, "
            f"the data has {length}"
        )
    n_features = 0 if split.features is None else int(split.features.shape[-1])
    if spec.n_features and n_features != spec.n_features:
        raise DataError(
            f"{source}: the model expects {spec.n_features} side features, "
            f"the data has {n_features}"
        )
    y = np.asarray(split.y)
    if spec.multilabel != (y.ndim == 2):
        kind = "multi-label" if spec.multilabel else "single-label"
        raise DataError(f"{source}: the model is {kind}, the data's targets are not")
    if y.ndim == 2:
        if y.shape[1] != spec.n_classes:
            raise DataError(
                f"{source}: the data has {y.shape[1]} labels, the model {spec.n_classes}"
            )
    elif len(y) and (int(y.min()) < 0 or int(y.max()) >= spec.n_classes):
        raise DataError(
            f"{source}: the data has labels outside the model's {spec.n_classes} classes"
        )


def cross_entropy(prob: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes (the plain test loss)."""
    if len(y) == 0:
        return float("nan")
    p = np.clip(prob[np.arange(len(y)), y], 1e-12, 1.0)
    return float(-np.log(p).mean())


def score_predictions(
    y_true: np.ndarray,
    prob: np.ndarray,
    class_names: list[str],
    thresholds: list[float] | np.ndarray | None = None,
    weights: list[float] | np.ndarray | None = None,
) -> dict[str, Any]:
    """All metrics for one split: P/R/F1, ROC AUC, confusion, AAMI or challenge scores.

    Multi-hot ``y_true`` ``(n, n_labels)`` is scored as multi-label at ``thresholds`` (chosen
    on validation; 0.5 when None): per-label, macro and per-group AUROC / AUPRC / F1.
    Single-label predictions are ``argmax(prob * weights)`` (decision weights of an operating
    point chosen on validation, :mod:`ecgzoo.metrics.operating_points`; plain argmax when None).
    """
    if np.asarray(y_true).ndim == 2:
        t = np.full(len(class_names), 0.5) if thresholds is None else np.asarray(thresholds)
        return score_multilabel(y_true, prob, list(class_names), t)

    y_pred = apply_weights(prob, weights)
    result = classification_metrics(y_true, y_pred, prob, class_names)
    result["loss"] = cross_entropy(prob, y_true)
    result["n"] = int(len(y_true))
    if list(class_names) == AAMI_CLASSES:
        result["aami"] = aami_table(result["confusion_matrix"], class_names)
    if list(class_names) == CHALLENGE_CLASSES:
        result["challenge"] = challenge_scores(y_true, y_pred, class_names)
    return result


def evaluate_split(
    model: nn.Module,
    spec: ModelSpec,
    split: ArraySplit,
    device: torch.device | None = None,
    weights: list[float] | np.ndarray | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Score ``model`` on ``split`` (at decision ``weights``, see :func:`score_predictions`);
    returns the metrics and the probabilities."""
    prob = predict_split(model, spec, split, device)
    return score_predictions(split.y, prob, spec.class_names, spec.thresholds, weights), prob


def evaluate_at_operating_point(
    model: nn.Module,
    spec: ModelSpec,
    data: PreparedData,
    split: str,
    point: str,
    accuracy_floor: float | None = None,
    device: torch.device | None = None,
) -> dict[str, Any]:
    """Score ``split`` of ``data`` at operating ``point``, its weights chosen on ``data.val``.

    Only the validation split's probabilities and labels reach the choice
    (:func:`ecgzoo.metrics.operating_points.choose_weights`); the scored split is read once,
    afterwards, at the chosen weights. The result carries ``operating_point``: the name, the
    weights by class, the floor and the validation scores at argmax and at the chosen point.
    """
    if spec.multilabel:
        raise DataError("--operating-point: multi-label models use per-label thresholds instead")
    if len(data.val) == 0:
        raise DataError("--operating-point: the run's validation split is empty")
    floor = DEFAULT_ACCURACY_FLOOR if accuracy_floor is None else float(accuracy_floor)
    val_prob = predict_split(model, spec, data.val, device)
    chosen = choose_weights(val_prob, np.asarray(data.val.y), point, spec.class_names, floor)
    if split == "val":  # the probabilities are already there
        metrics = score_predictions(
            data.val.y, val_prob, spec.class_names, spec.thresholds, chosen.weights
        )
    else:
        metrics, _ = evaluate_split(model, spec, data.split(split), device, chosen.weights)
    metrics["operating_point"] = chosen.to_json()
    return metrics
