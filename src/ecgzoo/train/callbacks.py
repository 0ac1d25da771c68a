"""The run-folder callback: history, best weights, resumable checkpoint, LR plateau, stopping.

Everything that happens once per epoch, in the order the hand-written engine used: score the
epoch, step the plateau schedule on the monitored metric, keep the best weights, append to
``history.csv``, write ``checkpoint.pt``, report the row, then decide whether to stop (early
stopping or the time budget). Its state (best value and epoch, epochs without improvement,
elapsed seconds, the plateau schedule) travels in the checkpoint, so a resumed run continues
exactly where the interrupted one stopped.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from ecgzoo.config import TrainConfig
from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.train.datamodule import epoch_seed
from ecgzoo.train.loggers import log_epoch
from ecgzoo.train.module import ZooModule
from ecgzoo.train.runfolder import atomic_write_text, save_weights

EpochCallback = Callable[[dict[str, Any]], None]


class RunInterrupted(Exception):
    """Ctrl-C or an interrupting epoch callback, carried through Lightning (which would exit)."""


def finite_state(state: dict[str, torch.Tensor]) -> bool:
    """Whether every floating-point tensor of a state dict is finite."""
    return all(bool(torch.isfinite(t).all()) for t in state.values() if torch.is_floating_point(t))


def read_history(path: Path, upto_epoch: int) -> list[dict[str, Any]]:
    """The rows of ``history.csv`` up to ``upto_epoch`` (a resumed run drops later ones)."""
    if not path.is_file():
        return []
    rows = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if int(row["epoch"]) <= upto_epoch:
                rows.append({k: (float(v) if k != "epoch" else int(v)) for k, v in row.items()})
    return rows


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0].keys()))
    writer.writeheader()
    writer.writerows(history)
    guarded_write(path, lambda: atomic_write_text(path, buf.getvalue()))


def guarded_write(path: Path, write: Callable[[], None]) -> None:
    """Run ``write``; a full disk or a write error becomes one clear line naming the file."""
    from safetensors import SafetensorError

    try:
        write()
    except (OSError, SafetensorError) as exc:  # safetensors wraps the OS error in its own type
        reason = getattr(exc, "strerror", None) or str(exc).split(": ")[-1] or type(exc).__name__
        message = f"{path}: could not write ({reason}); free some space and rerun"
        raise EcgzooError(message) from None


class RunRecorder(pl.Callback):
    """Writes the run folder ``run_dir`` epoch by epoch (files: global-zero process only)."""

    def __init__(self, run_dir: Path, tc: TrainConfig, on_epoch: EpochCallback | None = None):
        self.run_dir, self.tc, self.on_epoch = Path(run_dir), tc, on_epoch
        self.best_value = -math.inf if tc.monitor_mode == "max" else math.inf
        self.best_epoch = self.bad_epochs = 0
        self.elapsed = 0.0
        self.history: list[dict[str, Any]] = []
        self.stopped_early = False
        self.plateau: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
        self._plateau_state: dict[str, Any] | None = None
        self._t0 = self._t_train = 0.0

    # -- state carried by checkpoint.pt --------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "elapsed": self.elapsed,
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_value = float(state["best_value"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
        self.elapsed = float(state["elapsed"])
        self._plateau_state = state.get("plateau")

    # -- hooks -------------------------------------------------------------------------------

    def on_train_start(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        # The plateau schedule is stepped here, not by Lightning, so that it is stepped before
        # the checkpoint is written (Lightning skips that step resuming an epoch-end one).
        tc = self.tc
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            trainer.optimizers[0],
            mode=tc.monitor_mode,
            factor=tc.lr_factor,
            patience=tc.lr_patience,
        )
        if self._plateau_state is not None:
            self.plateau.load_state_dict(self._plateau_state)
        self.history = read_history(self.run_dir / "history.csv", trainer.current_epoch)
        if self.history and self._should_stop(trainer.current_epoch):
            # resumed after the run had already decided to stop (interrupted while scoring)
            self.stopped_early = trainer.should_stop = True

    def _should_stop(self, epoch: int) -> bool:
        tc = self.tc
        over_budget = tc.max_minutes is not None and self.elapsed >= tc.max_minutes * 60
        return (self.bad_epochs >= tc.early_stopping_patience or over_budget) and epoch < tc.epochs

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        epoch = trainer.current_epoch + 1
        # dropout draws from torch's global generator: seed it per epoch (see datamodule)
        torch.manual_seed(epoch_seed(self.tc.seed, epoch))
        self._t0 = self._t_train = time.perf_counter()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        self._t_train = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        tc = self.tc
        epoch = trainer.current_epoch + 1
        train_loss, seen = pl_module.epoch_train_loss()
        row: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss}
        row.update(pl_module.val_row)
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        row["train_samples_per_s"] = seen / max(self._t_train - self._t0, 1e-9)
        row["epoch_seconds"] = time.perf_counter() - self._t0
        if tc.monitor not in row:
            raise ConfigError(
                f"train.monitor: {tc.monitor!r} is not a logged metric "
                f"(choose from {', '.join(k for k in row if k != 'epoch')})"
            )
        value = float(row[tc.monitor])
        self.plateau.step(value)
        self.elapsed += row["epoch_seconds"]
        self.history.append(row)
        improved = not math.isnan(value) and (
            value > self.best_value if tc.monitor_mode == "max" else value < self.best_value
        )
        if improved:
            self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
        else:
            self.bad_epochs += 1
        if trainer.is_global_zero:
            self._write_epoch(pl_module, improved)
            log_epoch(trainer.loggers, row)
        self._save_checkpoint(trainer)
        if trainer.is_global_zero and self.on_epoch is not None:
            try:
                self.on_epoch(dict(row, best_value=self.best_value, best_epoch=self.best_epoch))
            except KeyboardInterrupt:
                raise RunInterrupted from None
        if self._should_stop(epoch):
            self.stopped_early = trainer.should_stop = True

    def _write_epoch(self, pl_module: ZooModule, improved: bool) -> None:
        weights = pl_module.model.state_dict()
        if not finite_state(weights):
            raise EcgzooError(
                "train: the weights became non-finite (NaN/inf); the run diverged "
                "(lower train.lr or set train.gradient_clip_val); they were not saved"
            )
        if improved:
            path = self.run_dir / "model.safetensors"
            guarded_write(path, lambda: save_weights(path, weights))
        write_history(self.run_dir / "history.csv", self.history)

    def _save_checkpoint(self, trainer: pl.Trainer) -> None:
        # every process takes part (Lightning gathers state); the global-zero one writes, through
        # a temporary file renamed into place, so an interrupted write never leaves half a file
        path = self.run_dir / "checkpoint.pt"
        tmp = self.run_dir / ".checkpoint.pt.tmp"

        def write() -> None:
            trainer.save_checkpoint(tmp)
            if trainer.is_global_zero:
                os.replace(tmp, path)

        try:
            guarded_write(path, write)
        except EcgzooError:
            if trainer.is_global_zero:
                tmp.unlink(missing_ok=True)
            raise
