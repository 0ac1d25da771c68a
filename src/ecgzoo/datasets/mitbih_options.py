"""The options of the ``mitbih`` dataset (``data.mitbih``): how beats of a database with
reference beat annotations are segmented and split. Import-light (pydantic only): a config is
validated against it without loading the beat pipeline."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ecgzoo.config import StrictConfig


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
    lowpass_hz: float | None = Field(
        None,
        gt=0,
        description="centered: also low-pass at this frequency (the 0.5 Hz baseline high-pass "
        "becomes a 0.5-lowpass_hz band-pass), in training and use alike",
    )
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
    rhythm_database: Literal["cinc2017"] | None = Field(
        None,
        description="inter: beats of the recordings this database labels with rhythm_labels "
        "join the training part as N (datasets.rhythm_beats; needs train_exclude_classes: [Q]); "
        "the class weights stay those of the labelled beats",
    )
    rhythm_labels: list[Literal["N", "A"]] = Field(
        default_factory=lambda: ["N"],
        min_length=1,
        description="rhythm_database: N (normal rhythm: beats with regular RR) and/or A (atrial "
        "fibrillation: beats shaped like the record's median beat)",
    )
    rhythm_beats_per_record: int = Field(
        10, ge=1, description="rhythm_database: at most this many beats of each recording"
    )
    second_lead: bool = Field(
        False,
        description="inter: each MIT-BIH training record also trains with its other lead (as "
        "record number + 10000); validation, test and the apply path keep MLII",
    )
    extra_test_fold: int | None = Field(
        None,
        ge=0,
        description="inter + extra_databases: this record-wise fold of the extra database's "
        "records is the test part instead of DS2 (patients of that database never seen); its "
        "other folds train with DS1",
    )
    extra_n_folds: int = Field(4, ge=2, description="extra_test_fold: record-wise folds")
    extra_fold_seed: int = Field(1, description="extra_test_fold: seed of the records' order")
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
        Literal["rr_context", "rr_ratios", "rr_log_ratios", "rr_log_irregularity", "rr_log_slow"]
        | None
    ) = Field(
        None, description="side input by name (overrides rr_context / rr_context_irregularity)"
    )
    median_beat_channel: bool = Field(
        False, description="second input channel: the beat minus its record's median beat"
    )
    median_of: Literal["all", "not_early", "slow"] = Field(
        "all",
        description="median_beat_channel: the median over all the record's beats, over those "
        "not early (pre-RR >= the mean of the surrounding +-5 intervals), or over the slower "
        "half (the longest mean of the +-5 intervals): the sinus beat",
    )
    beat_scale: Literal["none", "record"] = Field(
        "none",
        description="median_beat_channel: record divides each beat by its record's amplitude "
        "scale (the median peak-to-peak of its beats), in training and use alike",
    )
    align_fiducial: Literal["none", "qrs_extremum"] = Field(
        "none",
        description="move each R peak to the fiducial examples.fiducial defines before cutting "
        "(reference peaks in training, detected ones in annotate)",
    )

    def without_training_only(self) -> BeatOptions:
        """These options without the sources that only ever join the training part, for
        scoring a validation or test split without preparing them: ``rhythm_database``,
        ``second_lead``, and ``extra_databases`` unless ``extra_test_fold`` makes a fold of it
        the test part."""
        update: dict = {"rhythm_database": None, "second_lead": False}
        if self.extra_test_fold is None:
            update["extra_databases"] = []
        return self.model_copy(update=update)

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
        if self.lowpass_hz is not None and (
            self.segmentation != "centered" or not 0.5 < self.lowpass_hz < self.fs / 2
        ):
            raise ValueError(
                f"lowpass_hz: needs segmentation: centered and a frequency between the 0.5 Hz "
                f"baseline high-pass and half of fs ({self.fs / 2:g} Hz); got {self.lowpass_hz:g}"
            )
        if self.val_fold >= self.n_val_folds:
            last = self.n_val_folds - 1
            raise ValueError(f"val_fold: must be in 0..{last} (got {self.val_fold})")
        if self.extra_test_fold is not None:
            if self.split != "inter" or not self.extra_databases:
                raise ValueError("extra_test_fold: needs split: inter and extra_databases")
            if self.extra_test_fold >= self.extra_n_folds:
                last = self.extra_n_folds - 1
                raise ValueError(
                    f"extra_test_fold: must be in 0..{last} (got {self.extra_test_fold})"
                )
        if self.rhythm_database is not None and (
            self.split != "inter" or "Q" not in self.train_exclude_classes
        ):
            raise ValueError(
                "rhythm_database: needs split: inter and train_exclude_classes: [Q] (its peaks "
                "that are not chosen are labelled Q, context only)"
            )
        if self.second_lead and self.split != "inter":
            raise ValueError("second_lead: needs split: inter")
        centred_only = self.median_beat_channel or self.align_fiducial != "none"
        if self.beat_scale != "none" and not self.median_beat_channel:
            raise ValueError("beat_scale: needs median_beat_channel: true")
        if self.median_of != "all" and not self.median_beat_channel:
            raise ValueError("median_of: needs median_beat_channel: true")
        if self.segmentation == "kachuee" and centred_only:
            raise ValueError("median_beat_channel, align_fiducial: need segmentation: centered")
        return self


class MitbihOptions(BeatOptions):
    """How MIT-BIH beats are segmented and split."""
