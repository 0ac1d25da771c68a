"""The trial side of a search: what runs inside each Ray trial, and how finished trials are
read back into records (status, metrics, history) for the results tables."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from ecgzoo.errors import ConfigError
from ecgzoo.tune.results import TrialRecord
from ecgzoo.tune.space import SearchSpace, apply_values

# -- the trial ----------------------------------------------------------------------------------


def trial_dirname(trial: Any) -> str:
    return str(trial.trial_id)


def numeric_row(row: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in row.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        out[key] = float(value)
    return out


def run_trial(
    config: dict[str, Any],
    *,
    space: SearchSpace,
    base_yaml: str,
    metric: str,
    trials_dir: str,
    data: Any = None,
) -> None:
    """A Ray Tune function trainable: one training run, reported epoch by epoch."""
    from ray import tune

    from ecgzoo.experiment import build_config
    from ecgzoo.safe_load import load_yaml
    from ecgzoo.train.engine import train_run

    t0 = time.perf_counter()
    trial_id = tune.get_context().get_trial_id()
    base = build_config(load_yaml(base_yaml, "base config"), source="base config")
    cfg = apply_values(base, space.decode(config), name=f"trial-{trial_id}")
    run_dir = Path(trials_dir) / trial_id

    def on_epoch(row: dict[str, Any]) -> None:
        tune.report(numeric_row(row))

    if (run_dir / "metrics.json").is_file():  # trained before an interruption: report it
        metrics = json.loads((run_dir / "metrics.json").read_text())
    else:
        metrics = train_run(cfg, run_dir, data=data, on_epoch=on_epoch, progress=False).metrics
    test = metrics.get("test", {})
    best = metrics.get("best_" + cfg.train.monitor)
    final = {
        metric: best if best is not None else float("nan"),
        "best_value": best if best is not None else float("nan"),
        "test_accuracy": test.get("accuracy"),
        "test_macro_recall": test.get("macro_recall"),
        "test_macro_f1": test.get("macro_f1"),
        "final_train_loss": metrics.get("final_train_loss"),
        "test_loss": metrics.get("test_loss"),
        "train_seconds": metrics.get("train_seconds"),
        "n_parameters": metrics.get("n_parameters"),
        "epochs_run": metrics.get("epochs_run"),
        "trial_seconds": time.perf_counter() - t0,
        "completed": 1.0,
    }
    tune.report(numeric_row(final))


# -- collecting results -------------------------------------------------------------------------


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    import csv

    path = run_dir / "history.csv"
    if not path.is_file():
        return []
    rows = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            rows.append({k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v})
    return rows


def first_line(error: Any) -> str:
    text = str(error).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):  # the innermost exception comes last in a Ray traceback
        if "Error" in ln or "error" in ln:
            return ln.strip()[:500]
    return (lines[-1] if lines else type(error).__name__)[:500]


def trial_records(
    grid: Any,
    space: SearchSpace,
    metric: str,
    mode: str,
    trials_dir: Path,
    asha_stopped: set[str] = frozenset(),
):
    records: list[TrialRecord] = []
    for result in grid:
        m = dict(result.metrics or {})
        trial_id = str(m.get("trial_id") or Path(result.path).name)
        run_dir = trials_dir / trial_id
        history = read_history(run_dir)
        try:
            params = {
                k: v for k, v in space.decode(result.config or {}).items() if k in space.params
            }
        except (ConfigError, KeyError, TypeError, ValueError):
            params = {}
        if result.error is not None and "KeyboardInterrupt" in str(result.error):
            status = "interrupted"  # Ctrl-C reached the trial's process too (same terminal)
        elif result.error is not None:
            status = "error"
        elif m.get("completed"):
            status = "completed"
        elif trial_id in asha_stopped:
            status = "stopped"
        else:  # neither finished nor stopped by ASHA: the search was interrupted under it
            status = "interrupted"
        values = [row[metric] for row in history if isinstance(row.get(metric), float)]
        values = [v for v in values if math.isfinite(v)]
        val = m.get("best_value") if status == "completed" else None
        if val is None and values:
            val = max(values) if mode == "max" else min(values)
        train_s = m.get("train_seconds")
        if train_s is None and history:
            train_s = sum(row.get("epoch_seconds", 0.0) for row in history)
        records.append(
            TrialRecord(
                trial_id=trial_id,
                status=status,
                params=params,
                val_metric=val,
                test_accuracy=m.get("test_accuracy") if status == "completed" else None,
                test_macro_recall=m.get("test_macro_recall") if status == "completed" else None,
                test_macro_f1=m.get("test_macro_f1") if status == "completed" else None,
                final_train_loss=m.get("final_train_loss") if status == "completed" else None,
                test_loss=m.get("test_loss") if status == "completed" else None,
                train_seconds=train_s,
                trial_seconds=m.get("time_total_s"),
                epochs_run=int(m["epochs_run"])
                if m.get("epochs_run") is not None
                else len(history),
                n_parameters=int(m["n_parameters"]) if m.get("n_parameters") else None,
                run_dir=run_dir if run_dir.is_dir() else None,
                error=first_line(result.error) if result.error is not None else None,
                history=history,
            )
        )
    records.sort(key=lambda r: r.trial_id)
    return records


# -- the search ---------------------------------------------------------------------------------
