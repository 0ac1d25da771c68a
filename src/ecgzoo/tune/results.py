"""What a search leaves behind: the top-k table, the metric-vs-hyperparameter figure, the best
trial's configuration as a ready-to-train YAML and the per-trial overhead.

Files written to ``<experiment>/results/``:

* ``top_trials.md`` / ``top_trials.csv``: the ``top_k`` trials by the search metric (trial id,
  hyperparameters, best validation metric, test macro recall, test accuracy, final train loss,
  test loss, train seconds), like the study's table;
* ``trials.md`` / ``trials.csv``: every trial with its status and timing (wall seconds of the
  trial, training seconds inside it, the difference);
* ``metric_vs_params.png``: the search metric against each hyperparameter;
* ``best_config.yaml``: the best completed trial's experiment config (``ecgzoo train`` it);
* ``overhead.json``: search wall time and overhead per trial against training time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgzoo.config import ExperimentConfig, dump_config

__all__ = ["SearchResult", "TrialRecord", "best_trial", "summarize", "write_results"]

RESULTS_DIR = "results"


@dataclass
class TrialRecord:
    """One trial of a search.

    ``status``: ``completed`` (trained and tested), ``stopped`` (stopped early by ASHA: no test
    metrics), ``error``, or ``interrupted`` (cut short by an interrupted search; a search with
    such a trial is incomplete and writes no results). ``val_metric`` is the best value of the
    search metric over its epochs. ``trial_seconds`` is the wall time Ray measured for the
    trial, ``train_seconds`` the time inside it spent in training epochs (including per-epoch
    validation).
    """

    trial_id: str
    status: str
    params: dict[str, Any]
    val_metric: float | None = None
    test_accuracy: float | None = None
    test_macro_recall: float | None = None
    test_macro_f1: float | None = None
    final_train_loss: float | None = None
    test_loss: float | None = None
    train_seconds: float | None = None
    trial_seconds: float | None = None
    epochs_run: int | None = None
    n_parameters: int | None = None
    run_dir: Path | None = None
    error: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def overhead_seconds(self) -> float | None:
        if self.trial_seconds is None or self.train_seconds is None:
            return None
        return self.trial_seconds - self.train_seconds


@dataclass
class SearchResult:
    """The outcome of :func:`ecgzoo.tune.run_search`."""

    experiment_dir: Path
    metric: str
    mode: str
    trials: list[TrialRecord]
    best: TrialRecord | None
    table_md: Path | None
    table_csv: Path | None
    trials_csv: Path | None
    plot: Path | None
    best_config: Path | None
    overhead: dict[str, Any]
    mlflow_uri: str | None = None
    wall_seconds: float = 0.0
    new_trials: int = 0

    def summary(self) -> str:
        """A few lines for a terminal."""
        done = sum(t.status == "completed" for t in self.trials)
        stopped = sum(t.status == "stopped" for t in self.trials)
        failed = sum(t.status == "error" for t in self.trials)
        lines = [
            f"{len(self.trials)} trials ({done} completed, {stopped} stopped early by ASHA, "
            f"{failed} failed) in {self.experiment_dir}",
        ]
        if self.best is not None:
            b = self.best
            lines.append(
                f"best trial {b.trial_id}: {self.metric} {_fmt(b.val_metric)}, test macro recall "
                f"{_fmt(b.test_macro_recall)}, test accuracy {_fmt(b.test_accuracy)}"
            )
            lines.append("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in b.params.items()))
        ov = self.overhead
        if ov.get("mean_trial_seconds") is not None:
            lines.append(
                f"wall {ov['wall_seconds']:.1f} s; per trial {ov['mean_trial_seconds']:.1f} s wall "
                f"vs {ov['mean_train_seconds']:.1f} s training "
                f"(overhead {ov['mean_overhead_seconds']:.1f} s)"
            )
        for label, path in (
            ("table", self.table_md),
            ("plot", self.plot),
            ("best config", self.best_config),
        ):
            if path is not None:
                lines.append(f"{label}: {path}")
        if self.mlflow_uri:
            lines.append(f"mlflow: mlflow ui --backend-store-uri {self.mlflow_uri}")
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _difference(a: Any, b: Any) -> float | None:
    return float(a) - float(b) if _finite(a) and _finite(b) else None


def best_trial(trials: Sequence[TrialRecord], mode: str) -> TrialRecord | None:
    """The completed trial with the best validation metric (any trial if none completed)."""
    for pool in (
        [t for t in trials if t.status == "completed" and _finite(t.val_metric)],
        [t for t in trials if _finite(t.val_metric)],
    ):
        if pool:
            key = (lambda t: t.val_metric) if mode == "max" else (lambda t: -t.val_metric)
            return max(pool, key=key)
    return None


def _ranked(trials: Sequence[TrialRecord], mode: str) -> list[TrialRecord]:
    scored = [t for t in trials if _finite(t.val_metric)]
    unscored = [t for t in trials if not _finite(t.val_metric)]
    scored.sort(key=lambda t: t.val_metric, reverse=(mode == "max"))
    return scored + unscored


def summarize(
    trials: Sequence[TrialRecord], wall_seconds: float, concurrency: int
) -> dict[str, Any]:
    """Search wall time and per-trial overhead against the training time inside trials.

    ``effective_seconds_per_trial`` is the search wall time times the concurrency divided by
    the trials: what one trial costs end to end, Ray scheduling and process start included.
    """
    n = len(trials)
    timed = [t for t in trials if t.trial_seconds is not None and t.train_seconds is not None]

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    train = mean([t.train_seconds for t in timed])
    effective = wall_seconds * max(concurrency, 1) / n if n and wall_seconds else None
    return {
        "n_trials": n,
        "concurrency": concurrency,
        "wall_seconds": wall_seconds,
        "mean_trial_seconds": mean([t.trial_seconds for t in timed]),
        "mean_train_seconds": train,
        "mean_overhead_seconds": mean([t.overhead_seconds for t in timed]),
        "effective_seconds_per_trial": effective,
        "effective_overhead_per_trial": (
            effective - train if effective is not None and train is not None else None
        ),
        "total_train_seconds": sum(t.train_seconds for t in timed),
    }


def _rows(
    trials: Sequence[TrialRecord], metric: str, short: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    top, full = [], []
    for t in trials:
        params = {short.get(k, k): v for k, v in t.params.items() if k in short}
        row = {"trial": t.trial_id, **params, metric: t.val_metric}
        row.update(
            {
                "test_macro_recall": t.test_macro_recall,
                "test_accuracy": t.test_accuracy,
                "final_train_loss": t.final_train_loss,
                "test_loss": t.test_loss,
                # the same plain cross-entropy of the same weights on both sides (never the
                # weighted or focal training criterion), so the gap is a real overfitting gap
                "loss_gap": _difference(t.test_loss, t.final_train_loss),
                "train_seconds": t.train_seconds,
            }
        )
        top.append(row)
        full.append(
            dict(
                row,
                status=t.status,
                test_macro_f1=t.test_macro_f1,
                epochs_run=t.epochs_run,
                n_parameters=t.n_parameters,
                trial_seconds=t.trial_seconds,
                overhead_seconds=t.overhead_seconds,
                error=t.error,
            )
        )
    return top, full


def write_best_config(
    config: ExperimentConfig, trial: TrialRecord, metric: str, path: Path
) -> Path:
    """Write ``config`` (the best trial's) as an experiment YAML with a provenance header."""
    from ecgzoo.runs.runfolder import atomic_write_text

    header = [
        f"# Best trial {trial.trial_id} of a hyperparameter search ({metric} "
        f"{_fmt(trial.val_metric)}, test macro recall {_fmt(trial.test_macro_recall)}, "
        f"test accuracy {_fmt(trial.test_accuracy)}).",
        "# Train it: ecgzoo train " + str(path),
    ]
    atomic_write_text(path, "\n".join(header) + "\n" + dump_config(config))
    return path


def write_results(
    experiment_dir: Path,
    trials: Sequence[TrialRecord],
    metric: str,
    mode: str,
    short_names: dict[str, str],
    best_config: ExperimentConfig | None,
    overhead: dict[str, Any],
    top_k: int = 10,
) -> dict[str, Path | None]:
    """Write tables, figure, best config and overhead under ``<experiment_dir>/results``."""
    from ecgzoo.report.plots import plot_metric_vs_param
    from ecgzoo.report.tables import write_table
    from ecgzoo.runs.runfolder import write_json

    out = Path(experiment_dir) / RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    ranked = _ranked(trials, mode)
    top, full = _rows(ranked, metric, short_names)
    paths: dict[str, Path | None] = dict.fromkeys(
        ("table_md", "table_csv", "trials_csv", "plot", "best_config")
    )
    if top:
        paths["table_md"], paths["table_csv"] = write_table(top[:top_k], out / "top_trials")
        _, paths["trials_csv"] = write_table(full, out / "trials")
    params = [short_names[k] for k in short_names]
    if params and any(_finite(t.val_metric) for t in trials):
        paths["plot"] = plot_metric_vs_param(
            top,
            metric,
            params,
            out / "metric_vs_params.png",
            title=f"{metric} across {len(top)} trials",
            higher_is_better=(mode == "max"),
        )
    best = best_trial(trials, mode)
    if best is not None and best_config is not None:
        paths["best_config"] = write_best_config(
            best_config, best, metric, out / "best_config.yaml"
        )
    write_json(out / "overhead.json", overhead)
    return paths


def load_overhead(experiment_dir: Path) -> dict[str, Any] | None:
    path = Path(experiment_dir) / RESULTS_DIR / "overhead.json"
    from ecgzoo.safe_load import read_json

    return read_json(path, "overhead") if path.is_file() else None
