"""The options of the ``ptbxl`` dataset (``data.ptbxl``), with their cross-field rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ecgzoo.config import StrictConfig
from ecgzoo.examples.classes import TWELVE_LEADS


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
