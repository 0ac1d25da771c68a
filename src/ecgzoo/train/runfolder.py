"""Reading and writing a run folder: config, model weights (tensors only), history, metrics.

Layout of ``RUN/``: ``config.yaml`` (resolved), ``model.json`` (shape and class names),
``model.safetensors`` (best weights), ``checkpoint.pt`` (last epoch, for resuming; tensors and
plain numbers only), ``history.csv``, ``metrics.json`` and PNG plots.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ecgzoo.config import ExperimentConfig, build_config, dump_config
from ecgzoo.errors import DataError, EcgzooError
from ecgzoo.paths import default_file_mode

if TYPE_CHECKING:
    import torch

PRETRAINED_PREFIX = "pretrained:"
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
SIDE_FEATURE_SETS = ("rr_features", "rr_context", "rr_ratios")


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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, default_file_mode())  # mkstemp's 0600 -> what open() would give
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


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


def save_weights(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Save a state dict as safetensors, atomically."""
    from safetensors.torch import save_file  # torch is imported where weights are (not on
    # every run-folder read: `annotate --engine onnx` needs no torch)

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a resumable checkpoint; only tensors and plain containers are accepted."""
    import torch

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
    return ModelSpec(**tree)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def write_spec(folder: Path, spec: ModelSpec) -> None:
    write_json(folder / "model.json", asdict(spec))
