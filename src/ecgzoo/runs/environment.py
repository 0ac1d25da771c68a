"""What a run was trained with (``metrics.json``'s ``environment``): Python, platform, the
versions of the libraries that shape the weights, and the ecgzoo source's git commit.

The same code, config and seed give the same weights only with the same libraries: on a
machine installed afresh (session 11, issue 19) a re-run of round P's models moved its figures
within the seed spread (notes/beats11.md). A run folder now says which set it came from.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

#: the distributions whose versions are recorded (those that compute or prepare what is learnt)
PACKAGES: tuple[str, ...] = (
    "ecgzoo",
    "torch",
    "lightning",
    "numpy",
    "scipy",
    "scikit-learn",
    "wfdb",
    "neurokit2",
    "lightgbm",
    "onnxruntime",
)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def source_commit(where: Path | None = None) -> str | None:
    """The git commit of the ecgzoo source (``+dirty`` when it has uncommitted changes), or
    ``None`` outside a git checkout (an installed wheel) or without git."""
    folder = where if where is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        changes = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no", "."],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if changes else head


def environment() -> dict[str, str | None]:
    """Python, platform, :data:`PACKAGES` versions (``None`` if absent) and ``source_commit``."""
    out: dict[str, str | None] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "source_commit": source_commit(),
    }
    out.update({name: _version(name) for name in PACKAGES})
    return out
