"""Label-free adaptation of a trained model to one recording: AdaBN (Li et al. 2016, "Revisiting
batch normalization for practical domain adaptation") and prior correction by EM (Saerens,
Latinne, Decaestecker 2002, "Adjusting the outputs of a classifier to new a priori
probabilities").

A patient's beats differ from the training patients' in amplitude, width and noise; batch norm
layers normalise with the *training* statistics. :func:`adapt_batchnorm` re-estimates the mean
and variance of every batch norm layer of the trunk on the unlabelled inputs of one recording
(its beats), leaving all learnt weights as they are. It reads inputs only, never a label.
The batch norm of the side features (``ClassifierHead.feature_norm``) is left alone: re-centring
the RR context on one record would erase what makes a premature beat premature there.

``cluster`` and ``self_train`` (:mod:`ecgzoo.models.adapt_record`) look at the record's beats
together. :func:`record_probabilities` is the one entry of ``annotate`` and ``evaluate --data``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ecgzoo.errors import ConfigError

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

ADAPTATIONS = ("none", "adabn", "prior_em", "cluster", "self_train")
#: Adaptations that change the torch model itself (an ONNX graph cannot be changed).
TORCH_ONLY = ("adabn", "self_train")


def adapt_batchnorm(
    model: nn.Module,
    x: torch.Tensor,
    features: torch.Tensor | None = None,
    batch_size: int = 1024,
) -> nn.Module:
    """A copy of ``model`` whose trunk batch norm statistics are those of inputs ``x`` (one
    recording's examples, ``(n, leads, samples)``; ``features`` their standardised side input).

    The copy is in eval mode; ``model`` is not changed. Fewer than 2 examples: an unchanged copy.
    """
    # torch only here and below: every `annotate` (ONNX too) imports this module for
    # check_adaptation and prior_adjusted, and torch's import is 1.5-2 s of CPU
    import torch
    import torch.nn as nn

    adapted = copy.deepcopy(model).eval()
    if len(x) < 2:
        return adapted
    skip = {id(m) for name, m in adapted.named_modules() if name.endswith("feature_norm")}
    norms = [
        m for m in adapted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and id(m) not in skip
    ]  # fmt: skip
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the record's batches
        m.train()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            f = None if features is None else features[start : start + batch_size]
            chunk = x[start : start + batch_size]
            if len(chunk) < 2:  # batch norm in training mode needs two examples
                break
            adapted(chunk, f)
    return adapted.eval()


def prior_adjusted(prob: np.ndarray, iters: int = 100, tol: float = 1e-6) -> np.ndarray:
    """One recording's class probabilities re-weighted to the class priors of that recording,
    estimated by EM from the probabilities alone (no label).

    The model's own prior is taken as *balanced* over the classes it gives any probability: right
    for inverse-frequency weighted training (``class_weight_power: 1``), which makes every trained
    class weigh the same; for other models it is an approximation. A record with no S beats then
    gets a small S prior (fewer false S), one with many a large one.
    """
    p = np.asarray(prob, dtype=np.float64)
    if len(p) == 0:
        return p.astype(np.float32)
    prior = p.mean(axis=0)
    q = p
    for _ in range(iters):
        q = p * prior
        q /= np.clip(q.sum(axis=1, keepdims=True), 1e-300, None)
        new = q.mean(axis=0)
        if np.max(np.abs(new - prior)) < tol:
            break
        prior = new
    return q.astype(np.float32)


def check_adaptation(adapt: str) -> str:
    """``adapt`` when it is known (:data:`ADAPTATIONS`), else a one-line ``ConfigError``."""
    if adapt not in ADAPTATIONS:
        choices = ", ".join(ADAPTATIONS)
        raise ConfigError(f"--adapt: unknown adaptation {adapt!r} (choose {choices})")
    return adapt


def standardised(features: np.ndarray | None, spec) -> torch.Tensor | None:
    """Side features scaled by the training mean and std saved in ``model.json``."""
    if features is None or not int(spec.n_features):
        return None
    import torch  # heavy: only when AdaBN runs (see adapt_batchnorm)

    mean = np.asarray(spec.feature_mean, dtype=np.float32)
    std = np.asarray(spec.feature_std, dtype=np.float32)
    return torch.from_numpy(((np.asarray(features, np.float32) - mean) / std).astype(np.float32))


def adapted_model(model: torch.nn.Module, spec, x: np.ndarray, features: np.ndarray | None):
    """``model`` with batch norm statistics of one record's inputs ``x`` (AdaBN; no labels)."""
    import torch  # heavy: only when AdaBN runs (see adapt_batchnorm)

    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if xt.dim() == 2:
        xt = xt[:, None, :]
    device = next(model.parameters()).device
    f = standardised(features, spec)
    return adapt_batchnorm(model, xt.to(device), None if f is None else f.to(device))


def record_probabilities(
    adapt: str,
    predict: Callable[[Any], np.ndarray],
    model: Any,
    spec: Any,
    x: np.ndarray,
    features: np.ndarray | None,
    seed: int = 0,
    closed: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """One record's class probabilities under adaptation ``adapt`` (:data:`ADAPTATIONS`), from
    its model-ready beats ``x`` and raw side ``features`` (the model's ``InputSpec``) only.

    ``predict(m)`` scores the record with torch model ``m`` (``None``: the model as loaded);
    ``model`` is the loaded torch model (``None`` for an ONNX graph), ``spec`` its ``ModelSpec``.
    ``closed``: a fixed correction of the probabilities (the AF gate, S -> N where the rhythm
    is AF), applied to what it returns and, for ``adabn``, ``prior_em`` and ``cluster``, to
    what the adaptation learns from. ``self_train`` instead learns only from the beats the
    correction leaves unchanged (outside AF windows, their own probabilities): a closed
    window's early beats taught as N made the head call a record's early beats N everywhere
    (MIT-BIH 232; docs/notes/beats6.md, round C).
    ``annotate`` and ``evaluate --data`` both call this, so the two apply the same adaptation.
    """
    from ecgzoo.models import adapt_record as ar

    check_adaptation(adapt)
    post = closed if closed is not None else (lambda p: p)
    if adapt == "adabn":
        return post(predict(adapted_model(model, spec, x, features)))
    raw = predict(None)
    base = post(raw)
    if adapt == "prior_em":  # this record's class priors, from its probabilities alone
        return post(prior_adjusted(base))
    if adapt == "cluster":
        return post(
            ar.cluster_adjusted(
                base, x, features, spec.side_features, list(spec.class_names), seed=seed
            )
        )
    if adapt == "self_train":
        side = standardised(features, spec)
        # no pseudo-label from a beat the gate changed (without a gate, base is raw)
        closed_rows = np.any(base != raw, axis=1, keepdims=True)
        return post(
            ar.self_train_probabilities(
                model, x, side, raw, predict, lambda p: np.where(closed_rows, 0.0, p), seed=seed
            )
        )
    return base
