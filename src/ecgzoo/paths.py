"""Where ecgzoo keeps its cache and its shipped models. Nothing here touches the disk until
called, and nothing heavy is imported: the CLI checks paths here before loading torch."""

from __future__ import annotations

import os
from pathlib import Path

from ecgzoo.errors import EcgzooError

PRETRAINED_PREFIX = "pretrained:"
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


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


def resolve_run(run: str | Path) -> Path:
    """A run folder, or ``pretrained:NAME`` for weights shipped inside the package."""
    text = str(run)
    if text.startswith(PRETRAINED_PREFIX):
        name = text[len(PRETRAINED_PREFIX) :]
        folder = PRETRAINED_DIR / name
        # torch models ship model.safetensors; tree models their LightGBM text files
        if not ((folder / "model.safetensors").is_file() or (folder / "fold_0.txt").is_file()):
            names = (
                sorted(p.name for p in PRETRAINED_DIR.iterdir() if p.is_dir())
                if (PRETRAINED_DIR.is_dir())
                else []
            )
            raise EcgzooError(
                f"unknown pretrained model {name!r} (available: {', '.join(names) or 'none'})"
            )
        return folder
    folder = Path(run)
    if not (folder / "config.yaml").is_file() or not (folder / "model.json").is_file():
        raise EcgzooError(f"{folder}: not a run folder (no config.yaml / model.json)")
    return folder


def existing_input(path: Path) -> Path:
    """``path`` when it names a file, a folder or a WFDB record (``NAME`` of ``NAME.hea``);
    a one-line error otherwise (checked before any model is loaded)."""
    path = Path(path)
    if path.exists() or path.with_name(path.name + ".hea").is_file():
        return path
    raise EcgzooError(
        f"{path}: file not found (expected a WFDB record, .csv or .npy file, "
        "or a folder or zip of them)"
    )
