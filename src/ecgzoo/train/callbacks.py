"""The run-folder callbacks: history, best weights, resumable checkpoint, LR plateau, stopping.

Lightning does what Lightning does: :class:`BestWeights` is its ``ModelCheckpoint`` (keep the
weights of the best epoch on ``train.monitor``), writing them as ``model.safetensors``; early
stopping is its ``EarlyStopping`` and the time budget its ``Timer`` (``Trainer(max_time=...)``,
checked after every step). :class:`RunRecorder` does the rest once per epoch: step the plateau
schedule on the monitored metric, append to ``history.csv``, write ``checkpoint.pt`` and report
the row. Every callback's state (best value and epoch, epochs without improvement, elapsed time,
the plateau schedule) travels in the checkpoint, so a resumed run continues exactly where the
interrupted one stopped.
"""

from __future__ import annotations

import csv
import io
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, Timer

from ecgzoo.config import TrainConfig
from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.runs.runfolder import atomic_write_text, save_weights
from ecgzoo.train.datamodule import epoch_seed
from ecgzoo.train.loggers import log_epoch
from ecgzoo.train.module import ZooModule

EpochCallback = Callable[[dict[str, Any]], None]


class RunInterrupted(Exception):
    """Ctrl-C or an interrupting epoch callback, carried through Lightning (which would exit)."""


class InterruptCheck(pl.Callback):
    """Ends the run at the next batch or epoch hook once Ctrl-C was pressed (``requested``).

    The SIGINT handler also raises at once; but where that exception lands inside a finaliser
    or a weakref callback (matplotlib's, while a figure is collected), Python only prints
    "Exception ignored" and training would go on. The flag makes the request stick.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()

    def _check(self, *_: Any) -> None:
        if self.requested.is_set():
            raise RunInterrupted

    on_train_batch_end = on_validation_batch_end = _check
    on_train_epoch_end = on_validation_epoch_end = _check


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


def check_finite_weights(state: dict[str, torch.Tensor]) -> None:
    if not finite_state(state):
        raise EcgzooError(
            "train: the weights became non-finite (NaN/inf); the run diverged "
            "(lower train.lr or set train.gradient_clip_val); they were not saved"
        )


class BestWeights(ModelCheckpoint):
    """Lightning's checkpoint-on-metric, keeping one file: the best epoch's weights as
    ``RUN/model.safetensors`` (tensors only). A NaN score never counts as the best."""

    FILE_EXTENSION = ".safetensors"

    def __init__(self, run_dir: Path, tc: TrainConfig):
        super().__init__(
            dirpath=run_dir,
            filename="model",
            monitor=tc.monitor,
            mode=tc.monitor_mode,
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,  # one file, replaced on each improvement
            # after validation, so that checkpoint.pt (written at the epoch's end) includes it
            save_on_train_epoch_end=False,
        )
        self.best_epoch = 0

    @property
    def best_value(self) -> float | None:
        score = self.best_model_score
        return None if score is None else float(score)

    def check_monitor_top_k(self, trainer: pl.Trainer, current: torch.Tensor | None = None) -> bool:
        if current is not None and bool(torch.isnan(current)):
            return False
        return super().check_monitor_top_k(trainer, current)

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        self.best_epoch = trainer.current_epoch + 1
        if trainer.is_global_zero:
            weights = trainer.lightning_module.model.state_dict()
            check_finite_weights(weights)
            path = Path(filepath)
            guarded_write(path, lambda: save_weights(path, weights))
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.best_epoch = int(state_dict.get("best_epoch", 0))


def stopping_callbacks(run_dir: Path, tc: TrainConfig) -> list[pl.Callback]:
    """Lightning's best-weights checkpoint and early stopping on ``train.monitor``."""
    return [
        BestWeights(run_dir, tc),
        EarlyStopping(
            monitor=tc.monitor,
            mode=tc.monitor_mode,
            patience=tc.early_stopping_patience,
            check_finite=False,  # a NaN epoch counts as one without improvement
            check_on_train_epoch_end=False,
        ),
    ]


def stop_reason(trainer: pl.Trainer, tc: TrainConfig, epochs_run: int) -> str | None:
    """Why training ended before ``train.epochs``, in words (None: it ran them all)."""
    if epochs_run >= tc.epochs and not partial_epoch(trainer):
        return None
    timers = [c for c in trainer.callbacks if isinstance(c, Timer)]
    if timers and (timers[0].time_remaining() or 0.0) <= 0:
        return f"time budget {tc.max_minutes:g} min"
    early = trainer.early_stopping_callback
    if early is not None and early.wait_count >= early.patience:
        return f"early stopping ({tc.monitor} did not improve for {early.patience} epochs)"
    return "stopped"


def partial_epoch(trainer: pl.Trainer) -> bool:
    """Whether the last epoch was cut short (the time budget stops in the middle of one)."""
    done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
    total = trainer.num_training_batches
    return isinstance(total, int) and 0 < done < total


def make_schedule(
    tc: TrainConfig, optimizer: torch.optim.Optimizer, state: dict[str, Any] | None
) -> Any:
    """``train.lr_schedule``'s torch scheduler, at ``state`` when a run resumes. The cosine is
    written in closed form (``LambdaLR``), so a resumed run sets the rate its epoch had."""
    if tc.lr_schedule == "cosine":
        epochs = max(tc.epochs, 1)
        schedule: Any = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / epochs))
        )
    else:
        schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=tc.monitor_mode, factor=tc.lr_factor, patience=tc.lr_patience
        )
    if state is not None:
        schedule.load_state_dict(state)
        if tc.lr_schedule == "cosine":
            for group, lr in zip(optimizer.param_groups, schedule.get_last_lr(), strict=True):
                group["lr"] = lr
    return schedule


class RunRecorder(pl.Callback):
    """Writes the run folder ``run_dir`` epoch by epoch (files: global-zero process only)."""

    def __init__(self, run_dir: Path, tc: TrainConfig, on_epoch: EpochCallback | None = None):
        self.run_dir, self.tc, self.on_epoch = Path(run_dir), tc, on_epoch
        self.elapsed = 0.0
        self.history: list[dict[str, Any]] = []
        self.schedule: Any = None  # train.lr_schedule's torch scheduler
        self._schedule_state: dict[str, Any] | None = None
        self._t0 = self._t_train = 0.0

    # -- state carried by checkpoint.pt --------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        # "plateau": the key's name from before train.lr_schedule, kept for older checkpoints
        return {
            "elapsed": self.elapsed,
            "plateau": None if self.schedule is None else self.schedule.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.elapsed = float(state["elapsed"])
        self._schedule_state = state.get("plateau")

    # -- hooks -------------------------------------------------------------------------------

    def on_train_start(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        # The schedule is stepped here, not by Lightning, so that it is stepped before the
        # checkpoint is written (Lightning skips that step resuming an epoch-end one).
        self.schedule = make_schedule(self.tc, trainer.optimizers[0], self._schedule_state)
        self.history = read_history(self.run_dir / "history.csv", trainer.current_epoch)
        early = trainer.early_stopping_callback
        if self.history and early is not None and early.wait_count >= early.patience:
            # resumed after early stopping had decided to stop (interrupted while scoring);
            # Lightning's Timer makes the same check for a spent time budget itself
            trainer.should_stop = True

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        epoch = trainer.current_epoch + 1
        # dropout draws from torch's global generator: seed it per epoch (see datamodule)
        torch.manual_seed(epoch_seed(self.tc.seed, epoch))
        self._t0 = self._t_train = time.perf_counter()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        self._t_train = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        # before Lightning's checkpoint and early stopping look for it (they would raise)
        # "epoch": the fixed schedule (train.monitor: epoch), which Lightning itself provides
        logged = [*pl_module.val_row, "train_loss", "epoch"]
        if not trainer.sanity_checking and self.tc.monitor not in logged:
            raise ConfigError(
                f"train.monitor: {self.tc.monitor!r} is not a logged metric "
                f"(choose from {', '.join(logged)})"
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: ZooModule) -> None:
        tc = self.tc
        epoch = trainer.current_epoch + 1
        train_loss, seen = pl_module.epoch_train_loss()
        row: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss}
        row.update(pl_module.val_row)
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        row["train_samples_per_s"] = seen / max(self._t_train - self._t0, 1e-9)
        row["epoch_seconds"] = time.perf_counter() - self._t0
        if isinstance(self.schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.schedule.step(float(row[tc.monitor]))
        else:
            self.schedule.step()
        self.elapsed += row["epoch_seconds"]
        self.history.append(row)
        if trainer.is_global_zero:
            check_finite_weights(pl_module.model.state_dict())
            write_history(self.run_dir / "history.csv", self.history)
            log_epoch(trainer.loggers, row)
        self._save_checkpoint(trainer)
        if trainer.is_global_zero and self.on_epoch is not None:
            best = trainer.checkpoint_callback
            try:
                self.on_epoch(dict(row, best_value=best.best_value, best_epoch=best.best_epoch))
            except KeyboardInterrupt:
                raise RunInterrupted from None

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
