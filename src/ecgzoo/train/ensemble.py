"""Join trained runs into one ensemble run (``ecgzoo ensemble RUN... --output DIR``).

The members must be the same task on the same data: one dataset, class list, input shape,
sampling rate, crop length and side features, and data configs that differ at most in how
validation is drawn (``val_fold`` / ``val_fraction``), so they share one test split that none
of them trained on. The usual case is a k-fold ensemble: members validated on the folds of
the dataset's ``val_fold`` option.

The ensemble run folder is an ordinary run (``model.json`` names the ``ensemble`` model, whose
weights are the members' own), so ``evaluate``, ``predict``, ``export`` and ``explain`` take it
as they are. What it lacks is a validation split that no member trained on. Its
``metrics.json`` therefore holds:

* ``test``: the ensemble (mean of the members' probabilities) on the shared test split;
* ``val_out_of_fold``: every validation example of any member, predicted by the members that
  held it out (averaged where several did): the cross-validated estimate, for choices (a
  multi-label ensemble's per-label thresholds are chosen on it; with ``--operating-point`` a
  single-label ensemble's decision weights, :mod:`ecgzoo.metrics.operating_points`, which
  join the ensemble's ``model.json`` so every command applies them);
* ``members``: each member's own validation and test figures, from its ``metrics.json``, and
  the ``environment`` it was trained with;
* ``environment``: where the ensemble itself was joined and scored.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import EcgzooError
from ecgzoo.paths import default_file_mode

#: data options that choose the validation part only (members may differ in them)
VALIDATION_KEYS = ("val_fold", "n_val_folds", "val_fraction")
#: model.json fields every member must share
SHARED_SPEC_FIELDS = (
    "n_leads",
    "n_samples",
    "n_classes",
    "n_features",
    "class_names",
    "sampling_rate",
    "crop_samples",
    "multilabel",
    "side_features",
)  # feature_mean / feature_std may differ (each fold's own): the ensemble maps them


def test_split_config(config: Any) -> dict[str, Any]:
    """A run's data config without the keys that only choose its validation part."""
    tree = config.data.model_dump(mode="json")
    for options in tree.values():
        if isinstance(options, dict):
            for key in VALIDATION_KEYS:
                options.pop(key, None)
    return tree


def check_members(folders: list[Path]) -> tuple[list[Any], list[Any]]:
    """Each member's ``(specs, configs)``, after checking that they can be averaged; the first
    disagreement is one line naming the member and the field."""
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.train.trees import is_tree_run

    if len(folders) < 2:
        raise EcgzooError("ensemble: give at least two run folders")
    if len({f.resolve() for f in folders}) != len(folders):
        raise EcgzooError("ensemble: a run folder is given twice")
    specs, configs = [], []
    for folder in folders:
        if is_tree_run(folder):
            raise EcgzooError(f"{folder}: a tree model; ensembles join torch runs")
        member = load_run(folder, weights=False)  # the checks every command applies
        specs.append(member.spec)
        configs.append(member.config)
        if specs[-1].name == "ensemble":
            raise EcgzooError(f"{folder}: already an ensemble; join its members instead")
    first, first_split = specs[0], test_split_config(configs[0])
    for folder, spec, config in zip(folders[1:], specs[1:], configs[1:], strict=True):
        for key in SHARED_SPEC_FIELDS:
            if getattr(spec, key) != getattr(first, key):
                raise EcgzooError(
                    f"{folder}: model.json {key} is {getattr(spec, key)!r}, but "
                    f"{folders[0]} has {getattr(first, key)!r}"
                )
        split = test_split_config(config)
        if split != first_split:
            key = _first_difference(first_split, split)
            raise EcgzooError(
                f"{folder}: data.{key} differs from {folders[0]}'s, so the members would not "
                "share one test split (only val_fold / val_fraction may differ)"
            )
    return specs, configs


def _first_difference(a: dict, b: dict, prefix: str = "") -> str:
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
                return _first_difference(a[key], b[key], f"{prefix}{key}.")
            return f"{prefix}{key}"
    return prefix.rstrip(".")


def build_ensemble(folders: list[Path], specs: list[Any]) -> tuple[Any, Any]:
    """The :class:`~ecgzoo.models.ensemble.Ensemble` holding the members' trained weights, and
    its ``model.json`` spec."""
    from ecgzoo.models.ensemble import Ensemble
    from ecgzoo.train.evaluate import load_trained_model

    first = specs[0]
    members = [{"name": s.name, "params": dict(s.params)} for s in specs]
    combine = "sigmoid" if first.multilabel else "softmax"
    affine = feature_affine(specs)
    extra = {} if affine is None else {"feature_affine": affine}
    model = Ensemble(
        first.n_leads, first.n_samples, first.n_classes, first.n_features, members, combine,
        **extra,
    )  # fmt: skip
    for slot, folder in zip(model.members, folders, strict=True):
        trained, _ = load_trained_model(folder)
        slot.load_state_dict(trained.state_dict())
    model.eval()
    params = {"members": members, "combine": combine, **extra}
    spec = replace(first, name="ensemble", params=params)
    return model, spec


def feature_affine(specs: list[Any]) -> list[dict[str, list[float]]] | None:
    """Per member, the map from the first member's standardised side features to its own
    (``None`` when all members share one standardisation, as members of one split do)."""
    stats = [(list(s.feature_mean), list(s.feature_std)) for s in specs]
    if all(st == stats[0] for st in stats):
        return None
    m0, s0 = (np.asarray(v, dtype=np.float64) for v in stats[0])
    out = []
    for mean, std in stats:
        m, sd = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        out.append({"scale": (s0 / sd).tolist(), "shift": ((m0 - m) / sd).tolist()})
    return out


def out_of_fold(configs: list[Any], specs: list[Any], model: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(prob, y)`` for every member's validation examples, each predicted by the members
    that held it out (averaged where several did), never by one that trained on it (each
    member with its own ``model.json``: its own side-feature standardisation)."""
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.train.evaluate import predict_split

    parts = []
    for member, config, spec in zip(model.members, configs, specs, strict=True):
        val = load_data(config.data).val
        parts.append((np.asarray(val.groups), predict_split(member, spec, val), np.asarray(val.y)))
    groups = parts[0][0]
    if all(np.array_equal(g, groups) for g, _, _ in parts):
        # one validation split for all (members differing in seed only): the ensemble itself
        return np.mean([p for _, p, _ in parts], axis=0).astype(np.float32), parts[0][2]
    held = [set(np.unique(g).tolist()) for g, _, _ in parts]
    if sum(len(h) for h in held) == len(set().union(*held)):
        # record-wise folds (beats of MIT-BIH DS1): each record held out by exactly one member
        return (
            np.concatenate([p for _, p, _ in parts]).astype(np.float32),
            np.concatenate([y for _, _, y in parts]),
        )
    summed: dict[str, np.ndarray] = {}
    count: dict[str, int] = {}
    label: dict[str, Any] = {}
    for g, prob, y in parts:
        keys = [str(k) for k in g.tolist()]
        if len(set(keys)) != len(keys):
            raise EcgzooError(
                "ensemble: members validated on different splits need one example per record "
                "(recording datasets) to be scored out of fold; these share "
                "record ids"
            )
        for key, p, t in zip(keys, prob, y, strict=True):
            summed[key] = summed.get(key, 0) + p
            count[key] = count.get(key, 0) + 1
            label[key] = t
    keys = list(summed)
    prob = np.stack([summed[k] / count[k] for k in keys]).astype(np.float32)
    return prob, np.stack([label[k] for k in keys])


def choose_decision_weights(
    model: Any, spec: Any, oof_prob: np.ndarray, oof_y: np.ndarray, point: str | None
) -> dict[str, Any] | None:
    """Choose ``point``'s decision weights on the out-of-fold predictions (nothing else) and
    put them into the ensemble (``model`` and ``spec.params``); ``None`` without a point."""
    if point is None:
        return None
    import torch

    from ecgzoo.metrics.operating_points import OPERATING_POINTS, choose_weights

    if spec.multilabel:
        raise EcgzooError("--operating-point: multi-label ensembles choose thresholds instead")
    if point not in OPERATING_POINTS:
        raise EcgzooError(f"--operating-point: unknown {point!r} ({', '.join(OPERATING_POINTS)})")
    try:
        chosen = choose_weights(oof_prob, oof_y, point, spec.class_names)
    except ValueError as err:
        raise EcgzooError(f"--operating-point: {err}") from None
    weights = [float(w) for w in chosen.weights]
    spec.params = {**spec.params, "decision_weights": weights}
    model.log_decision_weights.copy_(torch.log(torch.tensor(weights)))
    out = chosen.to_json()
    out["chosen_on"] = "val_out_of_fold"
    return {"json": out, "weights_list": weights}


def member_summary(folder: Path) -> dict[str, Any]:
    """A member's own figures from its ``metrics.json`` (validation and test) and what it was
    trained with (``None`` for runs older than ``environment``)."""
    from ecgzoo.runs.runfolder import read_metrics

    path = folder / "metrics.json"
    if not path.is_file():
        raise EcgzooError(f"{path}: not found (a member must be a finished run)")
    metrics = read_metrics(path)
    row: dict[str, Any] = {"run": str(folder)}
    for split in ("val", "test"):
        scores = metrics.get(split) or {}
        row[f"{split}_macro_f1"] = scores.get("macro_f1")
        challenge = scores.get("challenge") or {}
        for key in ("challenge_f1", "challenge_score"):  # CinC 2017, 2021
            if key in challenge:
                row[f"{split}_{key}"] = challenge[key]
    row["environment"] = metrics.get("environment")
    return row


def join_runs(
    folders: list[Path], output: Path, operating_point: str | None = None
) -> dict[str, Any]:
    """Build, score and write the ensemble of the runs in ``folders`` to ``output`` (which
    must not exist yet); returns its ``metrics.json``. Written to a temporary folder beside
    ``output`` and renamed into place, so a failure leaves nothing half-written.

    ``operating_point`` (single-label): decision weights chosen on the out-of-fold
    predictions only, then stored in the ensemble (``params.decision_weights``); the test
    split is scored once, afterwards, with them."""
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.models.registry import count_parameters
    from ecgzoo.report import plots
    from ecgzoo.runs.environment import environment
    from ecgzoo.runs.runfolder import save_weights, write_json, write_run_config, write_spec
    from ecgzoo.train.evaluate import evaluate_split, score_predictions

    folders = [Path(f) for f in folders]
    output = Path(output)
    if output.exists():
        raise EcgzooError(f"--output: {output} already exists (choose a new folder)")
    specs, configs = check_members(folders)
    rows = [member_summary(f) for f in folders]
    model, spec = build_ensemble(folders, specs)
    oof_prob, oof_y = out_of_fold(configs, specs, model)
    if spec.multilabel:  # the members' thresholds were chosen for them: choose again, out of fold
        from ecgzoo.metrics.multilabel import choose_thresholds

        spec.thresholds = [float(t) for t in choose_thresholds(oof_prob, oof_y)]
    point = choose_decision_weights(model, spec, oof_prob, oof_y, operating_point)
    oof = score_predictions(oof_y, oof_prob, spec.class_names, spec.thresholds)
    if point is not None:  # scored at argmax above, at the chosen weights here
        oof_argmax = oof
        oof = score_predictions(oof_y, oof_prob, spec.class_names, None, point["weights_list"])
    data = load_data(configs[0].data)
    test, test_prob = evaluate_split(model, spec, data.test)
    metrics = {
        "test": test,
        "val_out_of_fold": oof,
        "n_val_out_of_fold": len(oof_y),
        **(
            {"val_out_of_fold_argmax": oof_argmax, "operating_point": point["json"]}
            if point is not None
            else {}
        ),
        "members": rows,
        "model": "ensemble",
        "n_members": len(folders),
        "n_parameters": count_parameters(model),
        "environment": environment(),
    }
    model_config = configs[0].model.model_copy(update={"name": "ensemble", "params": spec.params})
    config = configs[0].model_copy(update={"name": output.name, "model": model_config})
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp"))
    try:
        # mkdtemp's 0700 -> a folder others may read where the umask lets them read files
        file_mode = default_file_mode()
        os.chmod(work, file_mode | (file_mode & 0o444) >> 2)
        write_run_config(work, config)
        write_spec(work, spec)
        save_weights(work / "model.safetensors", model.state_dict())
        write_json(work / "metrics.json", metrics)
        if not spec.multilabel:
            names = spec.class_names
            plots.plot_confusion_matrix(
                np.asarray(test["confusion_matrix"]), names, work / "confusion_matrix.png"
            )
            plots.plot_roc_curves(data.test.y, test_prob, names, work / "roc_curves.png")
        os.rename(work, output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return metrics
