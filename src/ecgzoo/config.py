"""Validated experiment configuration, loaded from YAML and overridable with ``key=value``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ecgzoo.errors import ConfigError

TWELVE_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _crop_fits(crop_s: float | None, length_s: float) -> None:
    """A random crop longer than the (padded) recording cannot be drawn."""
    if crop_s is not None and crop_s > length_s:
        raise ValueError(
            f"random_crop_s: {crop_s} s is longer than the recording length length_s ({length_s} s)"
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BeatOptions(_Strict):
    """How beats of a database with reference beat annotations are segmented and split."""

    segmentation: Literal["kachuee", "centered"] = "kachuee"
    split: Literal["intra", "inter", "group"] = Field(
        "intra", description="intra: by beat; inter: de Chazal DS1/DS2 (MIT-BIH); group: by record"
    )
    pad_to: int | None = Field(None, description="zero-pad kachuee beats to this length (192)")
    before_s: float = Field(0.25, gt=0, description="centered: seconds before the R peak")
    after_s: float = Field(0.45, gt=0, description="centered: seconds after the R peak")
    fs: float = Field(360.0, gt=0, description="centered: resample to this rate (Hz)")
    rr_features: bool = Field(False, description="attach per-beat RR features as side input")
    test_fraction: float = Field(0.2, gt=0, lt=1)
    val_fraction: float = Field(0.1, gt=0, lt=1, description="of the training part")
    records: list[str] | None = Field(None, description="restrict to these records (tests)")
    max_beats_per_class: int | None = Field(None, description="cap training beats per class")
    # Beat context (issue 12; used by tree models, see ecgzoo.data.examples.beat_context)
    context_groups: list[str] = Field(
        default_factory=lambda: ["rr_normalised", "irregularity", "morphology", "median_beat"],
        description="feature groups of tree models (beat_context.FEATURE_GROUPS)",
    )
    amplitude_normalise: bool = Field(True, description="divide each record by its beat scale")
    rr_context: bool = Field(
        False, description="side input: label-free normalised RR ratios + irregularity"
    )
    extra_databases: list[Literal["svdb"]] = Field(
        default_factory=list, description="inter: more training records (never tested on)"
    )
    test_database: Literal["mitdb", "svdb"] = Field(
        "mitdb", description="inter: DS2 (mitdb), or every SVDB record after training on MIT-BIH"
    )

    @model_validator(mode="after")
    def _window_holds_a_beat(self) -> BeatOptions:
        # kachuee beats span up to 187 samples at 125 Hz: a shorter pad_to would cut beats
        if self.segmentation == "kachuee" and self.pad_to is not None and self.pad_to < 187:
            raise ValueError(
                f"pad_to: must be at least 187, the longest kachuee beat (got {self.pad_to})"
            )
        # a centred window shorter than a QRS complex (~0.12 s) holds no beat
        if self.segmentation == "centered" and self.before_s + self.after_s < 0.12:
            raise ValueError(
                f"before_s + after_s: {self.before_s + self.after_s:g} s is shorter than a beat "
                "(a QRS complex alone lasts about 0.12 s)"
            )
        if self.segmentation == "centered" and round((self.before_s + self.after_s) * self.fs) < 8:
            raise ValueError("before_s + after_s: fewer than 8 samples at fs per beat")
        return self


class MitbihOptions(BeatOptions):
    """How MIT-BIH beats are segmented and split."""


class SvdbOptions(BeatOptions):
    """How SVDB beats are segmented and split (``inter`` is MIT-BIH's; use ``group``)."""

    fs: float = Field(128.0, gt=0, description="centered: resample to this rate (Hz)")


class Cinc2017Options(_Strict):
    """How challenge-2017 recordings are labelled, shaped and split."""

    labels: Literal["v3", "original"] = "v3"
    length_s: float = Field(60.0, gt=0, description="pad or trim every recording to this length")
    fs: float = Field(300.0, gt=0, description="resample to this rate (Hz)")
    transform: Literal["raw", "spectrogram", "scalogram"] = "raw"
    random_crop_s: float | None = Field(None, description="train on random crops of this length")
    test_fraction: float = Field(0.2, gt=0, lt=1)
    val_fraction: float = Field(0.25, gt=0, lt=1, description="of the training part")
    fold: int | None = Field(None, description="use stratified k-fold: this fold as test")
    n_folds: int = Field(5, ge=2)
    max_records: int | None = Field(None, description="stratified subset (tests)")
    normalise: bool = Field(False, description="z-score each recording (real part, not padding)")
    nperseg: int = Field(256, ge=8, description="spectrogram: STFT window (samples)")
    noverlap: int = Field(224, ge=0, description="spectrogram: window overlap (samples)")
    fmax: float | None = Field(60.0, gt=0, description="spectrogram: keep rows up to this Hz")
    n_scales: int = Field(32, ge=2, description="scalogram: wavelet scales, 0.5-40 Hz")
    scalogram_step: int | None = Field(None, ge=1, description="scalogram: samples per column")

    @model_validator(mode="after")
    def _cross_fields(self) -> Cinc2017Options:
        _crop_fits(self.random_crop_s, self.length_s)
        if self.transform == "spectrogram":
            if self.noverlap >= self.nperseg:
                raise ValueError(
                    f"noverlap: must be smaller than nperseg ({self.nperseg}), got {self.noverlap}"
                )
            if round(self.length_s * self.fs) < self.nperseg:
                raise ValueError(
                    f"length_s: {round(self.length_s * self.fs)} samples are fewer than the "
                    f"spectrogram window nperseg={self.nperseg}"
                )
        return self


class Cinc2021Options(_Strict):
    """How 2021 12-lead recordings become multi-label examples."""

    leads: list[str] = Field(
        default_factory=lambda: list(TWELVE_LEADS), description="leads to keep, by name"
    )
    fs: float = Field(500.0, gt=0, description="resample every recording to this rate (Hz)")
    length_s: float = Field(10.0, gt=0, description="crop or pad every recording to this length")
    normalise: bool = Field(False, description="z-score each lead (real part, not padding)")
    sources: list[str] | None = Field(None, description="training sources (default: all)")
    max_records: int | None = Field(None, ge=1, description="first N records (tests)")
    test_fraction: float = Field(0.2, gt=0, lt=1)
    val_fraction: float = Field(0.25, gt=0, lt=1, description="of the training part")
    random_crop_s: float | None = Field(None, gt=0, description="train on random crops")
    n_folds: int | None = Field(
        None, ge=2, description="k-fold: the test part is fold `fold` of n_folds (stratified)"
    )
    fold: int = Field(0, ge=0, description="k-fold: which fold is the test part (0-based)")

    @model_validator(mode="after")
    def _crop_fits(self) -> Cinc2021Options:
        if self.n_folds is not None and self.fold >= self.n_folds:
            raise ValueError(f"fold: must be in 0..{self.n_folds - 1} (got {self.fold})")
        _crop_fits(self.random_crop_s, self.length_s)
        if not self.leads:
            raise ValueError("leads: name at least one lead")
        return self


class RhythmWindowsOptions(_Strict):
    """Multi-label 10 s windows of MIT-BIH + SVDB: rhythms in force and ectopic beats."""

    databases: list[Literal["mitdb", "svdb"]] = Field(
        default_factory=lambda: ["mitdb", "svdb"], description="databases the windows come from"
    )
    window_s: float = Field(10.0, gt=0, description="window length (s)")
    hop_s: float | None = Field(None, gt=0, description="window step (default: window_s)")
    fs: float = Field(128.0, gt=0, description="resample both databases to this rate (Hz)")
    labels: list[str] = Field(
        default_factory=lambda: [
            "N",
            "AFIB",
            "AFL",
            "SVTA",
            "VT",
            "B",
            "T",
            "other",
            "S_beat",
            "V_beat",
        ],  # fmt: skip
        description="rhythm codes (aux notes without '('), 'other' (any other rhythm), "
        "'S_beat' / 'V_beat' (the window holds an AAMI S / V beat)",
    )
    exclude_paced: bool = Field(True, description="leave out MIT-BIH 102, 104, 107, 217 (AAMI)")
    normalise: bool = Field(True, description="z-score each lead of each window")
    records: list[str] | None = Field(None, description="restrict to these db/record ids (tests)")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="whole records held out")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="of the training records")

    @model_validator(mode="after")
    def _labels_known(self) -> RhythmWindowsOptions:
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ValueError("labels: name at least one label, each once")
        if not self.databases:
            raise ValueError("databases: name at least one of mitdb, svdb")
        return self


class DataConfig(_Strict):
    dataset: Literal["mitbih", "svdb", "cinc2017", "cinc2021", "rhythm_windows", "kaggle_csv"] = (
        "mitbih"
    )
    seed: int = 0
    mitbih: MitbihOptions = MitbihOptions()
    svdb: SvdbOptions = SvdbOptions()
    cinc2017: Cinc2017Options = Cinc2017Options()
    cinc2021: Cinc2021Options = Cinc2021Options()
    rhythm_windows: RhythmWindowsOptions = RhythmWindowsOptions()
    kaggle_train: str | None = Field(None, description="kaggle_csv: path to mitbih_train.csv")
    kaggle_test: str | None = Field(None, description="kaggle_csv: path to mitbih_test.csv")


class ModelConfig(_Strict):
    name: str = "resnet1d"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_model_and_params(self) -> ModelConfig:
        """The model exists and ``params`` fit its constructor (names and types)."""
        from ecgzoo.models.registry import model_params_problem

        try:
            problem = model_params_problem(self.name, self.params)
        except ConfigError as exc:  # unknown model name
            raise ValueError(str(exc)) from None
        if problem:
            raise ValueError(problem)
        return self


class TrainConfig(_Strict):
    epochs: int = Field(20, ge=0)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
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
    monitor: str = Field("val_macro_recall", description="metric the best checkpoint is kept on")
    monitor_mode: Literal["max", "min"] = "max"
    early_stopping_patience: int = Field(10, ge=1)
    lr_patience: int = Field(5, ge=0)
    lr_factor: float = Field(0.5, gt=0, lt=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="older spelling of train.accelerator, kept for existing run folders"
    )
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap steps (tests, smoke runs)")
    max_minutes: float | None = Field(
        None, gt=0, description="time budget: stop after the epoch in which it runs out"
    )
    augment: bool = Field(False, description="random amplitude scaling, baseline shift and noise")
    balanced_sampling: bool = False
    init_from: str | None = Field(
        None,
        description="start from the weights of this run folder or pretrained:NAME "
        "(tensors whose name and shape match; the rest, e.g. the classifier, start fresh)",
    )
    num_threads: int | None = None
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


class ExperimentConfig(_Strict):
    name: str = "experiment"
    data: DataConfig = DataConfig()
    model: ModelConfig = Field(default_factory=ModelConfig)  # built (and checked) when used
    train: TrainConfig = TrainConfig()
    output_dir: str = "runs"

    @model_validator(mode="after")
    def _monitor_is_logged(self) -> ExperimentConfig:
        """``train.monitor`` names a metric this task logs, in the right direction; the loss
        fits the task (sigmoid losses for multi-label datasets)."""
        from ecgzoo.metrics.names import DATASET_CLASSES, check_monitor, loss_problem

        classes = DATASET_CLASSES.get(str(self.data.dataset))
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
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        problem = yaml_problem(exc)
        raise ConfigError(f"override {text!r}: value is not valid YAML ({problem})") from None
    return key, value


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line for a YAML error, keeping where it is (``line N, column M: problem``)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def read_yaml_file(path: str | Path, what: str = "config") -> Any:
    """The parsed YAML of ``path``; a missing file, non-UTF-8 bytes or bad YAML raise a
    one-line ``ConfigError`` naming the file (``what`` names the kind of file)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({yaml_problem(exc)})") from None


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


def _format_validation(source: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    if err["type"] == "value_error" and msg.startswith(("model.", "train.")):
        return f"{source}: {msg}{more}"  # the validator's message names the option itself
    return f"{source}: {loc}: {msg}{more}"


def build_config(
    tree: dict[str, Any], overrides: list[str] | None = None, source: str = "config"
) -> ExperimentConfig:
    """Validate a config tree after applying ``key=value`` overrides."""
    tree = _deep_copy(tree)
    for text in overrides or []:
        key, value = parse_override(text)
        set_dotted(tree, key, value)
    try:
        config = ExperimentConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc)) from None
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
