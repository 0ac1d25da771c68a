"""MIT-BIH Supraventricular Arrhythmia Database (``svdb`` 1.0.0): 128 Hz, 2 leads, ``.atr``."""

from __future__ import annotations

from pathlib import Path

from ecgzoo.data.readers.wfdb_folder import WfdbFolderReader

FS = 128.0
FOLDER = "mit-bih-supraventricular-arrhythmia-database-1.0.0"


def default_folder() -> Path:
    """The fetched (or mirrored) SVDB folder, via :func:`ecgzoo.data.physionet.fetch`."""
    from ecgzoo.data.physionet import fetch

    return Path(fetch("svdb", "1.0.0")) / FOLDER


class SvdbReader(WfdbFolderReader):
    """SVDB records (``ECG1``/``ECG2``, no MLII label); reference beats are required."""

    def __init__(self, folder: str | Path | None = None) -> None:
        super().__init__(
            default_folder() if folder is None else folder,
            annotator="atr",
            require_annotations=True,
            expected_fs=(FS,),
            database="svdb",
        )
