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
  another user), or with any file added, removed, changed or replaced by a link, FIFO or other
  special file is refused;
* and checking is not loading: :func:`private_state` reads each file once into a private
  temporary copy, checks the seal over those bytes, and Ray resumes from the copy, so a file
  swapped after the check is never what Ray unpickles. While a search runs, Ray writes into a
  private folder; :func:`install_state` moves what this process wrote into ``ray/`` and seals
  those hashes, never hashes of whatever it finds in ``ray/``.

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
import shutil
import stat
import tempfile
from pathlib import Path

from ecgzoo.errors import ConfigError
from ecgzoo.paths import ecgzoo_home

__all__ = [
    "SEAL_NAME",
    "install_state",
    "key_path",
    "new_private_state",
    "private_state",
    "verify_state",
]

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


def _refuse_entry(path: Path, what: str) -> ConfigError:
    return ConfigError(
        f"{path}: {what} inside Ray's state; refusing to resume (ecgzoo writes only plain "
        "files and folders there)"
    )


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path`` if it is a plain file: never follows a link, never blocks on a
    FIFO (opened non-blocking, then checked with fstat on the open descriptor)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _refuse_entry(path, f"an unreadable entry ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _refuse_entry(path, "a FIFO, device or socket")
        chunks = []
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _walk(ray_dir: Path, copy_to: Path | None = None) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``ray_dir``, read once each; with
    ``copy_to``, the very bytes hashed are also written there (so what is checked is what
    is later loaded). Links, FIFOs and other special files are refused."""
    if ray_dir.is_symlink() or not ray_dir.is_dir():
        raise _refuse_entry(ray_dir, "a link (or not a folder)")
    files: dict[str, str] = {}
    for root, dirs, names in os.walk(ray_dir, followlinks=False):
        here = Path(root)
        rel_root = here.relative_to(ray_dir)
        for name in dirs:
            if (here / name).is_symlink():
                raise _refuse_entry(here / name, "a link")
            if copy_to is not None:
                (copy_to / rel_root / name).mkdir(mode=0o700)
        for name in names:
            path = here / name
            if path.is_symlink():
                raise _refuse_entry(path, "a link")
            data = _read_regular(path)
            files[(rel_root / name).as_posix()] = hashlib.sha256(data).hexdigest()
            if copy_to is not None:
                (copy_to / rel_root / name).write_bytes(data)
    return dict(sorted(files.items()))


def _inventory(ray_dir: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``ray_dir``; links are refused."""
    return _walk(ray_dir)


def _mac(key: bytes, files: dict[str, str]) -> str:
    message = json.dumps({"version": _VERSION, "files": files}, sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_state(experiment_dir: Path, ray_dir: Path, actual: dict[str, str] | None = None) -> None:
    """Refuse (one line) Ray state that this installation's seal does not vouch for.

    ``actual``: the inventory already read (by :func:`private_state`), else ``ray_dir``'s.
    """
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
    actual = _inventory(ray_dir) if actual is None else actual
    changed = sorted(set(actual) ^ set(files)) or sorted(k for k in actual if actual[k] != files[k])
    if changed:
        raise ConfigError(refuse.format(why=f"was modified after ecgzoo sealed it ({changed[0]})"))


def private_state(experiment_dir: Path, ray_dir: Path) -> Path:
    """A private copy of ``ray_dir`` checked against the seal; Ray resumes from the copy.

    Checking the folder and then letting Ray open it by path can be raced (a pickle swapped
    between the two). Here each file is read once: its bytes are hashed AND written into a
    fresh ``0700`` temporary folder, and the seal is checked over those hashes, so the bytes
    Ray later unpickles are the bytes that were verified. Returns ``<temporary>/ray``; the
    caller removes ``<temporary>`` (``shutil.rmtree(path.parent)``).
    """
    root = Path(tempfile.mkdtemp(prefix="ecgzoo-ray-state-"))
    copy = root / ray_dir.name
    copy.mkdir(mode=0o700)
    try:
        verify_state(experiment_dir, ray_dir, _walk(ray_dir, copy))
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return copy


def new_private_state(name: str) -> Path:
    """A fresh private folder for a new search's Ray state (``<temporary>/name``)."""
    root = Path(tempfile.mkdtemp(prefix="ecgzoo-ray-state-"))
    return root / name


def install_state(experiment_dir: Path, private: Path, ray_dir: Path) -> Path | None:
    """Move the Ray state this process wrote (in ``private``) into ``ray_dir`` and seal it.

    The seal's hashes are those of the private copy, never of what is in ``ray_dir``: whatever
    someone else wrote there meanwhile is replaced, not vouched for. The old ``ray_dir`` is
    swapped out by renames, so a reader sees the old state or the new one.
    """
    from ecgzoo.runs.runfolder import write_json

    if not private.is_dir():
        return None
    staging = Path(tempfile.mkdtemp(prefix=".ray-new-", dir=experiment_dir))
    new = staging / ray_dir.name
    new.mkdir(mode=0o700)
    files = _walk(private, new)
    old = staging / "old"
    if ray_dir.is_symlink() or ray_dir.exists():
        os.replace(ray_dir, old)
    os.replace(new, ray_dir)
    shutil.rmtree(staging, ignore_errors=True)
    path = experiment_dir / SEAL_NAME
    write_json(path, {"version": _VERSION, "files": files, "hmac": _mac(_key(True), files)})
    return path
