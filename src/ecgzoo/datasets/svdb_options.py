"""The options of the ``svdb`` dataset (``data.svdb``): MIT-BIH's beat options at 128 Hz."""

from __future__ import annotations

from pydantic import Field

from ecgzoo.datasets.mitbih_options import BeatOptions


class SvdbOptions(BeatOptions):
    """How SVDB beats are segmented and split (``inter`` is MIT-BIH's; use ``group``)."""

    fs: float = Field(128.0, gt=0, description="centered: resample to this rate (Hz)")
