"""Reading and writing a run folder: config, model weights (tensors only), history, metrics.

Layout of ``RUN/``: ``config.yaml`` (resolved), ``model.json`` (shape and class names),
``model.safetensors`` (best weights), ``checkpoint.pt`` (last epoch, for resuming; tensors and
plain numbers only), ``history.csv``, ``metrics.json`` and PNG plots.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

from ecgzoo.config import ExperimentConfig, build_config, dump_config
from ecgzoo.errors import DataError, EcgzooError

PRETRAINED_PREFIX = "pretrained:"
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_weights(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Save a state dict as safetensors, atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: model weights not found") from None
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise DataError(f"{path}: not a valid safetensors file ({exc})") from None


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a resumable checkpoint; only tensors and plain containers are accepted."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: refused to load checkpoint ({first})") from None


def resolve_run(run: str | Path) -> Path:
    """A run folder, or ``pretrained:NAME`` for weights shipped inside the package."""
    text = str(run)
    if text.startswith(PRETRAINED_PREFIX):
        name = text[len(PRETRAINED_PREFIX) :]
        folder = PRETRAINED_DIR / name
        # torch models ship model.safetensors; tree models their LightGBM text files
        if not ((folder / "model.safetensors").is_file() or (folder / "fold_0.txt").is_file()):
            names = (
                sorted(p.name for p in PRETRAINED_DIR.iterdir() if p.is_dir())
                if (PRETRAINED_DIR.is_dir())
                else []
            )
            raise EcgzooError(
                f"unknown pretrained model {name!r} (available: {', '.join(names) or 'none'})"
            )
        return folder
    folder = Path(run)
    if not (folder / "config.yaml").is_file() or not (folder / "model.json").is_file():
        raise EcgzooError(f"{folder}: not a run folder (no config.yaml / model.json)")
    return folder


def read_run_config(folder: Path) -> ExperimentConfig:
    tree = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    return build_config(tree, source=str(folder / "config.yaml"))


def write_run_config(folder: Path, config: ExperimentConfig) -> None:
    atomic_write_text(folder / "config.yaml", dump_config(config))


def read_spec(folder: Path) -> ModelSpec:
    return ModelSpec(**json.loads((folder / "model.json").read_text()))


def write_spec(folder: Path, spec: ModelSpec) -> None:
    write_json(folder / "model.json", asdict(spec))
