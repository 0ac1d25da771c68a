"""Sealing Ray Tune's experiment state so that ``tune --resume`` never unpickles a stranger's file.

Ray keeps a search's state as pickles (``tuner.pkl``, ``searcher-state-*.pkl``, trial objects
pickled inside ``experiment_state-*.json``, ``error.pkl``): loading them runs whatever code they
name. A run folder is safe to evaluate because it holds tensors only; a search folder is made
as safe to resume by this seal:

* when a search session ends (finished, failed or interrupted, after Ray has stopped), the
  driver hashes every file under ``<experiment>/ray/`` and writes ``ray.seal.json`` beside it:
  the SHA-256 of each file and an HMAC-SHA256 of that list, keyed by a secret that never leaves
  this machine (``$ECGZOO_HOME/keys/search-seal.key``, created ``0600`` on first use);
* ``--resume`` recomputes the hashes and checks the HMAC *before* Ray is imported to read the
  folder; a folder without a seal, sealed with another key (written on another machine or by
  another user), or with any file added, removed, changed or replaced by a link is refused.

What this trusts: the key file, and the ecgzoo installation that holds it. A search folder
copied from elsewhere can be inspected (``results/``, ``trials/``: JSON, CSV, YAML, PNG and
tensors) but not resumed; start a new search from its ``base_config.yaml`` and ``space.yaml``.
A driver killed with SIGKILL cannot seal its state: that search is not resumable either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from ecgzoo.errors import ConfigError
from ecgzoo.paths import ecgzoo_home

__all__ = ["SEAL_NAME", "key_path", "seal_state", "verify_state"]

SEAL_NAME = "ray.seal.json"
_VERSION = 1
_CHUNK = 1 << 20


def key_path() -> Path:
    """Where the sealing key lives: outside every experiment folder, in ``ECGZOO_HOME``."""
    return ecgzoo_home() / "keys" / "search-seal.key"


def _key(create: bool) -> bytes | None:
    path = key_path()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: two searches starting at once agree on one key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _inventory(ray_dir: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``ray_dir``; links are refused."""
    files: dict[str, str] = {}
    for root, dirs, names in os.walk(ray_dir):
        for name in dirs + names:
            path = Path(root) / name
            if path.is_symlink():
                raise ConfigError(
                    f"{path}: a link inside Ray's state; refusing to resume "
                    "(ecgzoo never writes links there)"
                )
        for name in names:
            path = Path(root) / name
            files[path.relative_to(ray_dir).as_posix()] = _digest(path)
    return dict(sorted(files.items()))


def _mac(key: bytes, files: dict[str, str]) -> str:
    message = json.dumps({"version": _VERSION, "files": files}, sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_state(experiment_dir: Path, ray_dir: Path) -> Path | None:
    """Write ``ray.seal.json`` over the files of ``ray_dir`` (after Ray stopped writing them)."""
    from ecgzoo.train.runfolder import write_json

    if not ray_dir.is_dir():
        return None
    files = _inventory(ray_dir)
    path = experiment_dir / SEAL_NAME
    write_json(path, {"version": _VERSION, "files": files, "hmac": _mac(_key(True), files)})
    return path


def verify_state(experiment_dir: Path, ray_dir: Path) -> None:
    """Refuse (one line) Ray state that this installation's seal does not vouch for."""
    path = experiment_dir / SEAL_NAME
    refuse = (
        f"{ray_dir}: refusing to resume: Ray's state holds pickles that run code when loaded, "
        "and it {why}. Start a new search (another --output) from this folder's "
        "base_config.yaml and space.yaml instead"
    )
    if not path.is_file():
        raise ConfigError(
            refuse.format(
                why=f"has no seal ({SEAL_NAME}: not written by an ecgzoo search "
                "here, or its driver was killed before sealing it)"
            )
        )
    try:
        seal = json.loads(path.read_text(encoding="utf-8"))
        claimed, files = seal["hmac"], seal["files"]
        if seal.get("version") != _VERSION or not isinstance(files, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ConfigError(refuse.format(why=f"has an unreadable seal ({path})")) from None
    key = _key(False)
    if key is None or not hmac.compare_digest(_mac(key, files), str(claimed)):
        raise ConfigError(refuse.format(why="was not sealed by this ecgzoo installation"))
    actual = _inventory(ray_dir)
    changed = sorted(set(actual) ^ set(files)) or sorted(k for k in actual if actual[k] != files[k])
    if changed:
        raise ConfigError(refuse.format(why=f"was modified after ecgzoo sealed it ({changed[0]})"))
