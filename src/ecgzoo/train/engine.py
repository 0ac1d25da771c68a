"""The training engine, on PyTorch Lightning: one entry point, :func:`train_run`.

It wraps the zoo model in :class:`~ecgzoo.train.module.ZooModule`, feeds it from
:class:`~ecgzoo.train.datamodule.ArrayDataModule`, keeps the best weights and stops early
through Lightning's own ``ModelCheckpoint``/``EarlyStopping``/``Timer`` (see
:mod:`ecgzoo.train.callbacks`), and lets :class:`~ecgzoo.train.callbacks.RunRecorder` write the
run folder epoch by epoch; the final
scoring and plots are :func:`ecgzoo.train.final_scoring.score_run`. The Trainer options
(``train.accelerator/devices/strategy/num_nodes/precision``, gradient clipping and
accumulation) come from the config, so the same code trains on a CPU, a GPU, several GPUs or
several machines. Each epoch draws its shuffling, augmentation and dropout randomness from
``(seed, epoch)``, so a run interrupted and resumed from ``checkpoint.pt`` ends exactly where an
uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ecgzoo.config import ExperimentConfig, TrainConfig, dump_config
from ecgzoo.datasets.arrays import PreparedData
from ecgzoo.datasets.input_specs import saved_input
from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.models.registry import build_model, count_parameters, model_class, rate_params
from ecgzoo.runs.environment import environment
from ecgzoo.runs.runfolder import (
    ModelSpec,
    load_checkpoint,
    load_weights,
    save_weights,
    write_json,
    write_run_config,
    write_spec,
)
from ecgzoo.runs.runlock import RunLock, fresh_staging_dir, staging_dir, swap_in
from ecgzoo.train.callbacks import (
    EpochCallback,
    InterruptCheck,
    RunInterrupted,
    RunRecorder,
    finite_state,
    guarded_write,
    partial_epoch,
    stop_reason,
    stopping_callbacks,
)
from ecgzoo.train.confusion_callback import ConfusionOnImprovement
from ecgzoo.train.heap import ScoringHeap, enter_scoring, leave_scoring
from ecgzoo.train.progress import choose_data_threads, choose_threads
from ecgzoo.train.trainer import make_trainer, quiet_lightning
from ecgzoo.train.voting import check_crops_fit

__all__ = ["RunResult", "train_run", "run_dir_for", "initialise_from"]


@dataclass
class RunResult:
    """What a run produced. ``primary`` is False in the extra processes of a data-parallel run,
    which write nothing and return no metrics."""

    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    primary: bool = field(default=True)


def run_dir_for(config: ExperimentConfig) -> Path:
    return Path(config.output_dir) / config.name


def initialise_from(model: nn.Module, source: str) -> tuple[int, int]:
    """Copy the tensors of a trained run whose names and shapes match ``model``'s.

    Returns ``(copied, total)`` parameter-tensor counts. Used for transfer between datasets:
    an encoder trained on MIT-BIH beats, fine-tuned on CinC 2017 recordings.
    """
    from ecgzoo.runs.runfolder import resolve_run

    weights = load_weights(resolve_run(source) / "model.safetensors")
    own = model.state_dict()
    matched = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ConfigError(
            f"train.init_from: no tensor of {source} fits model {type(model).__name__}"
        )
    model.load_state_dict(matched, strict=False)
    return len(matched), len(own)


@contextlib.contextmanager
def interrupts_as_errors(requested: threading.Event | None = None):
    """Turn Ctrl-C into :class:`RunInterrupted` while Lightning runs.

    Lightning answers a KeyboardInterrupt by ignoring SIGINT for good and calling ``sys.exit``;
    an ordinary exception passes through it, and the engine turns it back into KeyboardInterrupt.
    ``requested`` (an :class:`InterruptCheck`'s flag) is set too, so a raise that Python
    swallows (inside a finaliser) still ends the run at the next batch.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if requested is not None:
            requested.set()
        raise RunInterrupted

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def prepare_folder(run_dir: Path, work_dir: Path, resolved: str, overwrite: bool) -> Path | None:
    """Check the run folder (global-zero process, lock held); the checkpoint to resume, if any."""
    if overwrite:
        fresh_staging_dir(run_dir)
        return None
    if (run_dir / "metrics.json").is_file():
        raise EcgzooError(f"{run_dir}: already holds a finished run (choose another name=...)")
    ckpt = run_dir / "checkpoint.pt"
    if not ckpt.is_file():
        work_dir.mkdir(parents=True, exist_ok=True)
        return None
    saved = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").is_file() else ""
    if saved != resolved:
        raise EcgzooError(
            f"{run_dir}: holds an unfinished run with a different config "
            "(choose another name=... to start a new run)"
        )
    load_checkpoint(ckpt)  # refuses anything but tensors and plain containers
    return ckpt


def model_spec(config: ExperimentConfig, data: PreparedData) -> ModelSpec:
    """The shape, classes and feature scaling a trained model needs (``model.json``)."""
    feature_mean = feature_std = None
    if data.n_features:
        feats = np.asarray(data.train.features, dtype=np.float64)
        feature_mean, feature_std = feats.mean(axis=0), feats.std(axis=0) + 1e-6
    spec = ModelSpec(
        name=config.model.name,
        params=rate_params(  # the data states the rate; a model that reads one gets it
            config.model.name, config.model.params, data.meta.get("signal_fs", data.sampling_rate)
        ),
        n_leads=data.n_leads,
        n_samples=data.n_samples,
        n_classes=len(data.class_names),
        n_features=data.n_features,
        class_names=list(data.class_names),
        sampling_rate=float(data.sampling_rate),
        feature_mean=[] if feature_mean is None else feature_mean.tolist(),
        feature_std=[] if feature_std is None else feature_std.tolist(),
        crop_samples=data.meta.get("random_crop_samples"),
        multilabel=bool(data.meta.get("multilabel")),
        side_features=data.meta.get("side_features") if data.n_features else None,
    )
    spec.input = saved_input(config.data, spec)  # what the model eats, for every later use
    return spec


def make_datamodule(tc: TrainConfig, data: PreparedData, spec: ModelSpec):
    """The DataModule over the prepared splits (indexed per batch: they may be memory-mapped)."""
    from ecgzoo.train.datamodule import (
        EVAL_CROPS,
        ArrayDataModule,
        SplitBatches,
        epoch_seed,
        record_balance_weights,
    )
    from ecgzoo.train.evaluate import standardise_features

    n_train = len(data.train)
    sample_weights = None
    if tc.balanced_sampling:
        y = np.asarray(data.train.y)
        counts = np.bincount(y, minlength=spec.n_classes).astype(np.float64)
        sample_weights = torch.from_numpy(1.0 / np.maximum(counts, 1)[y])
    if tc.record_balance_power > 0:
        by_record = record_balance_weights(
            np.asarray(data.train.y), np.asarray(data.train.groups), tc.record_balance_power
        )
        sample_weights = by_record if sample_weights is None else sample_weights * by_record
    lengths = None
    if spec.crop_samples:
        given = data.meta.get("lengths", {}).get("train")
        lengths = torch.as_tensor(given if given is not None else [data.n_samples] * n_train)
    train = SplitBatches(
        data.train,
        standardise_features(data.train.features, spec),
        spec.crop_samples,
        lengths,
        tc.augment,
        tc.shift_samples,
        noise_seed=epoch_seed(tc.seed, 0) if tc.augment_noise == "bank" else None,
    )
    val = SplitBatches(data.val, standardise_features(data.val.features, spec), spec.crop_samples)
    eval_batch = min(2048, 8 * tc.batch_size)
    if spec.crop_samples and data.n_samples > spec.crop_samples:
        # validation votes over EVAL_CROPS crops an ECG: count the crops the model sees at once
        # (a 512-ECG batch was 2,560 crops, 2.2x the memory of the 232-ECG split at 1x)
        eval_batch = max(1, eval_batch // EVAL_CROPS)
    return ArrayDataModule(
        train,
        val,
        batch_size=tc.batch_size,
        eval_batch_size=eval_batch,
        seed=tc.seed,
        sample_weights=sample_weights,
        max_steps=tc.max_steps_per_epoch,
        num_workers=tc.data_workers,
        data_threads=choose_data_threads(tc),
        pin_memory=tc.pin_memory,
        persistent_workers=tc.data_workers > 0,
    )


def train_run(
    config: ExperimentConfig,
    run_dir: Path | None = None,
    *,
    data: PreparedData | None = None,
    on_epoch: EpochCallback | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> RunResult:
    """Train the model a config describes and write its run folder.

    A run folder holding an unfinished run with the same config resumes from its last
    checkpoint; a finished one is refused unless ``overwrite``, which trains in a folder aside
    and replaces the old run only when the new one is complete. One process at a time may write
    a run folder (a second one gets an error).
    """
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.train.final_scoring import final_numbers, train_loss_rows
    from ecgzoo.train.loggers import finish_loggers, flat_params, make_loggers
    from ecgzoo.train.module import ZooModule
    from ecgzoo.train.tasks import class_weights_of, make_task

    if config.model.name == "lightgbm":  # tree models: their own trainer (issue 12)
        from ecgzoo.train.trees import train_trees

        return train_trees(config, run_dir, overwrite=overwrite)  # type: ignore[return-value]
    tc = config.train
    model_class(config.model.name)  # an unknown model fails before any folder exists
    run_dir = Path(run_dir) if run_dir is not None else run_dir_for(config)
    work_dir = staging_dir(run_dir) if overwrite else run_dir
    resolved = dump_config(config)
    threads, threads_from = choose_threads(tc)
    torch.set_num_threads(threads)

    recorder = RunRecorder(work_dir, tc, on_epoch)
    confusion = ConfusionOnImprovement(work_dir, tc)  # logs a matrix at each new best
    interrupt = InterruptCheck()
    with quiet_lightning():
        loggers = make_loggers(config, work_dir)
        trainer = make_trainer(
            tc,
            [recorder, confusion, ScoringHeap(), interrupt, *stopping_callbacks(work_dir, tc)],
            loggers,
            progress,
        )
    primary = trainer.global_rank == 0
    if progress and primary:
        print(f"training with {threads} torch thread(s): {threads_from}", flush=True)
    lock = RunLock(run_dir).acquire() if primary else None
    try:
        if primary:
            ckpt = prepare_folder(run_dir, work_dir, resolved, overwrite)
        else:  # launched by the global-zero process, which has prepared the folder
            found = work_dir / "checkpoint.pt"
            ckpt = found if found.is_file() else None

        data = data if data is not None else load_data(config.data)
        if len(data.train) == 0 or len(data.val) == 0:
            raise EcgzooError("the training or validation split is empty: check data.* options")
        spec = model_spec(config, data)
        torch.manual_seed(tc.seed)
        model = build_model(
            spec.name, spec.n_leads, spec.n_samples, spec.n_classes, spec.n_features, **spec.params
        )
        check_crops_fit(model, spec)
        transferred = None
        if tc.init_from and ckpt is None:
            copied, total = initialise_from(model, tc.init_from)
            transferred = f"{copied}/{total}"
            if progress and primary:
                print(f"initialised {copied} of {total} tensors from {tc.init_from}")
        weight_y = data.train.y if data.weight_y is None else data.weight_y
        task = make_task(tc, np.asarray(weight_y), spec.class_names)
        module = ZooModule(model, task, tc)
        module.val_y = np.asarray(data.val.y)
        if tc.curve_train_examples:
            rows = train_loss_rows(len(data.train), tc.curve_train_examples)
            module.curve_split = (data.train, spec, rows)  # never gathered whole
        if primary:
            write_run_config(work_dir, config)
            write_spec(work_dir, spec)
            for logger in loggers:
                logger.log_hyperparams(flat_params(config.model_dump(mode="json")))

        if tc.epochs > 0:
            with quiet_lightning(), interrupts_as_errors(interrupt.requested):
                trainer.fit(
                    module,
                    datamodule=make_datamodule(tc, data, spec),
                    ckpt_path=ckpt,
                    weights_only=True,
                )
        if not primary:
            return RunResult(run_dir, {}, recorder.history, primary=False)

        metrics = finish(model, spec, data, work_dir, recorder, trainer)
        best = trainer.checkpoint_callback
        reason = stop_reason(trainer, tc, len(recorder.history)) if tc.epochs > 0 else None
        metrics.update(
            {
                "model": spec.name,
                "n_parameters": count_parameters(model),
                "best_epoch": best.best_epoch,
                "best_" + tc.monitor: best.best_value,
                "epochs_run": len(recorder.history),
                "epochs_planned": tc.epochs,
                "stopped_early": reason is not None,
                "stop_reason": reason,
                "last_epoch_partial": tc.epochs > 0 and partial_epoch(trainer),
                "train_seconds": recorder.elapsed,
                "num_threads": threads,
                "device": metrics.pop("device"),
                "devices": trainer.world_size,
                "precision": tc.precision,
                "init_from": tc.init_from,
                "tensors_transferred": transferred,
                "class_weights": class_weights_of(task),
                "environment": environment(),
            }
        )
        target = work_dir / "metrics.json"
        guarded_write(target, lambda: write_json(target, metrics))
        for logger in loggers:
            logger.log_metrics(final_numbers(metrics), step=len(recorder.history) + 1)
        finish_loggers(loggers)
        if overwrite:
            swap_in(work_dir, run_dir)
        return RunResult(run_dir, metrics, recorder.history)
    except RunInterrupted:
        raise KeyboardInterrupt from None
    finally:
        if lock is not None:
            lock.release()


def finish(
    model: nn.Module,
    spec: ModelSpec,
    data: PreparedData,
    work_dir: Path,
    recorder: RunRecorder,
    trainer: Any,
) -> dict[str, Any]:
    """Load the best weights (the current ones when no epoch improved) and score them."""
    from ecgzoo.train.final_scoring import score_run

    weights = work_dir / "model.safetensors"
    if not weights.is_file():  # zero epochs, or no epoch with a finite monitored value
        state = model.state_dict()
        if not finite_state(state):
            raise EcgzooError("train: the weights are non-finite (the run diverged); not saved")
        guarded_write(weights, lambda: save_weights(weights, state))
    device = trainer.strategy.root_device
    model.load_state_dict(load_weights(weights))
    model.to(device)
    enter_scoring()  # owned memory set by the scoring chunk, not the splits (train/heap.py)
    try:
        metrics = score_run(
            model,
            spec,
            data,
            work_dir,
            recorder.history,
            device,
            train_examples=recorder.tc.train_loss_examples,
            monitor=(recorder.tc.monitor, recorder.tc.monitor_mode),
        )
    except OSError as exc:  # the plots: a full disk is one line, not a traceback
        raise EcgzooError(f"{work_dir}: could not write the plots ({exc.strerror})") from None
    finally:
        leave_scoring()
    metrics["device"] = str(device)
    return metrics
