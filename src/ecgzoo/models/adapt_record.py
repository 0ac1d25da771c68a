"""Label-free adaptation that looks at one record's beats together (issue 19): ``cluster`` and
``self_train``. Like AdaBN and prior EM (:mod:`ecgzoo.models.adapt`) they read the record's
model-ready beats (the model's ``InputSpec``: the same windows and raw side features the model
is fed), the model's own probabilities, and nothing else: never a label.

``cluster`` (:func:`cluster_adjusted`): a patient's beats of one origin look alike, so the
record's beats are grouped by morphology (k-means on the PCA of the per-record standardised beat
windows) and the *ventricular* evidence (V, F) of each beat is replaced by a mix of its own and
its cluster's mean probabilities (optionally none in the largest cluster, the patient's dominant
beat). Whether a supraventricular beat is S stays the beat's own decision (its RR context), but
a beat that is not premature against the rhythm before it (``pre_over_past``: its RR over the
median of the 10 RR before) is not S; and in a record where the early beats of supraventricular
shape are few (``promote``: not an irregular rhythm such as atrial fibrillation), each is S.

``self_train`` (:func:`self_trained`): the classifier head is fine-tuned for a few steps on the
record's confident beats (the model's own argmax where its probability passes a threshold),
class-balanced, then the record is predicted again. With ``rounds`` above 1
(:func:`self_train_probabilities`) the new probabilities give new pseudo-labels and the *original*
head is fine-tuned afresh on them. Deterministic for a given ``seed``.

The parameters (:data:`CLUSTER`, :data:`SELF_TRAIN`) were fixed on MIT-BIH DS1 only (a model
trained on half of DS1, adapted on the other half) before any DS2 or SVDB figure of these
methods was read; the rule and the figures are in ``docs/notes/adapt.md``.
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

#: ``cluster``: k-means clusters, PCA components, weight of the cluster mean in a beat's V/F
#: probabilities, the largest cluster taken as supraventricular, the prematurity below which a
#: supraventricular beat may be S (``None``: no RR gate), and ``promote`` (``None`` or the
#: largest fraction of early supraventricular beats for which every one of them is called S).
#: Chosen on DS1 (docs/notes/adapt.md).
CLUSTER: dict[str, Any] = {
    "k": 4, "pca": 8, "smooth": 1.0, "anchor": False, "premature": 0.85, "promote": 0.1,
}  # fmt: skip
#: ``self_train``: pseudo-label threshold, Adam steps and learning rate, batch size, and rounds
#: of pseudo-labelling (each from the original head).
SELF_TRAIN: dict[str, Any] = {
    "threshold": 0.99, "steps": 40, "lr": 1e-3, "batch": 256, "rounds": 1,
}  # fmt: skip


def _column(features: np.ndarray | None, feature_set: str | None, name: str) -> np.ndarray:
    """Column ``name`` of a beat model's raw side features (a context set of
    ``examples.side_features``; log sets are exponentiated back)."""
    from ecgzoo.examples.side_features import CONTEXT_SETS

    names = CONTEXT_SETS.get(str(feature_set), [])
    for col, label in ((name, False), (f"log_{name}", True)):
        if col in names and features is not None:
            v = np.asarray(features, dtype=np.float64)[:, names.index(col)]
            return np.exp(v) if label else v
    raise ConfigError(
        f"--adapt cluster: needs a model whose side features hold {name} "
        f"(the context sets {', '.join(CONTEXT_SETS)}; this one: {feature_set})"
    )


def beat_clusters(x: np.ndarray, k: int, n_pca: int, seed: int = 0) -> np.ndarray:
    """Cluster index of each beat of one record ``x`` ``(n, leads, samples)``: k-means (``k``,
    fewer for tiny records) on the first ``n_pca`` principal components of the beat windows,
    each sample standardised over the record."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    z = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    z = (z - z.mean(axis=0)) / (z.std(axis=0) + 1e-6)
    d = max(1, min(n_pca, len(z) - 1, z.shape[1]))
    z = PCA(d, svd_solver="full").fit_transform(z)
    km = KMeans(min(k, len(z)), n_init=4, random_state=seed)
    return km.fit_predict(z).astype(np.int64)


def cluster_adjusted(
    prob: np.ndarray,
    x: np.ndarray,
    features: np.ndarray | None,
    feature_set: str | None,
    class_names: list[str],
    seed: int = 0,
    **params: Any,
) -> np.ndarray:
    """One record's probabilities after ``cluster`` (module docstring); ``params`` override
    :data:`CLUSTER` (for the DS1 development only)."""
    p = np.asarray(prob, dtype=np.float64)
    opt = {**CLUSTER, **params}
    names = list(class_names)
    if len(p) < 3 or not {"N", "S"} <= set(names):
        return p.astype(np.float32)
    lab = beat_clusters(x, int(opt["k"]), int(opt["pca"]), seed)
    counts = np.bincount(lab)
    mean = np.zeros((len(counts), p.shape[1]))
    np.add.at(mean, lab, p)
    mean /= np.maximum(counts, 1)[:, None]
    ven = [names.index(c) for c in ("V", "F") if c in names]
    n_i, s_i = names.index("N"), names.index("S")
    q = p.copy()
    smooth = float(opt["smooth"])
    q[:, ven] = (1.0 - smooth) * p[:, ven] + smooth * mean[lab][:, ven]
    if opt["anchor"]:  # the patient's dominant beat is no ventricular beat
        q[np.ix_(lab == int(np.argmax(counts)), ven)] = 0.0
    other = [i for i in range(p.shape[1]) if i not in ven and i not in (n_i, s_i)]
    rest = np.clip(1.0 - q[:, ven].sum(axis=1) - q[:, other].sum(axis=1), 0.0, None)
    share = p[:, s_i] / np.clip(p[:, s_i] + p[:, n_i], 1e-12, None)
    if opt["premature"] is not None:  # an S beat comes early against the rhythm before it
        early = _column(features, feature_set, "pre_over_past") < float(opt["premature"])
        share = np.where(early, share, 0.0)
        # promote: in a record with few early beats of supraventricular shape (not a rhythm
        # that is irregular throughout, as atrial fibrillation), each of them is S
        supra_early = early & (q[:, ven].sum(axis=1) < 0.5)
        if opt.get("promote") is not None and supra_early.mean() <= float(opt["promote"]):
            share = np.where(supra_early, 1.0, share)
    q[:, s_i] = rest * share
    q[:, n_i] = rest * (1.0 - share)
    return q.astype(np.float32)


def _head_inputs(model: nn.Module, x: torch.Tensor, f: torch.Tensor | None, batch: int = 1024):
    """What the model's ``head`` (a ``ClassifierHead``) receives for inputs ``x``: the trunk's
    representation and the standardised side features, captured by a forward hook."""
    import torch

    got: list[tuple] = []
    hook = model.head.register_forward_hook(lambda _m, args, _out: got.append(args))
    try:
        with torch.no_grad():
            for s in range(0, len(x), batch):
                model(x[s : s + batch], None if f is None else f[s : s + batch])
    finally:
        hook.remove()
    z = torch.cat([a[0] for a in got])
    has_side = f is not None and len(got[0]) > 1 and got[0][1] is not None
    side = torch.cat([a[1] for a in got]) if has_side else None
    return z, side


def self_trained(
    model: nn.Module,
    x: np.ndarray,
    side: torch.Tensor | None,
    prob: np.ndarray,
    seed: int = 0,
    **params: Any,
) -> nn.Module:
    """A copy of ``model`` whose ``head`` is fine-tuned on the record's confident beats (the
    argmax of ``prob``, the model's own probabilities, where it is at least the threshold);
    ``side``: the beats' side features, standardised as the model is fed them (or ``None``);
    ``params`` override :data:`SELF_TRAIN`. ``model`` is not changed. An ensemble (``members``):
    each member's head learns the ensemble's own pseudo-labels, fed its side features as the
    ensemble feeds them."""
    import torch
    import torch.nn.functional as F

    opt = {**SELF_TRAIN, **params}
    adapted = copy.deepcopy(model).eval()
    members = getattr(adapted, "members", None)
    if members is not None and not hasattr(adapted, "head"):
        for i, member in enumerate(members):
            own = (
                None if side is None else side * adapted.feature_scale[i] + adapted.feature_shift[i]
            )
            members[i] = self_trained(member, x, own, prob, seed=seed, **params)
        return adapted.eval()
    if not hasattr(adapted, "head"):
        raise ConfigError("--adapt self_train: the model has no classifier head to fine-tune")
    p = np.asarray(prob)
    sure = np.flatnonzero(p.max(axis=1) >= float(opt["threshold"]))
    pseudo = p.argmax(axis=1)
    if len(sure) < 2 or int(opt["steps"]) <= 0:
        return adapted
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if xt.dim() == 2:
        xt = xt[:, None, :]
    z, side = _head_inputs(adapted, xt[sure], None if side is None else side[sure])
    y = torch.from_numpy(pseudo[sure].astype(np.int64))
    counts = torch.bincount(y, minlength=p.shape[1]).double()
    weight = torch.where(counts > 0, counts.sum() / counts.clamp(min=1), 0.0).float()
    weight = weight / weight[counts > 0].mean()  # balanced over the classes the record has
    gen = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(adapted.head.parameters(), lr=float(opt["lr"]))
    for _ in range(int(opt["steps"])):  # eval mode: no dropout, fixed feature_norm statistics
        b = torch.randint(len(y), (min(int(opt["batch"]), len(y)),), generator=gen)
        logits = adapted.head(z[b], None if side is None else side[b])
        loss = F.cross_entropy(logits, y[b], weight=weight)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return adapted.eval()


def self_train_probabilities(
    model: nn.Module,
    x: np.ndarray,
    side: torch.Tensor | None,
    prob: np.ndarray,
    predict: Callable[[nn.Module], np.ndarray],
    teach: Callable[[np.ndarray], np.ndarray] = lambda p: p,
    seed: int = 0,
    **params: Any,
) -> np.ndarray:
    """One record's probabilities after ``rounds`` of self-training (:data:`SELF_TRAIN`).

    Each round fine-tunes ``model``'s original head (:func:`self_trained`) on pseudo-labels from
    ``teach(p)``, where ``p`` is ``prob`` (the model's own probabilities) in the first round and
    the last adapted model's ``predict`` after that; ``teach`` zeroes the rows no beat may teach
    from (the AF gate's closed windows). Returns the last adapted model's ``predict``.
    """
    rounds = int({**SELF_TRAIN, **params}["rounds"])
    if rounds < 1:
        raise ConfigError(f"self_train rounds: must be at least 1 (got {rounds})")
    step = {k: v for k, v in params.items() if k != "rounds"}
    p = np.asarray(prob)
    for _ in range(rounds):
        p = predict(self_trained(model, x, side, teach(p), seed=seed, **step))
    return p
