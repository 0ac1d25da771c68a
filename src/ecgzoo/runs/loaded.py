"""The one loader of a trained model folder, and the one set of checks every command applies.

``evaluate``, ``annotate``, ``predict``, ``explain``, ``export`` and ``ensemble`` read a run
folder (or ``pretrained:NAME``) only through :func:`load_run`, so a received folder is trusted
the same way everywhere. It refuses, with one line naming the file:

- a ``model.json`` whose class list disagrees with its class count, repeats a class, or lists
  the dataset's classes in another order (N and S swapped would label every normal beat S);
- a ``model.json`` whose ``input`` disagrees with itself (side features, standardisation,
  crop, length) or with the run's ``config.yaml``;
- non-finite numbers in ``model.json`` or in the weights (NaN or infinite tensors);
- weights that do not fit the architecture (:func:`load_trained_model`).

A folder written before ``model.json`` carried its input gets it derived from ``config.yaml``
(:func:`ecgzoo.datasets.input_specs.input_spec_for`), here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecgzoo.config import ExperimentConfig
from ecgzoo.datasets.input_specs import dataset_classes, input_spec_for
from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.models.registry import build_model, is_tree_model
from ecgzoo.runs.runfolder import (
    ModelSpec,
    check_finite_weights,
    load_weights,
    read_run_config,
    read_spec,
    resolve_run,
)

if TYPE_CHECKING:  # torch only where weights load: `annotate --engine onnx` never imports it
    import torch
    import torch.nn as nn


@dataclass
class LoadedRun:
    """A checked run folder: its config, ``model.json``, input spec and (torch) model."""

    folder: Path
    ref: str
    config: ExperimentConfig
    spec: ModelSpec
    input: InputSpec | None  # None: a dataset whose models take no recording (rhythm_windows)
    model: Any = None  # torch.nn.Module; None for tree runs or when weights were not asked for

    @property
    def tree(self) -> bool:
        return is_tree_model(self.spec.name)  # fold_*.txt boosters instead of safetensors


def load_run(
    ref: str | Path, *, weights: bool = True, device: torch.device | None = None
) -> LoadedRun:
    """Resolve, read and check a run folder or ``pretrained:NAME``; with ``weights`` also
    build the torch model (finite weights only). See the module docstring for the checks."""
    folder = resolve_run(ref)
    config = read_run_config(folder)
    spec = read_spec(folder)
    check_classes(folder, config, spec)
    run = LoadedRun(folder, str(ref), config, spec, run_input(folder, config, spec))
    if weights and not run.tree:
        run.model, _ = load_trained_model(folder, device)
    return run


def check_classes(folder: Path, config: ExperimentConfig, spec: ModelSpec) -> None:
    """The class list of ``model.json``: as long as ``n_classes``, no repeats, and the
    dataset's classes in the dataset's order (a subset, such as AAMI without Q, is allowed)."""
    path = Path(folder) / "model.json"
    names = list(spec.class_names)
    if len(names) != spec.n_classes or len(set(names)) != spec.n_classes:
        raise DataError(f"{path}: n_classes is {spec.n_classes} but class_names are {names}")
    expected = dataset_classes(config.data)
    if expected is None:
        return
    position = {c: i for i, c in enumerate(expected)}
    order = [position.get(c, -1) for c in names]
    if -1 in order or order != sorted(order):
        raise DataError(
            f"{path}: class_names {names} are not the {config.data.dataset} classes in their "
            f"order ({', '.join(expected)}); refused (predictions would be mislabelled)"
        )


def run_input(folder: Path, config: ExperimentConfig, spec: ModelSpec) -> InputSpec | None:
    """The run's :class:`InputSpec`: ``model.json``'s ``input`` checked against ``config.yaml``
    and the rest of ``model.json``, or (an older folder) derived from ``config.yaml``."""
    path = Path(folder) / "model.json"
    tree = is_tree_model(spec.name)
    try:
        derived = input_spec_for(config.data, spec, tree=tree)
    except ConfigError:
        derived = None
    if spec.input is None:
        return derived
    saved = InputSpec.from_json(spec.input, str(path))
    if derived is not None and saved != derived:
        field = next(
            k for k, v in saved.to_json().items() if derived.to_json().get(k) != v
        )  # the first field that differs, for the message
        raise DataError(
            f"{path}: input.{field} is {getattr(saved, field)!r} but config.yaml gives "
            f"{getattr(derived, field)!r}; refused"
        )
    check_input(path, saved, spec, tree)
    return saved


def check_input(path: Path, inp: InputSpec, spec: ModelSpec, tree: bool) -> None:
    """``model.json``'s ``input`` agrees with its own shape, features and crop."""
    problems = []
    if not tree:
        if inp.n_features != spec.n_features:
            problems.append(f"{inp.n_features} side features, n_features {spec.n_features}")
        if list(inp.feature_mean) != list(spec.feature_mean) or list(inp.feature_std) != list(
            spec.feature_std
        ):
            problems.append("feature_mean/feature_std differ from the top-level ones")
        if spec.n_features and inp.side_features != (spec.side_features or inp.side_features):
            problems.append(f"side_features {inp.side_features!r} vs {spec.side_features!r}")
        if inp.crop != spec.crop_samples:
            problems.append(f"crop {inp.crop} vs crop_samples {spec.crop_samples}")
        if inp.transform == "raw" and inp.length != spec.n_samples:
            problems.append(f"length {inp.length} vs n_samples {spec.n_samples}")
    if problems:
        raise DataError(f"{path}: input disagrees with the model: {problems[0]}")


def load_trained_model(
    folder: Path, device: torch.device | None = None
) -> tuple[nn.Module, ModelSpec]:
    """Rebuild a model from a run folder (or pretrained folder); weights are tensors only.

    ``model.json`` is not trusted: an unknown architecture, parameters the model does not
    take, a class list that disagrees with its class count, and weights with missing,
    unexpected or mis-shaped tensors are each a one-line :class:`DataError` naming the file.
    """
    import torch  # heavy (1.5-2 s): only when weights are loaded (see TYPE_CHECKING above)

    folder = Path(folder)
    spec_path = folder / "model.json"
    spec = read_spec(folder)
    if len(spec.class_names) != spec.n_classes or len(set(spec.class_names)) != spec.n_classes:
        raise DataError(
            f"{spec_path}: n_classes is {spec.n_classes} but class_names are {spec.class_names}"
        )
    try:
        model = build_model(
            spec.name, spec.n_leads, spec.n_samples, spec.n_classes, spec.n_features, **spec.params
        )
    except EcgzooError as exc:
        raise DataError(f"{spec_path}: {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DataError(f"{spec_path}: cannot build model {spec.name!r} ({exc})") from None
    weights_path = folder / "model.safetensors"
    weights = load_weights(weights_path)
    check_weights(model.state_dict(), weights, spec_path, weights_path)
    check_finite_weights(weights, weights_path)
    model.load_state_dict(weights)
    model.to(device or torch.device("cpu")).eval()
    return model, spec


def check_weights(
    expected: dict[str, torch.Tensor],
    weights: dict[str, torch.Tensor],
    spec_path: Path,
    weights_path: Path,
) -> None:
    """Refuse weights that do not fit the model ``model.json`` describes, naming one tensor."""
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shaped = [
        k for k in expected if k in weights and tuple(weights[k].shape) != tuple(expected[k].shape)
    ]
    problem = None
    if shaped:
        k = shaped[0]
        problem = (
            f"tensor {k!r} is {tuple(weights[k].shape)} in the weights but "
            f"{tuple(expected[k].shape)} in the model"
        )
    elif missing:
        problem = f"tensor {missing[0]!r} is missing from the weights"
    elif unexpected:
        problem = f"the weights hold tensor {unexpected[0]!r} the model does not have"
    if problem:
        more = len(shaped) + len(missing) + len(unexpected) - 1
        raise DataError(
            f"{spec_path} does not match {weights_path.name}: {problem}"
            + (f" (and {more} more)" if more else "")
        )
