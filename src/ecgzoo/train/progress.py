"""What a training run tells the person running it: threads and progress lines.

A terminal gets Lightning's progress bar; a log (stdout not a terminal) gets one plain line per
tenth of an epoch and one per finished epoch, so a run under ``nohup`` or CI is not silent for
minutes. The thread policy lives here because oversubscribing a busy machine is the commonest
reason a run is slow: on a 2-core box with other jobs running, two intra-op threads trained the
demo model 13-18x slower than one (issue 22).
"""

from __future__ import annotations

import os
import time
from typing import Any

import lightning.pytorch as pl
import torch

from ecgzoo.config import TrainConfig

LINES_PER_EPOCH = 10


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def machine_load() -> float:
    """The 1-minute load average (0 where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def free_cores() -> int:
    """Usable cores minus the machine's 1-minute load (at least 1): what we can have alone."""
    cores = usable_cores()
    return max(1, min(cores, int(cores - machine_load() + 0.5)))


def choose_threads(tc: TrainConfig) -> tuple[int, str]:
    """The intra-op thread count to train with, and where it came from.

    ``train.num_threads`` wins; then ``OMP_NUM_THREADS`` (torch already read it); otherwise one
    thread per free core, so a loaded machine is not oversubscribed.
    """
    if tc.num_threads:
        return tc.num_threads, "train.num_threads"
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads(), "OMP_NUM_THREADS"
    return free_cores(), f"free cores ({usable_cores()} usable, load {machine_load():.1f})"


def choose_data_threads(tc: TrainConfig) -> int:
    """Threads that build training batches ahead (``train.data_threads``; 0: none).

    By default the free cores the model leaves (at most 2), so the data path only runs beside
    the model where a core would otherwise idle: on a CPU those the torch threads leave, on a
    GPU all but the main thread's; none with worker processes."""
    if tc.data_workers > 0:
        return 0
    if tc.data_threads is not None:
        return tc.data_threads
    gpu = tc.accelerator in ("gpu", "cuda") or tc.device == "cuda"
    gpu = gpu or (tc.accelerator == tc.device == "auto" and torch.cuda.is_available())
    return min(2, max(0, free_cores() - (1 if gpu else torch.get_num_threads())))


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class ProgressLines(pl.Callback):
    """Plain progress lines for logs: every tenth of an epoch, and each finished epoch."""

    def __init__(self, tc: TrainConfig, recorder: Any = None):
        self.tc = tc
        self.recorder = recorder  # RunRecorder: the epoch line reads its last history row
        self._t_fit = self._t_epoch = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._t_fit = time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        self._t_epoch = time.perf_counter()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        total, step = trainer.num_training_batches, batch_idx + 1
        if not isinstance(total, int) or not trainer.is_global_zero:
            return
        every = max(1, total // LINES_PER_EPOCH)
        if step % every or step == total:
            return
        seen = max(int(pl_module._seen or 0), 1)
        loss = float(pl_module._loss_sum) / seen
        rate = seen / max(time.perf_counter() - self._t_epoch, 1e-9)
        print(
            f"{self.label(trainer.current_epoch + 1)}  step {step}/{total}  "
            f"loss {loss:.4f}  {rate:,.0f} samples/s  {clock(time.perf_counter() - self._t_fit)}",
            flush=True,
        )

    def label(self, epoch: int) -> str:
        """``epoch 3/8``; the pass weight averaging adds after the last epoch says what it is."""
        if epoch > self.tc.epochs:
            return "BatchNorm statistics of the averaged weights (no updates)"
        return f"epoch {epoch}/{self.tc.epochs}"

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if not trainer.is_global_zero or self.recorder is None or not self.recorder.history:
            return
        row, monitor = self.recorder.history[-1], self.tc.monitor
        best = trainer.checkpoint_callback
        best_value = getattr(best, "best_value", None)
        best_note = "" if best_value is None else f" (best {best_value:.4f})"
        print(
            f"{self.label(int(row['epoch']))} done in {row['epoch_seconds']:.0f} s: "
            f"train_loss {row['train_loss']:.4f}  {monitor} {row[monitor]:.4f}{best_note}",
            flush=True,
        )
