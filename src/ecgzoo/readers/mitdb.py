"""MIT-BIH Arrhythmia Database (``mitdb`` 1.0.0): 48 records, 360 Hz, 2 leads, ``.atr`` beats."""

from __future__ import annotations

from pathlib import Path

from ecgzoo.readers.wfdb_folder import AnnotatedDatabase

FS = 360.0
FOLDER = "mit-bih-arrhythmia-database-1.0.0"


class MitdbReader(AnnotatedDatabase):
    """MIT-BIH records (MLII and V1, V2, V4 or V5); reference beat annotations required."""

    catalog = "mitdb"
    folder_name = FOLDER
    fs = FS


def default_folder() -> Path:
    """The fetched (or mirrored) MIT-BIH folder."""
    return MitdbReader.default_folder()
