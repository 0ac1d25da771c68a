"""ASHA that remembers which trials it stopped, so a trial killed by an interruption is never
labelled "stopped early by ASHA".

Schedulers run in the search driver: the stopped trial ids collect in this process and are
saved as JSON in the experiment folder when a session ends (Ray does not keep a scheduler's
state across a resume). Ray is imported when the class is first needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["asha_class", "load_asha_stops", "save_asha_stops"]

# Trials ASHA decided to stop in this process.
_asha_stops: set[str] = set()


def _recording_asha() -> type:
    """ASHA that remembers which trials it stopped (so a killed trial is never called that)."""
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    class _RecordingASHA(ASHAScheduler):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            decision = super().on_trial_result(tune_controller, trial, result)
            if decision == TrialScheduler.STOP and not result.get("completed"):
                _asha_stops.add(str(trial.trial_id))
            return decision

    _RecordingASHA.__module__ = __name__
    _RecordingASHA.__qualname__ = "_RecordingASHA"
    return _RecordingASHA


def asha_class() -> type:
    """The recording ASHA scheduler class (built once per process)."""
    cls = globals().get("_RecordingASHA")
    if cls is None:  # one class per process, so pickling finds this very class by name
        cls = globals()["_RecordingASHA"] = _recording_asha()
    return cls


def __getattr__(name: str) -> Any:
    # Ray pickles the scheduler with the search; the class is built on first use (Ray is not
    # imported when this module is) and found here again when a resumed search unpickles it.
    if name == "_RecordingASHA":
        return asha_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def save_asha_stops(path: Path) -> None:
    """Add this process's ASHA stops to the JSON list at ``path`` (atomically)."""
    from ecgzoo.runs.runfolder import write_json

    write_json(path, sorted(load_asha_stops(path) | _asha_stops))


def load_asha_stops(path: Path) -> set[str]:
    """The trial ids ASHA stopped, as saved at ``path`` (empty if none or unreadable)."""
    try:
        stops = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return set()
    return {str(s) for s in stops} if isinstance(stops, list) else set()
