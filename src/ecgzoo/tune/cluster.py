"""The local Ray instance a search starts, and what a killed search leaves behind.

:func:`start_ray` starts Ray quietly in a short temporary folder under ``/tmp`` and writes the
driver's pid there; :func:`stop_ray` shuts it down and deletes the folder. A driver killed
before :func:`stop_ray` ran leaves Ray's processes and that folder: :func:`reap_stale_ray`
(called by every :func:`start_ray`) finds folders whose driver is gone, ends their processes
and deletes them: only folders this user's ecgzoo claimed in ``ECGZOO_HOME/ray-started`` when
it started them (a look-alike folder anyone can create in ``/tmp`` is never touched), and only
processes whose command line names that exact folder. Ray is imported when called, never at
import time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

from ecgzoo.errors import ConfigError

__all__ = ["cpu_count", "reap_stale_ray", "start_ray", "stop_ray", "tasks_that_fit"]

_started_temp: list[str] = []
_TEMP_PREFIX = "ecgzoo-ray-"
_DRIVER_PID = "ecgzoo-driver.pid"


def cpu_count() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def start_ray(
    address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None
) -> bool:
    """Start Ray locally and quietly (or join ``address``); False if Ray was already running.

    A local instance gets a short temporary folder under ``/tmp`` (Ray's unix socket paths
    must stay under 107 characters), no dashboard and no usage statistics.
    """
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # verbose=0 is then silent
    quiet = {"log_to_driver": False, "configure_logging": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **quiet)
        return True
    base = "/tmp" if os.path.isdir("/tmp") else None
    reap_stale_ray(base or tempfile.gettempdir())
    temp = tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=base)
    _started_temp.append(temp)
    Path(temp, _DRIVER_PID).write_text(f"{os.getpid()}\n")
    _claim(temp)
    ray.init(
        num_cpus=num_cpus or cpu_count(),
        num_gpus=num_gpus,
        include_dashboard=False,
        _temp_dir=temp,
        **quiet,
    )
    return True


def tasks_that_fit(cpus: float, gpus: float, what: str = "trial") -> int:
    """How many tasks of ``cpus`` CPUs and ``gpus`` GPUs the running Ray cluster holds at once
    (a search's trials, a sweep's points); a ``ConfigError`` when not even one fits."""
    import ray  # optional (tune extra): only a search or sweep that trains gets here

    resources = ray.cluster_resources()
    fits = int(resources.get("CPU", 0) // cpus)
    if gpus:
        fits = min(fits, int(resources.get("GPU", 0) // gpus))
    if fits < 1:
        raise ConfigError(
            f"the Ray cluster ({resources.get('CPU', 0)} CPUs, {resources.get('GPU', 0)} GPUs) "
            f"cannot fit one {what} of {cpus} CPUs and {gpus} GPUs"
        )
    return fits


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _claims() -> Path:
    """Where this user's ecgzoo records the Ray folders it started (its own ``ECGZOO_HOME``,
    which no other user can write: a folder in ``/tmp`` alone proves nothing)."""
    from ecgzoo.paths import ecgzoo_home

    return ecgzoo_home() / "ray-started"


def _claim(temp: str) -> None:
    claims = _claims()
    claims.mkdir(parents=True, exist_ok=True)
    (claims / Path(temp).name).write_text(f"{temp}\n")


def _unclaim(temp: str) -> None:
    with contextlib.suppress(OSError):
        (_claims() / Path(temp).name).unlink()


def _ours(folder: Path) -> bool:
    """Whether ``folder`` is a Ray folder this user's ecgzoo started: claimed in
    ``ECGZOO_HOME``, a real folder (not a link) owned by this user."""
    try:
        claimed = (_claims() / folder.name).read_text().strip()
        st = folder.lstat()
    except OSError:
        return False
    return claimed == str(folder) and stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()


def _uses(cmdline: bytes, folder: str) -> bool:
    """Whether a process's command line names ``folder`` itself or a path inside it (a mere
    prefix, ``/tmp/ecgzoo-ray-ab`` of ``/tmp/ecgzoo-ray-abc``, does not count)."""
    pattern = re.escape(folder.encode()) + rb"(?![A-Za-z0-9_.\-])"
    return re.search(pattern, cmdline) is not None


def reap_stale_ray(base: str | Path) -> list[str]:
    """Remove what a killed ecgzoo driver left: its Ray processes and its temporary folder.

    Each local Ray that :func:`start_ray` starts lives in ``<base>/ecgzoo-ray-*`` with the
    driver's pid beside it. A folder whose driver is gone (killed, so ``stop_ray`` never ran)
    has its processes (found by the folder in their command line, ours only) terminated and is
    deleted. Returns the folders removed.
    """
    import signal

    removed = []
    for folder in Path(base).glob(_TEMP_PREFIX + "*"):
        if not _ours(folder):
            continue  # another user's, or made to look like ours: never touched
        try:
            pid = int((folder / _DRIVER_PID).read_text().strip())
        except (OSError, ValueError):
            continue  # not (yet) claimed by a driver: leave it
        if _alive(pid):
            continue
        victims = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if proc.stat().st_uid == os.getuid() and _uses(
                    (proc / "cmdline").read_bytes(), str(folder)
                ):
                    victims.append(int(proc.name))
            except OSError:
                continue
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for victim in victims:
                with contextlib.suppress(OSError):
                    os.kill(victim, sig)
            deadline = time.monotonic() + 5
            while any(_alive(v) for v in victims) and time.monotonic() < deadline:
                time.sleep(0.1)
        shutil.rmtree(folder, ignore_errors=True)
        _unclaim(str(folder))
        removed.append(str(folder))
    return removed


def stop_ray() -> None:
    """Shut Ray down and remove the temporary folders :func:`start_ray` made."""
    import ray

    ray.shutdown()
    while _started_temp:
        temp = _started_temp.pop()
        shutil.rmtree(temp, ignore_errors=True)
        _unclaim(temp)
