"""A confusion matrix of the validation split, logged each time the kept checkpoint improves.

The spectrogram study's callback checkpointed on the challenge F1 and logged a confusion matrix
with it; this is that callback for every ecgzoo run. Whenever the monitored metric
(``train.monitor``, ``train.monitor_mode``) reaches a new best, the validation predictions of
that epoch (argmax of the probabilities :class:`~ecgzoo.train.module.ZooModule` keeps in
``val_prob``) give a confusion matrix, written to the run folder as
``confusion_matrices/epoch-NNN.csv`` and ``.png`` (the CSV record every run has) and sent to
every active tracker: an MLflow artifact (``confusion_matrices/``) and a W&B image. The last
one written is the matrix of the kept weights on validation. Multi-label runs are skipped (no
single confusion matrix). Self-contained: it tracks its own best value, so it does not depend
on how the run keeps its checkpoint.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np

from ecgzoo.config import TrainConfig

FOLDER = "confusion_matrices"


def confusion_matrix(y: np.ndarray, prob: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``(reference, prediction)`` of argmax predictions."""
    pred = np.argmax(prob, axis=1)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y, dtype=np.int64), pred), 1)
    return cm


def matrix_csv(cm: np.ndarray, class_names: list[str]) -> str:
    """The matrix as CSV: a header of predicted classes, one row per reference class."""
    lines = [",".join(["reference\\predicted", *class_names])]
    lines += [",".join([name, *map(str, row)]) for name, row in zip(class_names, cm, strict=True)]
    return "\n".join(lines) + "\n"


class ConfusionOnImprovement(pl.Callback):
    """Writes and logs the validation confusion matrix at each new best ``monitor`` value."""

    def __init__(self, run_dir: Path, tc: TrainConfig):
        self.folder = Path(run_dir) / FOLDER
        self.monitor, self.mode = tc.monitor, tc.monitor_mode
        self.best = -math.inf if self.mode == "max" else math.inf
        self.written: list[Path] = []

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        value = pl_module.val_row.get(self.monitor)
        prob, y = getattr(pl_module, "val_prob", None), pl_module.val_y
        if value is None or prob is None or y is None or np.asarray(y).ndim != 1:
            return
        value = float(value)
        better = value > self.best if self.mode == "max" else value < self.best
        if math.isnan(value) or not better:
            return
        self.best = value
        if trainer.is_global_zero:
            names = list(pl_module.task.class_names)
            cm = confusion_matrix(y, prob, len(names))
            self._write_and_log(trainer, cm, names, trainer.current_epoch + 1, value)

    def _write_and_log(
        self, trainer: pl.Trainer, cm: np.ndarray, names: list[str], epoch: int, value: float
    ) -> None:
        from ecgzoo.report.plots import plot_confusion_matrix
        from ecgzoo.runs.runfolder import atomic_write_text

        self.folder.mkdir(parents=True, exist_ok=True)
        stem = self.folder / f"epoch-{epoch:03d}"
        csv_path = stem.with_suffix(".csv")
        atomic_write_text(csv_path, matrix_csv(cm, names))
        png_path = stem.with_suffix(".png")
        tmp = self.folder / f".epoch-{epoch:03d}.tmp.png"
        title = f"validation, epoch {epoch} ({self.monitor} {value:.4g})"
        plot_confusion_matrix(cm, names, tmp, title=title)
        os.replace(tmp, png_path)
        self.written.append(csv_path)
        for logger in trainer.loggers:
            log_to_tracker(logger, [csv_path, png_path], epoch)


def log_to_tracker(logger: Any, paths: list[Path], epoch: int) -> None:
    """Send the files to one Lightning logger's tracker (MLflow artifacts, W&B images)."""
    from lightning.pytorch.loggers import MLFlowLogger, WandbLogger

    if isinstance(logger, MLFlowLogger):
        for path in paths:
            logger.experiment.log_artifact(logger.run_id, str(path), FOLDER)
    elif isinstance(logger, WandbLogger):
        import wandb

        png = next(p for p in paths if p.suffix == ".png")
        logger.experiment.log(
            {"val_confusion_matrix": wandb.Image(str(png)), "epoch": epoch}, commit=False
        )
