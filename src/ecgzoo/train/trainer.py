"""The Lightning Trainer a config asks for, and the quiet it runs in.

Impossible Trainer options become one-line :class:`~ecgzoo.errors.ConfigError` s; the progress
display is a bar on a terminal and plain lines in a log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from datetime import timedelta
from typing import Any

import torch

from ecgzoo.config import TrainConfig
from ecgzoo.errors import ConfigError
from ecgzoo.train.callbacks import RunRecorder
from ecgzoo.train.progress import ProgressLines


def accelerator_of(tc: TrainConfig) -> str:
    """``train.accelerator``, honouring the older ``train.device`` when it is left on auto."""
    if tc.accelerator == "auto" and tc.device != "auto":
        return "gpu" if tc.device == "cuda" else "cpu"
    return tc.accelerator


def weight_averaging(tc: TrainConfig) -> Any:
    """Lightning's stochastic weight averaging for ``train.swa_epoch_start`` (1-based): the
    weights are averaged at the start of each epoch from there on, then (models with BatchNorm)
    one more pass without updates recomputes the normalisation statistics of the averaged
    weights; that pass is the run's last epoch, so ``monitor: epoch`` keeps the average."""
    from lightning.pytorch.callbacks import StochasticWeightAveraging

    start = tc.swa_epoch_start
    assert start is not None
    return StochasticWeightAveraging(
        swa_lrs=tc.swa_lr or tc.lr,
        swa_epoch_start=start if start < 1 else int(start),
        annealing_epochs=1,  # with swa_lr = lr (the default) the rate does not change
    )


def make_trainer(tc: TrainConfig, callbacks: list[Any], loggers: list[Any], progress: bool):
    """A Lightning Trainer for the config; impossible combinations are one-line ConfigErrors.

    ``progress``: a progress bar on a terminal, plain lines (:class:`ProgressLines`) otherwise.
    ``train.max_minutes`` is Lightning's ``max_time``, checked after every training step.
    """
    import lightning.pytorch as pl
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    accelerator = accelerator_of(tc)
    if tc.precision == "16-mixed" and (
        accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    ):
        raise ConfigError("train.precision: 16-mixed needs a GPU (use bf16-mixed or 32-true)")
    bar = progress and sys.stderr.isatty()
    if bar:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks = [*callbacks, RichProgressBar()]
    elif progress:
        recorder = next((c for c in callbacks if isinstance(c, RunRecorder)), None)
        callbacks = [*callbacks, ProgressLines(tc, recorder)]
    if tc.swa_epoch_start is not None:
        callbacks = [*callbacks, weight_averaging(tc)]
    budget = None if tc.max_minutes is None else timedelta(minutes=tc.max_minutes)
    try:
        return pl.Trainer(
            accelerator=accelerator,
            devices=tc.devices,
            strategy=tc.strategy,
            num_nodes=tc.num_nodes,
            precision=tc.precision,
            max_epochs=tc.epochs,
            max_time=budget,
            gradient_clip_val=tc.gradient_clip_val,
            gradient_clip_algorithm=tc.gradient_clip_algorithm,
            accumulate_grad_batches=tc.accumulate_grad_batches,
            callbacks=callbacks,
            logger=loggers or False,
            enable_checkpointing=True,  # callbacks.BestWeights; RunRecorder writes checkpoint.pt
            enable_model_summary=False,
            enable_progress_bar=bar,
            num_sanity_val_steps=0,
            use_distributed_sampler=False,  # EpochBatches shards the seeded order itself
            log_every_n_steps=1,
        )
    except (MisconfigurationException, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f"accelerator={accelerator}, devices={tc.devices}, strategy={tc.strategy}"
        raise ConfigError(f"train ({where}): {first}") from None


@contextlib.contextmanager
def quiet_lightning():
    """Keep Lightning's banners and data-loader hints off the console during a run."""
    names = ("lightning.pytorch", "lightning.fabric", "lightning")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*(LitLogger|litlogger|Tip:).*")
        warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")  # Lightning vs torch
        # the run folder holds config.yaml etc. beside the best weights, by design
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
