"""Reading and writing a run folder: config, model weights (tensors only), history, metrics.

Layout of ``RUN/``: ``config.yaml`` (resolved), ``model.json`` (shape and class names),
``model.safetensors`` (best weights), ``checkpoint.pt`` (last epoch, for resuming; tensors and
plain numbers only), ``history.csv``, ``metrics.json`` and PNG plots.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecgzoo.config import ExperimentConfig, dump_config
from ecgzoo.errors import DataError
from ecgzoo.examples.input_spec import SIDE_FEATURE_SETS, InputSpec
from ecgzoo.experiment import build_config
from ecgzoo.paths import (  # noqa: F401 (PRETRAINED_*, resolve_run re-exported)
    PRETRAINED_DIR,
    PRETRAINED_PREFIX,
    atomic_write,
    atomic_write_text,
    default_file_mode,
    resolve_run,
)
from ecgzoo.paths import atomic_write_bytes as atomic_write_bytes  # re-exported (apply.outputs)
from ecgzoo.safe_load import read_json, read_yaml

if TYPE_CHECKING:
    import torch


@dataclass
class ModelSpec:
    """What is needed to rebuild a trained model without its training data."""

    name: str
    params: dict[str, Any]
    n_leads: int
    n_samples: int
    n_classes: int
    n_features: int
    class_names: list[str]
    sampling_rate: float
    feature_mean: list[float] = field(default_factory=list)
    feature_std: list[float] = field(default_factory=list)
    crop_samples: int | None = None  # trained on random crops: predict by multi-crop voting
    multilabel: bool = False  # one sigmoid per class (several labels per example)
    thresholds: list[float] | None = None  # multi-label: per-label thresholds chosen on val
    # which side features a beat model takes: "rr_features" (per-beat RR, data.examples.beats)
    # or "rr_context" (label-free RR context, data.contextset); None: an older run, whose
    # n_features > 0 always meant "rr_features"
    side_features: str | None = None
    # what the model eats (ecgzoo.examples.input_spec.InputSpec.to_json); None: a run saved
    # before model.json carried it, derived from its config.yaml when loaded
    input: dict[str, Any] | None = None


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by ``None`` (JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    return obj


def write_json(path: Path, obj: Any) -> None:
    """Write strict JSON (NaN and infinities become ``null``), atomically."""
    text = json.dumps(strict_json(obj), indent=2, sort_keys=False, allow_nan=False)
    atomic_write_text(path, text + "\n")


def check_finite_weights(state_dict: dict[str, torch.Tensor], where: Path | str) -> None:
    """``DataError`` naming ``where`` and the first tensor holding NaN or infinite values: such
    weights are never saved and never loaded (they score as a broken model silently would)."""
    import torch

    for key, tensor in state_dict.items():
        if torch.is_floating_point(tensor) and not bool(torch.isfinite(tensor).all()):
            raise DataError(f"{where}: tensor {key!r} holds NaN or infinite values; refused")


def save_weights(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Save a state dict as safetensors, atomically; non-finite weights are refused."""
    from safetensors.torch import save_file  # torch is imported where weights are (not on
    # every run-folder read: `annotate --engine onnx` needs no torch)

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    check_finite_weights(tensors, path)
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: model weights not found") from None
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise DataError(f"{path}: not a valid safetensors file ({exc})") from None


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a resumable checkpoint; only tensors and plain containers are accepted."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: refused to load checkpoint ({first})") from None


def read_run_config(folder: Path) -> ExperimentConfig:
    path = folder / "config.yaml"
    tree = read_yaml(path, "run config", mapping=True) or {}
    return build_config(tree, source=str(path))


def read_metrics(path: Path) -> dict:
    """A run's ``metrics.json``; a corrupt or foreign file is one line naming it."""
    metrics = read_json(path, "metrics")
    for split in ("val", "test"):
        if not isinstance(metrics.get(split, {}), dict):
            raise DataError(f"{path}: not an ecgzoo metrics file ({split!r} is not an object)")
    return metrics


def write_run_config(folder: Path, config: ExperimentConfig) -> None:
    atomic_write_text(folder / "config.yaml", dump_config(config))


def read_spec(folder: Path) -> ModelSpec:
    """``model.json`` as a :class:`ModelSpec`; a corrupt or foreign file is one line naming it."""
    path = Path(folder) / "model.json"
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(tree, dict):
        raise DataError(f"{path}: expected a JSON object")
    known = set(ModelSpec.__dataclass_fields__)
    required = {
        n
        for n, f in ModelSpec.__dataclass_fields__.items()
        if f.default is MISSING and f.default_factory is MISSING
    }
    missing = sorted(required - set(tree))
    unknown = sorted(set(tree) - known)
    if missing or unknown:
        what = f"missing {missing[0]!r}" if missing else f"unknown key {unknown[0]!r}"
        raise DataError(f"{path}: not an ecgzoo model spec ({what})")
    checks = {
        "name": lambda v: isinstance(v, str),
        "params": lambda v: isinstance(v, dict),
        "n_leads": _positive_int,
        "n_samples": _positive_int,
        "n_classes": _positive_int,
        "n_features": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "class_names": lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
        "sampling_rate": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v > 0,
        "crop_samples": lambda v: v is None or _positive_int(v),
        "multilabel": lambda v: isinstance(v, bool),
        "side_features": lambda v: v is None or v in SIDE_FEATURE_SETS,
        "thresholds": lambda v: (
            v is None
            or (
                isinstance(v, list)
                and len(v) == tree.get("n_classes")
                and all(isinstance(t, int | float) and not isinstance(t, bool) for t in v)
            )
        ),
    }
    for key, ok in checks.items():
        if key in tree and not ok(tree[key]):
            raise DataError(f"{path}: {key}: invalid value {tree[key]!r}")
    for key in ("feature_mean", "feature_std", "thresholds"):
        values = tree.get(key) or []
        if not isinstance(values, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        ):
            raise DataError(f"{path}: {key}: expected finite numbers")
    if tree.get("input") is not None:
        InputSpec.from_json(tree["input"], str(path))  # refuses a malformed description
    return ModelSpec(**tree)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def write_spec(folder: Path, spec: ModelSpec) -> None:
    write_json(folder / "model.json", asdict(spec))


def stop_line(metrics: dict[str, Any]) -> str:
    """One sentence on how far training went: ``stopped after epoch 1 of 6: time budget 4 min``."""
    run, planned = metrics.get("epochs_run"), metrics.get("epochs_planned")
    reason = metrics.get("stop_reason")
    if run is None or planned is None:
        return ""
    if reason is None:
        return f"trained all {planned} epochs"
    where = "in" if metrics.get("last_epoch_partial") else "after"
    return f"stopped {where} epoch {run} of {planned}: {reason}"


def describe_model(model: dict[str, Any]) -> tuple[str | None, str]:
    """``(name, settings)`` of a config's ``model`` section; an ensemble is named by its members
    (``3x beat_cnn``: an ensemble of three) and shows their settings when they share them."""
    params = model.get("params") or {}
    members = params.get("members") if model.get("name") == "ensemble" else None
    if isinstance(members, list) and members and all(isinstance(m, dict) for m in members):
        names = sorted({str(m.get("name")) for m in members})
        label = f"{len(members)}x {' + '.join(names)}"
        shared = [m.get("params") or {} for m in members]
        settings = shared[0] if all(p == shared[0] for p in shared) else {}
        return label, ", ".join(f"{k}={v}" for k, v in settings.items())
    return model.get("name"), ", ".join(f"{k}={v}" for k, v in params.items())
