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
