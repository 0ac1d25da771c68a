"""MIT-BIH Supraventricular Arrhythmia Database as a beat dataset (AAMI classes).

The same pipeline as MIT-BIH (``beatset``): ``readers.svdb`` (128 Hz, leads ``ECG1``/``ECG2``;
no lead is called MLII, so the first is used), ``examples.beats`` segmentations at the task's
rate (``kachuee`` resamples to 125 Hz; ``centered`` to ``fs``, 128 Hz by default). Over the 52
records of the mirror the annotations hold N 107,313, S 8,847, V 7,496, F 22, Q 42 beats.
Splits: ``intra`` (by beat) or ``group`` (whole records); ``inter`` is MIT-BIH's DS1/DS2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets import beatset
from ecgzoo.datasets.arrays import PreparedData
from ecgzoo.datasets.svdb_options import SvdbOptions
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.readers.svdb import SvdbReader
from ecgzoo.readers.svdb import default_folder as default_db_dir

PREP_VERSION = 1
SECTION = "svdb"

__all__ = ["count_beats", "default_db_dir", "load_svdb", "prepare_beats"]


def count_beats(db_dir: Path, records: list[str] | None = None) -> dict[str, dict[str, int]]:
    """AAMI beat counts per record (annotations only) plus an ``"all"`` row."""
    reader = SvdbReader(db_dir)
    return beatset.count_beats(reader, records if records is not None else reader.list_records())


def prepare_beats(
    db_dir: Path, options: SvdbOptions, cache_dir: Path | None = None, workers: int | None = None
) -> dict[str, np.ndarray]:
    """Beats of the records named by ``options`` (arrays as ``mitbih.prepare_beats``), cached."""
    return beatset.prepare_database(
        "svdb", "svdb-1.0.0", PREP_VERSION, SvdbReader(db_dir), options, SECTION, cache_dir,
        workers,
    )  # fmt: skip


def load_svdb(
    options: SvdbOptions,
    seed: int = 0,
    db_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> PreparedData:
    """Train/val/test SVDB beats as ``(n, 1, n_samples)`` float32 (``intra`` or ``group``)."""
    if options.split == "inter":
        raise ConfigError(
            "data.svdb.split: 'inter' is the MIT-BIH DS1/DS2 protocol; use intra or group"
        )
    db_dir = default_db_dir() if db_dir is None else Path(db_dir)
    arrays = prepare_beats(db_dir, options, cache_dir=cache_dir)
    y, record = np.asarray(arrays["y"]), np.asarray(arrays["record"])
    if len(y) == 0:
        raise DataError(f"{db_dir}: no beats in records {options.records}")
    meta: dict[str, Any] = {"split": options.split}
    parts = beatset.split_beats(y, record, options, seed, meta)
    return beatset.assemble(arrays, options, parts, meta, "svdb", seed, SECTION)
