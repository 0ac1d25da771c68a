"""Where ecgzoo keeps its cache. Nothing here touches the disk until called."""

from __future__ import annotations

import os
from pathlib import Path


def ecgzoo_home() -> Path:
    """The cache folder: ``$ECGZOO_HOME`` or ``~/.cache/ecgzoo`` (not created here)."""
    env = os.environ.get("ECGZOO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ecgzoo"


def shared_mirror() -> Path | None:
    """The PhysioNet mirror named by ``$ECGZOO_PHYSIONET_MIRROR`` if it is a local folder."""
    env = os.environ.get("ECGZOO_PHYSIONET_MIRROR")
    if env and "://" not in env:
        return Path(env).expanduser()
    return None


def default_file_mode() -> int:
    """The mode a plain ``open()`` would give a new file: ``0o666`` less the process umask.

    ``tempfile.mkstemp`` creates files ``0600``; files written through a temporary file and a
    rename get this mode instead, so they read like any other file the user writes.
    """
    umask = None
    try:  # Linux reports the umask without changing it (os.umask would, for every thread)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
                break
    except (OSError, ValueError):
        umask = None
    if umask is None:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask
