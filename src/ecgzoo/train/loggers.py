"""Experiment loggers chosen by ``train.loggers``, besides the run's own ``history.csv``.

``mlflow``: a sqlite store in the output folder (``mlflow ui --backend-store-uri
sqlite:///OUTPUT/mlflow.db``), experiment ``ecgzoo-train``, one MLflow run per ecgzoo run.
``wandb``: Weights & Biases in offline mode under ``RUN/wandb`` (``wandb sync`` uploads it later);
nothing here ever needs the network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ecgzoo.config import ExperimentConfig
from ecgzoo.errors import ConfigError

MLFLOW_EXPERIMENT = "ecgzoo-train"


def flat_params(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_params(value, name + "."))
        else:
            out[name] = value
    return out


def make_loggers(config: ExperimentConfig, run_dir: Path) -> list[Any]:
    """Lightning loggers for ``config.train.loggers`` (empty list: only ``history.csv``)."""
    loggers: list[Any] = []
    kinds = list(dict.fromkeys(config.train.loggers))
    if "mlflow" in kinds:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise ConfigError(
                "train.loggers: mlflow is not installed (pip install 'ecgzoo[tune]')"
            ) from None
        from lightning.pytorch.loggers import MLFlowLogger

        db = (Path(config.output_dir).resolve() / "mlflow.db").as_posix()
        loggers.append(
            MLFlowLogger(
                experiment_name=MLFLOW_EXPERIMENT,
                run_name=config.name,
                tracking_uri=f"sqlite:///{db}",
                # artifacts (confusion matrices) beside the store, not in the working directory
                artifact_location=(Path(db).parent / "mlartifacts").as_uri(),
            )
        )
    if "wandb" in kinds:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise ConfigError(
                "train.loggers: wandb is not installed (pip install wandb), or drop it"
            ) from None
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        loggers.append(
            WandbLogger(project="ecgzoo", name=config.name, save_dir=str(run_dir), offline=True)
        )
    return loggers


def log_epoch(loggers: list[Any], row: dict[str, Any]) -> None:
    """Send one ``history.csv`` row to every logger (step = epoch)."""
    numbers = {k: float(v) for k, v in row.items() if k != "epoch" and isinstance(v, int | float)}
    for logger in loggers:
        logger.log_metrics(numbers, step=int(row["epoch"]))


def finish_loggers(loggers: list[Any], status: str = "success") -> None:
    """Finalize every logger; a W&B run is also finished, so the next training in the same
    process starts its own run instead of logging into this one."""
    for logger in loggers:
        logger.finalize(status)
        if type(logger).__name__ == "WandbLogger":
            logger.experiment.finish()
