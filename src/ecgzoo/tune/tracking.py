"""Experiment tracking of search trials: MLflow (sqlite backend) and, optionally, W&B offline.

Trials are logged from the driver once Ray has their results (one MLflow run per trial:
hyperparameters as params, every epoch's metrics with ``step=epoch``, final metrics, status),
so several trial processes never write to one sqlite file at the same time. Logging is
idempotent: a trial already in the store (tag ``ecgzoo.trial_id``) is not logged again, so a
resumed search only adds its new trials. See the runs with::

    mlflow ui --backend-store-uri sqlite:///<experiment>/mlflow.db
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecgzoo.errors import ConfigError
from ecgzoo.tune.results import TrialRecord

__all__ = ["mlflow_uri", "log_trials_mlflow", "log_trials_wandb", "require_wandb"]

TRIAL_TAG = "ecgzoo.trial_id"
_FINAL_KEYS = (
    "val_metric",
    "test_accuracy",
    "test_macro_recall",
    "test_macro_f1",
    "final_train_loss",
    "test_loss",
    "train_seconds",
    "trial_seconds",
    "overhead_seconds",
    "epochs_run",
    "n_parameters",
)
_STATUS = {"completed": "FINISHED", "stopped": "KILLED", "error": "FAILED"}


def mlflow_uri(experiment_dir: Path) -> str:
    """``sqlite:////abs/path/mlflow.db`` for an experiment folder."""
    return f"sqlite:///{(Path(experiment_dir).resolve() / 'mlflow.db').as_posix()}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _final_metrics(trial: TrialRecord, metric: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in _FINAL_KEYS:
        value = _number(getattr(trial, key))
        if value is not None:
            out[f"best_{metric}" if key == "val_metric" else key] = value
    return out


def log_trials_mlflow(
    experiment_dir: Path,
    experiment_name: str,
    trials: Sequence[TrialRecord],
    metric: str,
    tags: dict[str, str] | None = None,
) -> str:
    """Log every trial not yet logged as one MLflow run; returns the tracking URI."""
    from mlflow.tracking import MlflowClient

    uri = mlflow_uri(experiment_dir)
    with _quiet_loggers("mlflow", "alembic"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # SQLAlchemy's, inside MLflow
        client = MlflowClient(tracking_uri=uri)
        _log(client, experiment_dir, experiment_name, trials, metric, tags)
    return uri


@contextlib.contextmanager
def _quiet_loggers(*names: str):
    """Raise the given loggers to WARNING for the block (MLflow logs table creation at INFO)."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _log(client, experiment_dir, experiment_name, trials, metric, tags) -> None:
    from mlflow.entities import Metric, Param, RunTag

    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        artifacts = (Path(experiment_dir).resolve() / "mlartifacts").as_uri()
        experiment_id = client.create_experiment(experiment_name, artifact_location=artifacts)
    else:
        experiment_id = experiment.experiment_id
    logged = {
        run.data.tags.get(TRIAL_TAG)
        for run in client.search_runs([experiment_id], max_results=50_000)
    }
    for trial in trials:
        if trial.trial_id in logged:
            continue
        run_tags = {TRIAL_TAG: trial.trial_id, "status": trial.status, **(tags or {})}
        if trial.run_dir is not None:
            run_tags["run_dir"] = str(trial.run_dir)
        if trial.error:
            run_tags["error"] = trial.error[:4000]
        run = client.create_run(experiment_id, run_name=f"trial-{trial.trial_id}", tags=run_tags)
        now = int(time.time() * 1000)
        params = [Param(k, str(v)[:6000]) for k, v in trial.params.items()]
        metrics = []
        for row in trial.history:
            step = int(row.get("epoch", 0))
            for key, value in row.items():
                number = _number(value)
                if key != "epoch" and number is not None:
                    metrics.append(Metric(key, number, now, step))
        metrics += [Metric(k, v, now, 0) for k, v in _final_metrics(trial, metric).items()]
        for start in range(0, max(len(metrics), 1), 900):  # log_batch takes 1000 metrics at most
            client.log_batch(
                run.info.run_id,
                metrics=metrics[start : start + 900],
                params=params if start == 0 else [],
                tags=[RunTag("mlflow.note.content", trial.error)]
                if trial.error and not start
                else [],
            )
        client.set_terminated(run.info.run_id, status=_STATUS.get(trial.status, "FINISHED"))


def require_wandb() -> None:
    """Raise a ConfigError saying how to install W&B when it is not importable."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise ConfigError(
            "wandb: Weights & Biases is not installed (pip install wandb), or leave W&B logging off"
        ) from None


def log_trials_wandb(
    experiment_dir: Path, project: str, trials: Sequence[TrialRecord], metric: str
) -> Path:
    """Log every trial as an offline W&B run under ``<experiment>/wandb`` (``wandb sync`` it)."""
    require_wandb()
    import wandb

    # offline whatever the environment says: a search never waits on the network
    os.environ["WANDB_MODE"] = "offline"
    os.environ.setdefault("WANDB_SILENT", "true")
    root = Path(experiment_dir).resolve()
    marker_dir = root / "wandb" / ".logged"
    marker_dir.mkdir(parents=True, exist_ok=True)
    for trial in trials:
        marker = marker_dir / trial.trial_id
        if marker.exists():
            continue
        run = wandb.init(
            project=project,
            name=f"trial-{trial.trial_id}",
            dir=str(root),
            mode="offline",
            config=dict(trial.params),
            tags=[trial.status],
            reinit=True,
        )
        for row in trial.history:
            run.log({k: v for k, v in row.items() if _number(v) is not None})
        run.summary.update(_final_metrics(trial, metric))
        run.finish()
        marker.touch()
    return root / "wandb"


def log_trials(
    experiment_dir: Path,
    name: str,
    trials: list,
    metric: str,
    tags: dict[str, str],
    mlflow: bool = True,
    wandb: bool = False,
) -> str | None:
    """Log every trial to the trackers asked for; the MLflow tracking URI, or None."""
    uri = None
    if mlflow:
        uri = log_trials_mlflow(experiment_dir, name, trials, metric, tags=tags)
    if wandb:
        log_trials_wandb(experiment_dir, name, trials, metric)
    return uri
