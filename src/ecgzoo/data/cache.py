"""Cache of prepared arrays, keyed by the parameters that produced them."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.paths import ecgzoo_home

CACHE_VERSION = 1  # bump when a preparation algorithm changes its output


def cache_key(name: str, params: dict[str, Any]) -> str:
    """A stable short hash of ``name`` and JSON-serialisable ``params``."""
    blob = json.dumps({"name": name, "v": CACHE_VERSION, "params": params}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_arrays(
    name: str,
    params: dict[str, Any],
    build: Callable[[], dict[str, np.ndarray]],
    cache_dir: Path | None = None,
) -> dict[str, np.ndarray]:
    """Return the arrays for ``params``, building and saving them only when not cached.

    The file is written to a temporary name and renamed, so an interrupted build never
    leaves a half-written cache entry.
    """
    folder = (cache_dir or ecgzoo_home() / "prepared") / name
    path = folder / f"{cache_key(name, params)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # corrupt entry: rebuild
    arrays = build()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
        (folder / f"{path.stem}.json").write_text(json.dumps(params, sort_keys=True, indent=1))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return arrays
