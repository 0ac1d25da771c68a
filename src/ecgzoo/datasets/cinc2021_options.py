"""The options of the ``cinc2021`` dataset (``data.cinc2021``), with their cross-field rules."""

from __future__ import annotations

from pydantic import Field, model_validator

from ecgzoo.config import StrictConfig, crop_fits
from ecgzoo.examples.classes import TWELVE_LEADS


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
        crop_fits(self.random_crop_s, self.length_s)
        if not self.leads:
            raise ValueError("leads: name at least one lead")
        return self
