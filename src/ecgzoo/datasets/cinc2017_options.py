"""The options of the ``cinc2017`` dataset (``data.cinc2017``), with their cross-field rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ecgzoo.config import StrictConfig, crop_fits


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
        crop_fits(self.random_crop_s, self.length_s)
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
