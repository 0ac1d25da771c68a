"""Validated experiment configuration, loaded from YAML and overridable with ``key=value``."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ecgzoo.config_data import (  # re-exported: the data section lives in config_data
    TWELVE_LEADS,
    BeatOptions,
    Cinc2017Options,
    Cinc2021Options,
    DataConfig,
    MitbihOptions,
    RhythmWindowsOptions,
    StrictConfig,
    SvdbOptions,
)
from ecgzoo.errors import ConfigError
from ecgzoo.safe_load import load_yaml, read_yaml, yaml_problem  # noqa: F401 - re-exported

__all__ = [
    "TWELVE_LEADS",
    "BeatOptions",
    "Cinc2017Options",
    "Cinc2021Options",
    "DataConfig",
    "ExperimentConfig",
    "MitbihOptions",
    "ModelConfig",
    "RhythmWindowsOptions",
    "SvdbOptions",
    "TrainConfig",
    "build_config",
    "dump_config",
    "load_config",
]


class ModelConfig(StrictConfig):
    name: str = "resnet1d"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_model_and_params(self, info: ValidationInfo) -> ModelConfig:
        """The model exists and ``params`` fit its constructor (names and types; names only,
        from the source, in :func:`build_config`'s first, torch-free pass)."""
        from ecgzoo.models.registry import model_params_problem

        light = bool((info.context or {}).get("light"))
        try:
            problem = model_params_problem(self.name, self.params, light=light)
        except ConfigError as exc:  # unknown model name
            raise ValueError(str(exc)) from None
        if problem:
            raise ValueError(problem)
        return self


class TrainConfig(StrictConfig):
    epochs: int = Field(20, ge=0)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = Field(
        "adam", description="adam (the studies' choice), adamw (decoupled decay), rmsprop, sgd"
    )
    momentum: float = Field(
        0.9, ge=0, lt=1, description="sgd and rmsprop only (adam/adamw use their betas)"
    )
    loss: Literal["ce", "weighted_ce", "focal", "bce", "weighted_bce"] = Field(
        "ce", description="bce / weighted_bce (positive weights): multi-label datasets only"
    )
    focal_gamma: float = Field(2.0, ge=0)
    class_weight_power: float = Field(
        1.0, ge=0, le=1, description="weights (n / (k * count)) ** power; 0.5 softens rare classes"
    )
    pos_weight_max: float | None = Field(
        None, ge=1, description="weighted_bce: cap each label's positive weight"
    )
    class_weight_cap: float | None = Field(
        None, gt=0, description="weighted_ce / focal: cap each class weight at this value"
    )
    shift_samples: int = Field(
        0,
        ge=0,
        description="beats: shift each training beat by a random +-N samples (edge "
        "samples repeated), so the model does not learn one exact fiducial",
    )
    monitor: str = Field("val_macro_recall", description="metric the best checkpoint is kept on")
    monitor_mode: Literal["max", "min"] = "max"
    early_stopping_patience: int = Field(10, ge=1)
    lr_patience: int = Field(5, ge=0)
    lr_factor: float = Field(0.5, gt=0, lt=1)
    seed: int = Field(0, ge=0, le=2**32 - 1)  # numpy and sklearn seeds are unsigned 32-bit
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="older spelling of train.accelerator, kept for existing run folders"
    )
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap steps (tests, smoke runs)")
    max_minutes: float | None = Field(
        None,
        gt=0,
        description="time budget (Lightning max_time), checked after every training step; "
        "the epoch it ends in is validated and scored",
    )
    augment: bool = Field(False, description="random amplitude scaling, baseline shift and noise")
    time_warp: float = Field(
        0.0, ge=0, le=1, description="time warping strength (random smooth speed changes); 0 off"
    )
    window_warp: float = Field(
        0.0, ge=0, lt=1, description="window warping: share of the length stretched x2 or x0.5"
    )
    mixup_alpha: float = Field(
        0.0, ge=0, description="mixup: Beta(alpha, alpha) mixing of examples and labels; 0 off"
    )
    balanced_sampling: bool = False
    init_from: str | None = Field(
        None,
        description="start from the weights of this run folder or pretrained:NAME "
        "(tensors whose name and shape match; the rest, e.g. the classifier, start fresh)",
    )
    data_workers: int = Field(
        0,
        ge=0,
        description="worker processes that gather training batches (0: the main process); "
        "worth it on a GPU machine with idle cores, not on a busy CPU box",
    )
    pin_memory: bool = Field(
        False, description="page-locked batches for faster host-to-GPU copies (GPU runs)"
    )
    num_threads: int | None = Field(
        None,
        ge=1,
        description="torch intra-op threads; default: OMP_NUM_THREADS if set, else one per "
        "free core (usable cores minus the 1-minute load), so a busy machine is not oversubscribed",
    )
    train_loss_examples: int = Field(
        20_000,
        ge=0,
        description="training examples (seeded subset) the final train loss and overfitting gap "
        "are scored on; 0 skips them (sweeps use fewer: scoring crops of long records is slow)",
    )
    curve_train_examples: int = Field(
        2_000,
        ge=0,
        description="training examples (a fixed seeded subset) scored each epoch with the plain "
        "validation loss, as train_eval_loss: the learning curve comparable with val_loss; 0 "
        "skips it",
    )
    # Where and how to train (PyTorch Lightning Trainer options; see docs/guide.md).
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = Field(
        "auto", description="auto: a GPU when one is visible (train.device=cpu forces the CPU)"
    )
    devices: int | Literal["auto"] = Field(
        1, description="devices per node; more than one trains data-parallel (DDP)"
    )
    strategy: Literal["auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true"] = "auto"
    num_nodes: int = Field(1, ge=1, description="machines taking part (multi-node DDP)")
    precision: Literal["32-true", "16-mixed", "bf16-mixed", "bf16-true"] = Field(
        "32-true", description="16-mixed needs a GPU; bf16-mixed works on CPU and recent GPUs"
    )
    gradient_clip_val: float | None = Field(None, gt=0, description="clip gradients to this")
    gradient_clip_algorithm: Literal["norm", "value"] = "norm"
    accumulate_grad_batches: int = Field(1, ge=1, description="batches per optimizer step")
    loggers: list[Literal["mlflow", "wandb"]] = Field(
        default_factory=list,
        description="extra loggers besides history.csv: mlflow (sqlite in output_dir), "
        "wandb (offline, in RUN/wandb)",
    )

    @field_validator("devices")
    @classmethod
    def _positive_devices(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("devices must be >= 1 or 'auto'")
        return value


class ExperimentConfig(StrictConfig):
    name: str = "experiment"
    data: DataConfig = DataConfig()
    # the default needs no check (and no torch import): construct it unvalidated
    model: ModelConfig = Field(default_factory=ModelConfig.model_construct)
    train: TrainConfig = TrainConfig()
    output_dir: str = "runs"

    @model_validator(mode="after")
    def _monitor_is_logged(self) -> ExperimentConfig:
        """``train.monitor`` names a metric this task logs, in the right direction; the loss
        fits the task (sigmoid losses for multi-label datasets)."""
        from ecgzoo.datasets.registry import fixed_classes
        from ecgzoo.metrics.names import check_monitor, loss_problem

        classes = fixed_classes(str(self.data.dataset))
        problem = check_monitor(
            self.train.monitor, self.train.monitor_mode, classes, str(self.data.dataset)
        )
        if problem:
            raise ValueError(f"train.monitor: {problem}")
        problem = loss_problem(
            str(self.data.dataset), self.train.loss, self.train.balanced_sampling
        )
        if problem:
            raise ValueError(problem)
        return self


def set_dotted(tree: dict, key: str, value: Any) -> None:
    """Set ``tree["a"]["b"] = value`` for ``key`` ``"a.b"``, creating sections as needed."""
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {key!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.lr=0.01"`` -> ``("train.lr", 0.01)``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    value = load_yaml(raw, f"override {text!r}: value") if raw.strip() else None
    return key, value


def read_yaml_file(path: str | Path, what: str = "config") -> Any:
    """The parsed YAML of ``path``; a missing file, non-UTF-8 bytes or bad YAML raise a
    one-line ``ConfigError`` naming the file (``what`` names the kind of file)."""
    return read_yaml(path, what)


def check_name(name: str, source: str = "config") -> None:
    """Refuse a run name that is not one plain folder name (it is joined to ``output_dir``)."""
    bad = (
        not name.strip()
        or name in (".", "..")
        or any(sep in name for sep in ("/", "\\", "\0", os.sep))
        or (os.altsep is not None and os.altsep in name)
    )
    if bad:
        raise ConfigError(
            f"{source}: name: {name!r} must be a plain folder name "
            "(no path separators, not '.' or '..')"
        )


def _options_at(path: tuple[str, ...]) -> list[str]:
    """The option names of the config section at ``path`` (``("train",)``: TrainConfig's)."""
    model: type[BaseModel] = ExperimentConfig
    for part in path:
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _format_validation(
    source: str, exc: ValidationError, overrides: dict[str, str] | None = None
) -> str:
    """One line: where the value came from (the file, or the command-line override that set
    it), the option, and what is wrong; a misspelt option gets the closest valid one."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    if err["type"] == "extra_forbidden":
        path = tuple(str(p) for p in err["loc"])
        valid = _options_at(path[:-1])
        close = difflib.get_close_matches(path[-1], valid, n=1)
        msg = "no such option" + (
            f" (did you mean {'.'.join([*path[:-1], close[0]])!r}?)" if close else ""
        )
    named = err["type"] == "value_error" and msg.startswith(("model.", "train.", "data."))
    key = msg.split(":", 1)[0] if named else loc
    for set_key, text in (overrides or {}).items():
        if key == set_key or key.startswith(set_key + ".") or set_key.startswith(key + "."):
            source = f"command-line override {text!r}"
    if named:
        return f"{source}: {msg}{more}"  # the validator's message names the option itself
    return f"{source}: {loc}: {msg}{more}"


def build_config(
    tree: dict[str, Any], overrides: list[str] | None = None, source: str = "config"
) -> ExperimentConfig:
    """Validate a config tree after applying ``key=value`` overrides.

    Two passes: the first checks everything but the model's parameter types without importing
    torch (a mistake is refused in well under a second); the second, only for a config that
    passed, checks those types against the model's constructor.
    """
    tree = _deep_copy(tree)
    given: dict[str, str] = {}
    for text in overrides or []:
        key, value = parse_override(text)
        set_dotted(tree, key, value)
        given[key] = text
    try:
        ExperimentConfig.model_validate(tree, context={"light": True})
        config = ExperimentConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc, given)) from None
    check_name(config.name, source)
    return config


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML experiment config and apply overrides."""
    path = Path(path)
    tree = read_yaml_file(path, "config")
    if tree is None:
        # An empty file would otherwise train the full default experiment without a word.
        raise ConfigError(f"{path}: the config file is empty")
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return build_config(tree, overrides, source=str(path))


def _deep_copy(tree: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
