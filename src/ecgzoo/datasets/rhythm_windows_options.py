"""The options of the ``rhythm_windows`` dataset (``data.rhythm_windows``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ecgzoo.config import StrictConfig


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
