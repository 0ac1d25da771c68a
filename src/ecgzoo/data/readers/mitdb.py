"""MIT-BIH Arrhythmia Database (``mitdb`` 1.0.0): 48 records, 360 Hz, 2 leads, ``.atr`` beats."""

from __future__ import annotations

from pathlib import Path

from ecgzoo.data.readers.wfdb_folder import WfdbFolderReader

FS = 360.0
FOLDER = "mit-bih-arrhythmia-database-1.0.0"


def default_folder() -> Path:
    """The fetched (or mirrored) MIT-BIH folder, via :func:`ecgzoo.data.physionet.fetch`."""
    from ecgzoo.data.physionet import fetch

    return Path(fetch("mitdb", "1.0.0")) / FOLDER


class MitdbReader(WfdbFolderReader):
    """MIT-BIH records; reference beat annotations are required."""

    def __init__(self, folder: str | Path | None = None) -> None:
        super().__init__(
            default_folder() if folder is None else folder,
            annotator="atr",
            require_annotations=True,
            expected_fs=(FS,),
            database="mitdb",
        )
