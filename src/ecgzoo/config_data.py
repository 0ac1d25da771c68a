"""The data section of an experiment config: one options class per dataset, validated when
the config is loaded (cross-field rules such as a crop longer than the recording included)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ecgzoo.datasets import registry

TWELVE_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _crop_fits(crop_s: float | None, length_s: float) -> None:
    """A random crop longer than the (padded) recording cannot be drawn."""
    if crop_s is not None and crop_s > length_s:
        raise ValueError(
            f"random_crop_s: {crop_s} s is longer than the recording length length_s ({length_s} s)"
        )


class StrictConfig(BaseModel):
    """A config section that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid")


class BeatOptions(StrictConfig):
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
    # Beat context (issue 12; used by tree models, see ecgzoo.examples.beat_context)
    context_groups: list[str] = Field(
        default_factory=lambda: ["rr_normalised", "irregularity", "morphology", "median_beat"],
        description="feature groups of tree models (beat_context.FEATURE_GROUPS)",
    )
    amplitude_normalise: bool = Field(True, description="divide each record by its beat scale")
    rr_context: bool = Field(
        False, description="side input: label-free normalised RR ratios + irregularity"
    )
    rr_context_irregularity: bool = Field(
        True, description="rr_context: include the two irregularities (false: RR ratios only)"
    )
    extra_databases: list[Literal["svdb"]] = Field(
        default_factory=list, description="inter: more training records (never tested on)"
    )
    test_database: Literal["mitdb", "svdb"] = Field(
        "mitdb", description="inter: DS2 (mitdb), or every SVDB record after training on MIT-BIH"
    )
    # The inter-patient recipe (issue 19; docs/guide.md "Beats on unseen patients")
    train_exclude_classes: list[Literal["N", "S", "V", "F", "Q"]] = Field(
        default_factory=list,
        description="classes left out of the training part (still scored in val/test): Q",
    )
    inter_validation: Literal["holdout", "fold", "none"] = Field(
        "holdout",
        description="inter: holdout (3 DS1 records), fold (record-wise fold val_fold of "
        "n_val_folds over DS1), none (train on all DS1; val is DS1 itself, in-sample)",
    )
    val_fold: int = Field(0, ge=0, description="inter_validation=fold: the DS1 fold validated on")
    n_val_folds: int = Field(4, ge=2, description="inter_validation=fold: record-wise DS1 folds")
    rr_context_set: (
        Literal["rr_context", "rr_ratios", "rr_log_ratios", "rr_log_irregularity"] | None
    ) = Field(
        None, description="side input by name (overrides rr_context / rr_context_irregularity)"
    )
    median_beat_channel: bool = Field(
        False, description="second input channel: the beat minus its record's median beat"
    )
    align_fiducial: Literal["none", "qrs_extremum"] = Field(
        "none",
        description="move each R peak to the fiducial examples.fiducial defines before cutting "
        "(reference peaks in training, detected ones in annotate)",
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
        if self.val_fold >= self.n_val_folds:
            last = self.n_val_folds - 1
            raise ValueError(f"val_fold: must be in 0..{last} (got {self.val_fold})")
        centred_only = self.median_beat_channel or self.align_fiducial != "none"
        if self.segmentation == "kachuee" and centred_only:
            raise ValueError("median_beat_channel, align_fiducial: need segmentation: centered")
        return self


class MitbihOptions(BeatOptions):
    """How MIT-BIH beats are segmented and split."""


class SvdbOptions(BeatOptions):
    """How SVDB beats are segmented and split (``inter`` is MIT-BIH's; use ``group``)."""

    fs: float = Field(128.0, gt=0, description="centered: resample to this rate (Hz)")


class Cinc2017Options(StrictConfig):
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
    val_fold: int | None = Field(
        None,
        description="validate on this fold of an n_val_folds-fold split of the training part "
        "(instead of val_fraction): members of a k-fold ensemble share the test split",
    )
    n_val_folds: int = Field(4, ge=2)
    max_records: int | None = Field(None, description="stratified subset (tests)")
    normalise: bool = Field(False, description="z-score each recording (real part, not padding)")
    fill: Literal["zero", "tile", "reflect"] = Field(
        "zero",
        description="what extends a recording shorter than length_s: zero padding, or the "
        "recording repeated (tile) or mirrored (reflect), so that the model never sees padding",
    )
    nperseg: int = Field(256, ge=8, description="spectrogram: STFT window (samples)")
    noverlap: int = Field(224, ge=0, description="spectrogram: window overlap (samples)")
    fmax: float | None = Field(60.0, gt=0, description="spectrogram: keep rows up to this Hz")
    n_scales: int = Field(32, ge=2, description="scalogram: wavelet scales, 0.5-40 Hz")
    scalogram_step: int | None = Field(None, ge=1, description="scalogram: samples per column")

    @model_validator(mode="after")
    def _cross_fields(self) -> Cinc2017Options:
        _crop_fits(self.random_crop_s, self.length_s)
        for name, fold, k in (
            ("fold", self.fold, self.n_folds),
            ("val_fold", self.val_fold, self.n_val_folds),
        ):
            if fold is not None and not 0 <= fold < k:
                raise ValueError(f"{name}: must be in 0..{k - 1} (got {fold})")
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


class Cinc2021Options(StrictConfig):
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


class RhythmWindowsOptions(StrictConfig):
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


class PtbxlOptions(StrictConfig):
    """How PTB-XL ECGs become multi-label examples (``data.ptbxl`` in a config)."""

    task: Literal["all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm"] = (
        "superdiagnostic"
    )
    fs: Literal[100, 500] = Field(100, description="records100 (100 Hz) or records500 (500 Hz)")
    leads: list[str] = Field(
        default_factory=lambda: list(TWELVE_LEADS), description="leads to keep, by name"
    )
    length_s: float = Field(10.0, gt=0, description="crop or pad every ECG to this length")
    normalise: bool = Field(False, description="z-score each lead of each ECG")
    min_likelihood: float = Field(
        0.0, ge=0, le=100, description="drop diagnostic statements below this likelihood (%)"
    )
    min_samples: int = Field(0, ge=0, description="keep labels in more than this many ECGs")
    val_fold: int = Field(9, ge=1, le=10, description="strat_fold used for validation")
    test_fold: int = Field(10, ge=1, le=10, description="strat_fold used for testing")
    random_crop_s: float | None = Field(None, gt=0, description="train on random crops (2.5)")
    max_records: int | None = Field(None, ge=1, description="first N ECGs by ecg_id (tests)")
    root: str | None = Field(None, description="a PTB-XL folder (default: the fetched release)")

    @model_validator(mode="after")
    def _cross_fields(self) -> PtbxlOptions:
        if self.val_fold == self.test_fold:
            raise ValueError(f"val_fold and test_fold: both are fold {self.val_fold}")
        if self.random_crop_s is not None and self.random_crop_s > self.length_s:
            raise ValueError(
                f"random_crop_s: {self.random_crop_s} s is longer than length_s ({self.length_s} s)"
            )
        if not self.leads:
            raise ValueError("leads: name at least one lead")
        return self


class DataConfig(StrictConfig):
    # a registered dataset (ecgzoo.datasets.registry): the built-ins, or one a module registers
    dataset: str = Field("mitbih", description="a registered dataset (ecgzoo.datasets.registry)")
    seed: int = Field(0, ge=0, le=2**32 - 1)  # numpy and sklearn seeds are unsigned 32-bit
    mitbih: MitbihOptions = MitbihOptions()
    svdb: SvdbOptions = SvdbOptions()
    cinc2017: Cinc2017Options = Cinc2017Options()
    cinc2021: Cinc2021Options = Cinc2021Options()
    rhythm_windows: RhythmWindowsOptions = RhythmWindowsOptions()
    ptbxl: PtbxlOptions = PtbxlOptions()
    kaggle_train: str | None = Field(None, description="kaggle_csv: path to mitbih_train.csv")
    kaggle_test: str | None = Field(None, description="kaggle_csv: path to mitbih_test.csv")

    @field_validator("dataset")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in registry.names():
            raise ValueError(f"unknown dataset {value!r} (known: {', '.join(registry.names())})")
        return value
