"""Where ecgzoo keeps its cache and its shipped models, and the one way it writes a file.
Nothing here touches the disk until called, and nothing heavy is imported: the CLI checks paths
here before loading torch."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ecgzoo.errors import DataError, EcgzooError

__all__ = [
    "PRETRAINED_DIR",
    "PRETRAINED_PREFIX",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "default_file_mode",
    "ecgzoo_home",
    "existing_input",
    "resolve_run",
    "shared_mirror",
]

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


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Write ``path`` whole or not at all: ``write(tmp)`` fills a temporary file in the same
    folder (parents created), which is flushed to disk (``fsync``) and renamed onto ``path``
    (``os.replace``). A reader sees the old file or the new one, never half of one; on any
    error, Ctrl-C included, the temporary file is removed and ``path`` is untouched.

    ``write`` gets the temporary path and may open it itself (``savefig``, ``torch.save``,
    ``safetensors``). The file gets the mode a plain ``open()`` would give (not ``mkstemp``'s
    ``0600``). A path that cannot be written (a folder, read-only, a full disk) is one
    :class:`~ecgzoo.errors.DataError` naming it. Returns ``path``.
    """
    out = Path(path)
    if out.is_dir():
        raise DataError(f"{out}: is a folder; give a file name to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise DataError(f"{out}: cannot write ({exc.strerror or exc})") from None
    tmp = Path(name)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{out}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
