"""MIT-BIH Supraventricular Arrhythmia Database (``svdb`` 1.0.0): 128 Hz, 2 leads, ``.atr``."""

from __future__ import annotations

from pathlib import Path

from ecgzoo.readers.wfdb_folder import AnnotatedDatabase

FS = 128.0
FOLDER = "mit-bih-supraventricular-arrhythmia-database-1.0.0"


class SvdbReader(AnnotatedDatabase):
    """SVDB records (``ECG1``/``ECG2``, no MLII label); reference beat annotations required."""

    catalog = "svdb"
    folder_name = FOLDER
    fs = FS


def default_folder() -> Path:
    """The fetched (or mirrored) SVDB folder."""
    return SvdbReader.default_folder()
