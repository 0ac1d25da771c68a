"""Database readers: each lists records and reads one into ``ecgzoo.readers.records.Record``.

``open_reader(name, path)`` is the one registry: ``mitdb``, ``svdb``, ``cinc2017``,
``cinc2021``, ``ptbxl`` and ``wfdb-folder`` (any folder of WFDB records). A plain CSV/NumPy
signal is read with :func:`ecgzoo.readers.wfdb_folder.read_signal_file` at a stated rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecgzoo.errors import ConfigError
from ecgzoo.readers.records import DatabaseReader

READERS = ("mitdb", "svdb", "cinc2017", "cinc2021", "ptbxl", "wfdb-folder")


def open_reader(name: str, path: str | Path | None = None, **options: Any) -> DatabaseReader:
    """The reader of database ``name`` over ``path`` (default: the fetched copy).

    ``cinc2017`` takes ``reference=`` (a ``RECORD,LABEL`` file); ``cinc2021`` takes
    ``scoring=`` (the scoring tables' folder) and ``sources=``; ``wfdb-folder`` takes the
    ``WfdbFolderReader`` options (``annotator``, ``expected_fs``).
    """
    if name == "mitdb":
        from ecgzoo.readers.mitdb import MitdbReader

        return MitdbReader(path)
    if name == "svdb":
        from ecgzoo.readers.svdb import SvdbReader

        return SvdbReader(path)
    if name == "cinc2017":
        from ecgzoo.readers.cinc2017 import Cinc2017Reader

        if path is None or "reference" not in options:
            raise ConfigError("cinc2017 reader: give the records folder and reference=")
        return Cinc2017Reader(path, options["reference"])
    if name == "cinc2021":
        from ecgzoo.readers.cinc2021 import Cinc2021Reader, default_paths

        if path is None or "scoring" not in options:
            path, scoring = default_paths()
        else:
            scoring = options["scoring"]
        return Cinc2021Reader(path, scoring, options.get("sources"))
    if name == "ptbxl":
        from ecgzoo.readers.ptbxl import PtbxlReader, default_root

        return PtbxlReader(path or default_root())
    if name == "wfdb-folder":
        from ecgzoo.readers.wfdb_folder import WfdbFolderReader

        if path is None:
            raise ConfigError("wfdb-folder reader: give the folder of records")
        return WfdbFolderReader(path, **options)
    raise ConfigError(f"unknown database reader {name!r} (choose {', '.join(READERS)})")
