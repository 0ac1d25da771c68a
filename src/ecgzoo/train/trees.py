"""Gradient-boosted trees (LightGBM) on label-free beat context: the classical baseline.

Protocol (the beat dataset's ``split: inter``; nothing is ever chosen on the test records):

* training and test records: the dataset's tree protocol (``datasets.tree_protocol``: the
  inter-patient training records plus ``extra_databases``, or every record of another
  ``test_database``).
* record-wise k-fold on the training records (``model.params.folds``; folds balanced on S and V
  beats): fold model ``k`` trains on the other folds and early-stops on fold ``k``'s records;
  the test prediction is the mean of the fold models' probabilities (an ensemble).
* class-prior adjustment: weights multiplying the ensemble's probabilities, searched on the
  *out-of-fold* probabilities of the training records only (coordinate search on
  ``(accuracy + F1_S + F1_V) / 3``).

Run folder: ``config.yaml``, ``model.json`` (a ``ModelSpec``, name ``lightgbm``: feature names,
groups, fold count and class weights in ``params``), ``fold_K.txt`` (LightGBM's own text model
format, never pickle) and ``metrics.json``. Engine hook (one line at the top of
``engine.train_run``): ``if config.model.name == "lightgbm": return train_trees(config,
run_dir, overwrite=overwrite)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.config import ExperimentConfig, dump_config
from ecgzoo.datasets.contextset import feature_matrix
from ecgzoo.datasets.input_specs import saved_input
from ecgzoo.datasets.tree_protocol import (  # noqa: F401 (protocol_records re-exported)
    REPORTED_WITHOUT,
    protocol_records,
    protocol_tables,
)
from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.examples.beat_context import CONTEXT_FS, check_groups
from ecgzoo.examples.beats import CLASS_NAMES
from ecgzoo.models.tree_params import tree_params
from ecgzoo.runs.environment import environment
from ecgzoo.runs.runfolder import ModelSpec, atomic_write_text, read_spec, write_json, write_spec
from ecgzoo.train.evaluate import score_predictions

TREE_MODEL = "lightgbm"


@dataclass
class TreeResult:
    """What :func:`train_trees` returns (the fields the CLI reads from the engine's result)."""

    run_dir: Path
    metrics: dict[str, Any]
    primary: bool = True  # trees train in one process (the engine's RunResult has it too)


def record_folds(y: np.ndarray, group: np.ndarray, k: int) -> np.ndarray:
    """Fold id per beat: whole records, dealt greedily so folds share S, V and all beats alike.

    Records in order of decreasing S, then V, then size; each goes to the fold whose load
    (its share of all S + share of all V + share of all beats) is lowest.
    """
    records = np.unique(group)
    if k < 2 or k > len(records):
        raise ConfigError(f"model.params.folds: need 2 .. {len(records)} folds (got {k})")
    counts = {r: np.bincount(y[group == r].clip(0), minlength=5) for r in records}
    order = sorted(records, key=lambda r: (-counts[r][1], -counts[r][2], -counts[r].sum(), r))
    totals = np.maximum(
        [sum(c[1] for c in counts.values()), sum(c[2] for c in counts.values())]
        + [sum(c.sum() for c in counts.values())],
        1,
    )
    load = np.zeros(k)
    fold_of: dict[str, int] = {}
    for r in order:
        f = int(np.argmin(load))
        fold_of[r] = f
        load[f] += float(np.sum(np.array([counts[r][1], counts[r][2], counts[r].sum()]) / totals))
    return np.array([fold_of[g] for g in group], dtype=np.int64)


def class_weights(y: np.ndarray, power: float) -> np.ndarray:
    """Per-beat training weights ``(n / (k * count)) ** power`` of each beat's class."""
    counts = np.bincount(y, minlength=len(CLASS_NAMES)).astype(np.float64)
    present = counts > 0
    w = np.zeros_like(counts)
    w[present] = (len(y) / (present.sum() * counts[present])) ** power
    return w[y]


def _lgb_params(p: dict[str, Any], seed: int) -> dict[str, Any]:
    return {
        "objective": "multiclass",
        "num_class": len(CLASS_NAMES),
        "learning_rate": p["learning_rate"],
        "num_leaves": p["num_leaves"],
        "min_child_samples": p["min_child_samples"],
        "feature_fraction": p["feature_fraction"],
        "bagging_fraction": p["bagging_fraction"],
        "bagging_freq": 1,
        "lambda_l2": p["lambda_l2"],
        "max_bin": p["max_bin"],
        "num_threads": p["n_jobs"],
        "seed": seed,
        "verbose": -1,
    }


def subsample_normal(
    y: np.ndarray, group: np.ndarray, mask: np.ndarray, cap: int | None, seed: int
) -> np.ndarray:
    """``mask`` with at most ``cap`` (seeded random) N beats per record: every other beat kept.

    N beats are 85 % of the data and alike within a record; a cap trains faster with the
    same patients. Validation folds are never subsampled.
    """
    if not cap:
        return mask
    rng = np.random.default_rng(seed)
    keep = mask.copy()
    for g in np.unique(group[mask]):
        normal = np.flatnonzero(mask & (group == g) & (y == 0))
        if len(normal) > cap:
            keep[rng.choice(normal, size=len(normal) - cap, replace=False)] = False
    return keep


def fit_folds(
    X: np.ndarray,
    y: np.ndarray,
    group: np.ndarray,
    folds: np.ndarray,
    p: dict[str, Any],
    seed: int,
    names: list,
) -> tuple[list, np.ndarray]:
    """One booster per fold (early-stopped on that fold) and the out-of-fold probabilities."""
    import lightgbm as lgb

    oof = np.zeros((len(y), len(CLASS_NAMES)))
    boosters = []
    for k in range(int(folds.max()) + 1):
        tr, va = subsample_normal(y, group, folds != k, p["max_n_per_record"], seed), folds == k
        w = class_weights(y[tr], p["class_weight_power"])
        dtr = lgb.Dataset(X[tr], y[tr], weight=w, feature_name=names, free_raw_data=True)
        dva = lgb.Dataset(X[va], y[va], reference=dtr)
        booster = lgb.train(
            _lgb_params(p, seed + k),
            dtr,
            num_boost_round=p["n_estimators"],
            valid_sets=[dva],
            callbacks=[lgb.early_stopping(p["early_stopping"], verbose=False)],
        )
        oof[va] = booster.predict(X[va], num_iteration=booster.best_iteration)
        boosters.append(booster)
    return boosters, oof


def adjust(prob: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Probabilities times class weights, renormalised (a class-prior shift)."""
    q = prob * np.asarray(weights)[None, :]
    return q / q.sum(axis=1, keepdims=True).clip(1e-12)


def prior_objective(y: np.ndarray, pred: np.ndarray) -> float:
    """``(accuracy + F1_S + F1_V) / 3``: what the prior search maximises (validation only)."""

    def f1(c: int) -> float:
        tp = np.sum((pred == c) & (y == c))
        den = np.sum(pred == c) + np.sum(y == c)
        return 2.0 * tp / den if den else 0.0

    return float((np.mean(pred == y) + f1(1) + f1(2)) / 3.0)


def tune_priors(oof: np.ndarray, y: np.ndarray, rounds: int = 3) -> np.ndarray:
    """S and V weights (N, F, Q fixed at 1) maximising :func:`prior_objective` on OOF probs.

    Only the classes the objective scores are tuned: weighting F or Q would trade accuracy
    for nothing the objective sees, and overfit the few F-rich training records.
    """
    w = np.ones(len(CLASS_NAMES))
    grid = np.exp(np.linspace(-3.0, 3.0, 25))
    best = prior_objective(y, adjust(oof, w).argmax(1))
    for _ in range(rounds):
        for c in (1, 2):
            for g in grid:
                trial = w.copy()
                trial[c] = g
                score = prior_objective(y, adjust(oof, trial).argmax(1))
                if score > best + 1e-9:
                    best, w = score, trial
    return w


def predict_ensemble(boosters: list, X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean of the fold boosters' probabilities, prior-adjusted by ``weights``."""
    prob = np.mean([b.predict(X, num_iteration=b.best_iteration or None) for b in boosters], 0)
    return adjust(prob, weights)


def per_record(y: np.ndarray, pred: np.ndarray, group: np.ndarray) -> dict[str, dict[str, int]]:
    """S and V counts per record: reference, detected (TP) and false alarms (FP, as EC57 counts
    them: :func:`ecgzoo.metrics.aami.sv_counts`); ``n`` beats and ``correct`` ones (so figures
    pool over folds)."""
    from ecgzoo.metrics.aami import sv_counts

    k = len(CLASS_NAMES)
    out = {}
    for g in np.unique(group):
        m = group == g
        conf = np.bincount(y[m] * k + pred[m], minlength=k * k).reshape(k, k)
        out[str(g)] = sv_counts(conf, CLASS_NAMES)
    return out


def inter_metrics(y: np.ndarray, prob: np.ndarray, group: np.ndarray) -> dict[str, Any]:
    """Scores of a test set: the usual metrics, AAMI, per-record S/V, and the AAMI table
    without the records the protocol also reports without (``REPORTED_WITHOUT``)."""
    m = score_predictions(y, prob, list(CLASS_NAMES))
    pred = prob.argmax(1)
    m["per_record"] = per_record(y, pred, group)
    for key, left_out in REPORTED_WITHOUT.items():
        keep = group != left_out
        if (~keep).any():
            m[key] = score_predictions(y[keep], prob[keep], list(CLASS_NAMES))["aami"]
    return m


def train_trees(
    config: ExperimentConfig, run_dir: Path | None = None, *, overwrite: bool = False
) -> TreeResult:
    """Train the fold ensemble the config describes and write its run folder."""
    options = config.data.options
    p = tree_params(config.model.params)
    groups = check_groups(options.context_groups, config.data.option_key("context_groups"))
    run_dir = Path(run_dir) if run_dir is not None else Path(config.output_dir) / config.name
    if (run_dir / "metrics.json").is_file() and not overwrite:
        raise EcgzooError(f"{run_dir}: already holds a finished run (choose another name=...)")
    started = time.time()
    train, test = protocol_tables(options)
    X, y, group, names = feature_matrix(train, groups, options.amplitude_normalise)
    folds = record_folds(y, group, int(p["folds"]))
    boosters, oof = fit_folds(X, y, group, folds, p, config.train.seed, names)
    weights = tune_priors(oof, y) if p["tune_priors"] else np.ones(len(CLASS_NAMES))
    Xt, yt, gt, _ = feature_matrix(test, groups, options.amplitude_normalise)
    prob = predict_ensemble(boosters, Xt, weights)
    run_dir.mkdir(parents=True, exist_ok=True)
    for k, b in enumerate(boosters):
        atomic_write_text(run_dir / f"fold_{k}.txt", b.model_to_string())
    spec = ModelSpec(
        name=TREE_MODEL,
        params={
            **{k: v for k, v in p.items() if k not in ("class_weights", "feature_names")},
            "class_weights": [float(v) for v in weights],
            "feature_names": names,
        },
        n_leads=1,
        n_samples=int(np.asarray(train["x"]).shape[1]),
        n_classes=len(CLASS_NAMES),
        n_features=len(names),
        class_names=list(CLASS_NAMES),
        sampling_rate=CONTEXT_FS,
    )
    spec.input = saved_input(config.data, spec, tree=True)
    write_spec(run_dir, spec)
    atomic_write_text(run_dir / "config.yaml", dump_config(config))
    metrics = {
        "model": TREE_MODEL,
        "train_records": sorted(str(g) for g in np.unique(group)),
        "fold_records": {
            str(k): sorted(str(g) for g in np.unique(group[folds == k]))
            for k in range(len(boosters))
        },
        "validation_oof": score_predictions(y, adjust(oof, weights), list(CLASS_NAMES)),
        "test_records": sorted(str(g) for g in np.unique(gt)),
        "test": inter_metrics(yt, prob, gt),
        "train_seconds": round(time.time() - started, 1),
        "best_iterations": [int(b.best_iteration) for b in boosters],
        "environment": environment(),
    }
    write_json(run_dir / "metrics.json", metrics)
    return TreeResult(run_dir, metrics)


def is_tree_run(folder: Path) -> bool:
    """Whether a run (or pretrained) folder holds a tree model."""
    return (folder / "model.json").is_file() and read_spec(folder).name == TREE_MODEL


def load_tree_model(folder: Path) -> tuple[list, ModelSpec]:
    """The fold boosters (LightGBM text files, no pickle) and the spec of a tree run folder.

    Each file's structure is checked (:mod:`ecgzoo.train.tree_check`) before LightGBM parses
    the very text that was checked: a crafted file cannot crash or hang the process.
    """
    import lightgbm as lgb

    from ecgzoo.train.tree_check import checked_model_text

    spec = read_spec(folder)
    where = folder / "model.json"
    n, names = spec.params.get("folds"), spec.params.get("feature_names")
    weights = spec.params.get("class_weights")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 100:
        raise DataError(f"{where}: params.folds: expected an integer 1 .. 100, got {n!r}")
    if not isinstance(names, list) or len(names) != spec.n_features or not names:
        raise DataError(f"{where}: params.feature_names: expected {spec.n_features} names")
    if (
        not isinstance(weights, list)
        or len(weights) != spec.n_classes
        or not all(isinstance(w, int | float) and math.isfinite(w) and w >= 0 for w in weights)
    ):
        raise DataError(f"{where}: params.class_weights: expected {spec.n_classes} finite weights")
    boosters = []
    for k in range(n):
        text = checked_model_text(folder / f"fold_{k}.txt", spec.n_features, spec.n_classes)
        boosters.append(lgb.Booster(model_str=text))
    return boosters, spec


def evaluate_tree_table(
    folder: Path, options: Any, table: dict, key: str = "context_groups"
) -> dict[str, Any]:
    """Score the tree model of ``folder`` on a beat table (see ``data.contextset``) with its
    run's dataset options (``key``: where ``context_groups`` is set, for messages)."""
    boosters, spec = load_tree_model(folder)
    groups = check_groups(options.context_groups, key)
    X, y, group, names = feature_matrix(table, groups, options.amplitude_normalise)
    if names != spec.params["feature_names"]:
        raise EcgzooError(f"{folder}: the model's features differ from its config's")
    if len(y) == 0:
        raise EcgzooError("no AAMI-labelled beat to score")
    prob = predict_ensemble(boosters, X, np.asarray(spec.params["class_weights"]))
    return inter_metrics(y, prob, group)
