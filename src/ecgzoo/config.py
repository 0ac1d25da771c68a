"""The experiment config's schema: the generic sections, and how a config file is read.

A leaf (it imports only ``ecgzoo.errors`` and ``ecgzoo.safe_load``): ``train``, ``model`` (a
name and its parameters, as data) and ``data`` (the dataset's name and seed; each dataset's
options section is added by the dataset registry, ``ecgzoo.datasets.data_section``). The
checks that need a registry (the dataset's options, the model's parameters, the monitored
metric) are made by :func:`ecgzoo.experiment.build_config` / :func:`ecgzoo.experiment.load_config`,
the one way a config is loaded; this module gives them the parsing, the overrides and the
one-line error messages.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ecgzoo.errors import ConfigError
from ecgzoo.safe_load import load_yaml, read_yaml, yaml_problem  # noqa: F401 - re-exported

__all__ = [
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "StrictConfig",
    "TrainConfig",
    "apply_overrides",
    "dump_config",
    "format_validation",
    "read_config_tree",
]


class StrictConfig(BaseModel):
    """A config section that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid")


def crop_fits(crop_s: float | None, length_s: float) -> None:
    """An option rule many datasets share: a random crop longer than the (padded) recording
    cannot be drawn."""
    if crop_s is not None and crop_s > length_s:
        raise ValueError(
            f"random_crop_s: {crop_s} s is longer than the recording length length_s ({length_s} s)"
        )


class ModelConfig(StrictConfig):
    """The model's name and constructor parameters, as written (checked against the model
    registry when the config is loaded)."""

    name: str = "resnet1d"
    params: dict[str, Any] = Field(default_factory=dict)


class DataConfig(StrictConfig):
    """The dataset a run uses and its seed. The options sections (``data.mitbih``,
    ``data.cinc2017`` ...) are fields of the subclass the dataset registry builds
    (``ecgzoo.datasets.data_section.data_schema``); :attr:`options` is the chosen dataset's."""

    dataset: str = Field("mitbih", description="a registered dataset (ecgzoo.datasets.registry)")
    seed: int = Field(0, ge=0, le=2**32 - 1)  # numpy and sklearn seeds are unsigned 32-bit
    #: dataset name -> its options section (``None``: fields at the top of the data section)
    sections: ClassVar[dict[str, str | None]] = {}

    @property
    def options(self) -> Any:
        """The options of the chosen dataset: its section, or the data section itself."""
        section = self.sections.get(self.dataset, self.dataset)
        return self if section is None else getattr(self, section)

    def option_key(self, name: str) -> str:
        """The dotted config key of the chosen dataset's option ``name`` (for messages)."""
        section = self.sections.get(self.dataset, self.dataset)
        return ".".join(["data", *([section] if section else []), name])

    def with_options(self, options: Any) -> DataConfig:
        """A copy whose chosen dataset has ``options`` (the data section itself when the
        dataset's options sit at its top)."""
        section = self.sections.get(self.dataset, self.dataset)
        if section is None:
            return options
        return self.model_copy(update={section: options})


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
    label_smoothing: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="ce / weighted_ce: torch's label smoothing (this share of each target "
        "spread over all classes); 0 off",
    )
    class_weight_power: float = Field(
        1.0, ge=0, le=1, description="weights (n / (k * count)) ** power; 0.5 softens rare classes"
    )
    class_weight_power_of: dict[str, float] = Field(
        default_factory=dict, description="weighted_ce / focal: {CLASS: power} over the rest"
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
    lr_schedule: Literal["plateau", "cosine"] = Field(
        "plateau",
        description="plateau: multiply the rate by lr_factor when train.monitor has not "
        "improved for lr_patience epochs; cosine: fall from train.lr to 0 over train.epochs "
        "(half a cosine, stepped once per epoch)",
    )
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
    augment_noise: Literal["bank", "draw"] = Field(
        "bank",
        description="augmentation noise on the CPU: windows of a fixed bank of Gaussian draws "
        "at random offsets (10x cheaper) or one draw per sample (the exact old stream)",
    )
    time_warp: float = Field(
        0.0, ge=0, le=1, description="time warping strength (random smooth speed changes); 0 off"
    )
    window_warp: float = Field(
        0.0, ge=0, lt=1, description="window warping: share of the length stretched x2 or x0.5"
    )
    mixup_alpha: float = Field(
        0.0, ge=0, description="mixup: Beta(alpha, alpha) mixing of examples and labels; 0 off"
    )
    swa_epoch_start: float | None = Field(
        None,
        gt=0,
        description="stochastic weight averaging (Lightning's callback): average the weights "
        "from the start of this epoch on (a fraction < 1 of train.epochs, or a 1-based "
        "epoch); the run keeps the average, BatchNorm statistics recomputed in one extra "
        "pass; None: off",
    )
    swa_lr: float | None = Field(
        None, gt=0, description="learning rate while averaging (default: train.lr)"
    )
    balanced_sampling: bool = False
    record_balance_power: float = Field(
        0.0,
        ge=0,
        le=1,
        description="draw training examples with replacement, each of class c in record r "
        "with weight count(c, r) ** -power (every class keeps its total): a record's share "
        "of a class goes from its count to count ** (1 - power); 0 off",
    )
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
    data_threads: int | None = Field(
        None,
        ge=0,
        description="threads that build training batches ahead in the main process (without "
        "data_workers); default: the free cores the model leaves (on a CPU those the torch "
        "threads leave, on a GPU all but one), at most 2",
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

    @model_validator(mode="after")
    def _loss_options_fit(self) -> TrainConfig:
        if self.label_smoothing > 0 and self.loss not in ("ce", "weighted_ce"):
            raise ValueError(f"label_smoothing works with loss ce or weighted_ce, not {self.loss}")
        if self.class_weight_power_of and self.loss not in ("weighted_ce", "focal"):
            raise ValueError(f"class_weight_power_of needs weighted_ce or focal, not {self.loss}")
        for name, power in self.class_weight_power_of.items():
            if not 0 <= power <= 1:
                raise ValueError(f"class_weight_power_of: {name}: {power:g} is not in [0, 1]")
        return self

    @model_validator(mode="after")
    def _swa_start_in_schedule(self) -> TrainConfig:
        start = self.swa_epoch_start
        if start is not None and start >= 1 and (start != int(start) or start > self.epochs):
            raise ValueError(
                f"swa_epoch_start: {start:g} must be a fraction below 1 or a whole 1-based "
                f"epoch up to train.epochs ({self.epochs})"
            )
        return self


class ExperimentConfig(StrictConfig):
    """A whole experiment. Loaded configs are instances of the checked subclass
    :func:`ecgzoo.experiment.config_schema` builds (every dataset's options section, the
    model and monitor checks)."""

    name: str = "experiment"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = TrainConfig()
    output_dir: str = "runs"


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


def _options_at(schema: type[BaseModel], path: tuple[str, ...]) -> list[str]:
    """The option names of the section of ``schema`` at ``path`` (``("train",)``: TrainConfig's)."""
    model = schema
    for part in path:
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def format_validation(
    schema: type[BaseModel],
    source: str,
    exc: ValidationError,
    overrides: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> str:
    """One line: where the value came from (the file, or the command-line override that set
    it), the option, and what is wrong; a misspelt option gets the closest valid one of
    ``schema`` (the class validated, found at ``prefix`` in the whole config)."""
    err = exc.errors()[0]
    path = (*prefix, *(str(p) for p in err["loc"]))
    loc = ".".join(path)
    msg = str(err["msg"]).removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    if err["type"] == "extra_forbidden":
        valid = _options_at(schema, path[len(prefix) : -1])
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


def apply_overrides(
    tree: dict[str, Any], overrides: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A copy of ``tree`` with ``key=value`` overrides set, and which key each override set
    (so that an error can be blamed on the command line rather than the file)."""
    tree = _deep_copy(tree)
    given: dict[str, str] = {}
    for text in overrides or []:
        key, value = parse_override(text)
        set_dotted(tree, key, value)
        given[key] = text
    return tree, given


def read_config_tree(path: str | Path) -> dict[str, Any]:
    """The parsed mapping of an experiment config file (one-line ``ConfigError`` otherwise)."""
    tree = read_yaml_file(path, "config")
    if tree is None:
        # An empty file would otherwise train the full default experiment without a word.
        raise ConfigError(f"{path}: the config file is empty")
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return tree


def _deep_copy(tree: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
