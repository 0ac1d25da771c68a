"""Validated experiment configuration, loaded from YAML and overridable with ``key=value``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecgzoo.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MitbihOptions(_Strict):
    """How MIT-BIH beats are segmented and split."""

    segmentation: Literal["kachuee", "centered"] = "kachuee"
    split: Literal["intra", "inter", "group"] = "intra"
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


class DataConfig(_Strict):
    dataset: Literal["mitbih", "cinc2017", "kaggle_csv"] = "mitbih"
    seed: int = 0
    mitbih: MitbihOptions = MitbihOptions()
    cinc2017: Cinc2017Options = Cinc2017Options()
    kaggle_train: str | None = Field(None, description="kaggle_csv: path to mitbih_train.csv")
    kaggle_test: str | None = Field(None, description="kaggle_csv: path to mitbih_test.csv")


class ModelConfig(_Strict):
    name: str = "resnet1d"
    params: dict[str, Any] = Field(default_factory=dict)


class TrainConfig(_Strict):
    epochs: int = Field(20, ge=0)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    loss: Literal["ce", "weighted_ce", "focal"] = "ce"
    focal_gamma: float = Field(2.0, ge=0)
    class_weight_power: float = Field(
        1.0, ge=0, le=1, description="weights (n / (k * count)) ** power; 0.5 softens rare classes"
    )
    monitor: str = Field("val_macro_recall", description="metric the best checkpoint is kept on")
    monitor_mode: Literal["max", "min"] = "max"
    early_stopping_patience: int = Field(10, ge=1)
    lr_patience: int = Field(5, ge=0)
    lr_factor: float = Field(0.5, gt=0, lt=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
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


class ExperimentConfig(_Strict):
    name: str = "experiment"
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
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
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from None
    return key, value


def _format_validation(source: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{source}: {loc}: {err['msg']}{more}"


def build_config(
    tree: dict[str, Any], overrides: list[str] | None = None, source: str = "config"
) -> ExperimentConfig:
    """Validate a config tree after applying ``key=value`` overrides."""
    tree = _deep_copy(tree)
    for text in overrides or []:
        key, value = parse_override(text)
        set_dotted(tree, key, value)
    try:
        return ExperimentConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML experiment config and apply overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return build_config(tree, overrides, source=str(path))


def _deep_copy(tree: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
