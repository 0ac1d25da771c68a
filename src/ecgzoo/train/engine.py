"""The training engine: fit with validation every epoch, checkpoint on a metric, early stop, resume.

Each epoch draws its shuffling, augmentation and dropout randomness from a generator seeded by
``(seed, epoch)``, so a run interrupted and resumed from ``checkpoint.pt`` ends exactly where an
uninterrupted run would.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ecgzoo.config import ExperimentConfig, dump_config
from ecgzoo.data.arrays import PreparedData
from ecgzoo.errors import ConfigError, EcgzooError
from ecgzoo.models.registry import build_model, count_parameters
from ecgzoo.train.evaluate import (
    AAMI_CLASSES,
    cross_entropy,
    evaluate_split,
    predict_split,
    score_predictions,
    select_device,
    standardise_features,
)
from ecgzoo.train.losses import make_loss
from ecgzoo.train.runfolder import (
    ModelSpec,
    atomic_write_text,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
    write_json,
    write_run_config,
    write_spec,
)

EpochCallback = Callable[[dict[str, Any]], None]
TRAIN_LOSS_SUBSET = 20_000
VAL_KEYS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1")


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]


def run_dir_for(config: ExperimentConfig) -> Path:
    return Path(config.output_dir) / config.name


def augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random amplitude scaling, baseline shift and Gaussian noise, per example."""
    n = x.shape[0]
    shape = (n,) + (1,) * (x.dim() - 1)
    scale = 1.0 + 0.1 * torch.randn(shape, generator=gen)
    std = x.std(dim=-1, keepdim=True).clamp_min(1e-3)
    shift = 0.1 * torch.randn(shape, generator=gen) * std
    noise = 0.02 * torch.randn(x.shape, generator=gen) * std
    return x * scale + shift + noise


def random_crop_batch(
    x: torch.Tensor, crop: int, lengths: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """One random window of ``crop`` samples per example, inside its real (unpadded) part."""
    max_start = (lengths - crop).clamp_min(0)
    start = (torch.rand(len(x), generator=gen) * (max_start + 1).float()).long()
    index = (start[:, None] + torch.arange(crop)).clamp_max(x.shape[-1] - 1)
    return x.gather(-1, index[:, None, :].expand(-1, x.shape[1], -1))


def initialise_from(model: nn.Module, source: str) -> tuple[int, int]:
    """Copy the tensors of a trained run whose names and shapes match ``model``'s.

    Returns ``(copied, total)`` parameter-tensor counts. Used for transfer between datasets:
    an encoder trained on MIT-BIH beats, fine-tuned on CinC 2017 recordings.
    """
    from ecgzoo.train.runfolder import resolve_run

    weights = load_weights(resolve_run(source) / "model.safetensors")
    own = model.state_dict()
    matched = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ConfigError(
            f"train.init_from: no tensor of {source} fits model {type(model).__name__}"
        )
    model.load_state_dict(matched, strict=False)
    return len(matched), len(own)


def _epoch_order(n: int, gen: torch.Generator, sample_weights: torch.Tensor | None) -> torch.Tensor:
    if sample_weights is None:
        return torch.randperm(n, generator=gen)
    return torch.multinomial(sample_weights, n, replacement=True, generator=gen)


def _history_from_csv(path: Path, upto_epoch: int) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if int(row["epoch"]) <= upto_epoch:
                rows.append({k: (float(v) if k != "epoch" else int(v)) for k, v in row.items()})
    return rows


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0].keys()))
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buf.getvalue())


def _is_better(value: float, best: float, mode: str) -> bool:
    if math.isnan(value):
        return False
    return value > best if mode == "max" else value < best


class _Progress:
    """A rich progress bar over training steps, silent when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                transient=False,
            )
            self._progress.start()
        return self

    def task(self, description: str, total: int):
        if self._progress is None:
            return None
        return self._progress.add_task(description, total=total, info="")

    def advance(self, task, info: str = "") -> None:
        if self._progress is not None and task is not None:
            self._progress.update(task, advance=1, info=info)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()


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
    checkpoint; a finished one is refused unless ``overwrite``.
    """
    from ecgzoo.data.loading import load_data

    if config.model.name == "lightgbm":  # tree models: their own trainer (issue 12)
        from ecgzoo.train.trees import train_trees

        return train_trees(config, run_dir, overwrite=overwrite)  # type: ignore[return-value]
    tc = config.train
    run_dir = Path(run_dir) if run_dir is not None else run_dir_for(config)
    ckpt_path = run_dir / "checkpoint.pt"
    resolved = dump_config(config)
    if (run_dir / "metrics.json").is_file() and not overwrite:
        raise EcgzooError(f"{run_dir}: already holds a finished run (choose another name=...)")
    resume_state = None
    if ckpt_path.is_file() and not overwrite:
        saved = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").is_file() else ""
        if saved != resolved:
            raise EcgzooError(
                f"{run_dir}: holds an unfinished run with a different config "
                "(choose another name=... to start a new run)"
            )
        resume_state = load_checkpoint(ckpt_path)
    run_dir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for stale in ("checkpoint.pt", "metrics.json", "history.csv"):
            (run_dir / stale).unlink(missing_ok=True)

    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    device = select_device(tc.device)
    data = data if data is not None else load_data(config.data)
    n_classes = len(data.class_names)
    if len(data.train) == 0 or len(data.val) == 0:
        raise EcgzooError("the training or validation split is empty: check data.* options")

    feature_mean = feature_std = None
    if data.n_features:
        feature_mean = data.train.features.mean(axis=0)
        feature_std = data.train.features.std(axis=0) + 1e-6
    spec = ModelSpec(
        name=config.model.name,
        params=dict(config.model.params),
        n_leads=data.n_leads,
        n_samples=data.n_samples,
        n_classes=n_classes,
        n_features=data.n_features,
        class_names=list(data.class_names),
        sampling_rate=float(data.sampling_rate),
        feature_mean=[] if feature_mean is None else feature_mean.tolist(),
        feature_std=[] if feature_std is None else feature_std.tolist(),
        crop_samples=data.meta.get("random_crop_samples"),
    )

    torch.manual_seed(tc.seed)
    model = build_model(
        spec.name, spec.n_leads, spec.n_samples, n_classes, spec.n_features, **spec.params
    ).to(device)
    transferred = None
    if tc.init_from and resume_state is None:
        copied, total = initialise_from(model, tc.init_from)
        transferred = f"{copied}/{total}"
        if progress:
            print(f"initialised {copied} of {total} tensors from {tc.init_from}")
    loss_fn = make_loss(tc.loss, data.train.y, n_classes, tc.focal_gamma, tc.class_weight_power).to(
        device
    )
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=tc.lr, weight_decay=tc.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=tc.monitor_mode, factor=tc.lr_factor, patience=tc.lr_patience
    )

    write_run_config(run_dir, config)
    write_spec(run_dir, spec)

    start_epoch, best_value, best_epoch, bad_epochs, elapsed = 1, None, 0, 0, 0.0
    history: list[dict[str, Any]] = []
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        start_epoch = int(resume_state["epoch"]) + 1
        best_value = float(resume_state["best_value"])
        best_epoch = int(resume_state["best_epoch"])
        bad_epochs = int(resume_state["bad_epochs"])
        elapsed = float(resume_state["elapsed"])
        history = _history_from_csv(run_dir / "history.csv", start_epoch - 1)
    if best_value is None:
        best_value = -math.inf if tc.monitor_mode == "max" else math.inf

    x_train = torch.from_numpy(np.ascontiguousarray(data.train.x))
    y_train = torch.from_numpy(data.train.y.astype(np.int64))
    f_train = standardise_features(data.train.features, spec)
    sample_weights = None
    if tc.balanced_sampling:
        counts = np.bincount(data.train.y, minlength=n_classes).astype(np.float64)
        sample_weights = torch.from_numpy(1.0 / np.maximum(counts, 1)[data.train.y])
    n_train = len(y_train)
    crop = spec.crop_samples
    if crop:
        lengths = data.meta.get("lengths", {}).get("train")
        train_lengths = torch.as_tensor(
            lengths if lengths is not None else [x_train.shape[-1]] * n_train
        )
    steps = math.ceil(n_train / tc.batch_size)
    if tc.max_steps_per_epoch:
        steps = min(steps, tc.max_steps_per_epoch)

    stopped_early = start_epoch > tc.epochs or bad_epochs >= tc.early_stopping_patience
    with _Progress(progress) as bar:
        for epoch in range(start_epoch, tc.epochs + 1):
            if bad_epochs >= tc.early_stopping_patience:
                stopped_early = True
                break
            if tc.max_minutes is not None and elapsed >= tc.max_minutes * 60:
                stopped_early = True
                break
            t0 = time.perf_counter()
            gen = torch.Generator().manual_seed(tc.seed * 100_003 + epoch)
            torch.manual_seed(tc.seed * 100_003 + epoch)
            order = _epoch_order(n_train, gen, sample_weights)
            model.train()
            total, seen = 0.0, 0
            task = bar.task(f"epoch {epoch}/{tc.epochs}", steps)
            for step in range(steps):
                idx = order[step * tc.batch_size : (step + 1) * tc.batch_size]
                xb = x_train[idx]
                if crop:
                    xb = random_crop_batch(xb, crop, train_lengths[idx], gen)
                if tc.augment:
                    xb = augment_batch(xb, gen)
                xb = xb.to(device, non_blocking=True)
                yb = y_train[idx].to(device)
                fb = None if f_train is None else f_train[idx].to(device)
                loss = loss_fn(model(xb, fb), yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
                seen += len(idx)
                bar.advance(task, f"loss {total / seen:.4f}")
            train_seconds = time.perf_counter() - t0
            prob = predict_split(model, spec, data.val, device)
            val = score_predictions(data.val.y, prob, spec.class_names)
            row: dict[str, Any] = {
                "epoch": epoch,
                "train_loss": total / max(seen, 1),
                "val_loss": val["loss"],
            }
            row.update({f"val_{k}": float(val[k]) for k in VAL_KEYS})
            for cls, stats in val["per_class"].items():
                key = "noisy" if cls == "~" else cls
                row[f"val_f1_{key}"] = float(stats["f1"])
            if spec.class_names == AAMI_CLASSES:  # the inter-patient figure of merit
                row["val_sv_f1"] = (row["val_f1_S"] + row["val_f1_V"]) / 2
            if "challenge" in val:
                row["val_challenge_f1"] = float(val["challenge"]["challenge_f1"])
            row["lr"] = optimizer.param_groups[0]["lr"]
            row["train_samples_per_s"] = seen / max(train_seconds, 1e-9)
            row["epoch_seconds"] = time.perf_counter() - t0
            if tc.monitor not in row:
                raise ConfigError(
                    f"train.monitor: {tc.monitor!r} is not a logged metric "
                    f"(choose from {', '.join(k for k in row if k != 'epoch')})"
                )
            value = float(row[tc.monitor])
            scheduler.step(value)
            elapsed += row["epoch_seconds"]
            history.append(row)
            if _is_better(value, best_value, tc.monitor_mode):
                best_value, best_epoch, bad_epochs = value, epoch, 0
                save_weights(run_dir / "model.safetensors", model.state_dict())
            else:
                bad_epochs += 1
            _write_history(run_dir / "history.csv", history)
            save_checkpoint(
                ckpt_path,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch,
                    "best_value": best_value,
                    "best_epoch": best_epoch,
                    "bad_epochs": bad_epochs,
                    "elapsed": elapsed,
                },
            )
            if on_epoch is not None:
                on_epoch(dict(row, best_value=best_value, best_epoch=best_epoch))

    if not (run_dir / "model.safetensors").is_file():  # zero epochs: keep the initial weights
        save_weights(run_dir / "model.safetensors", model.state_dict())
    model.load_state_dict(load_weights(run_dir / "model.safetensors"))
    metrics = finish_run(model, spec, data, run_dir, device, history)
    metrics.update(
        {
            "model": spec.name,
            "n_parameters": count_parameters(model),
            "best_epoch": best_epoch,
            "best_" + tc.monitor: None if not history else best_value,
            "epochs_run": len(history),
            "stopped_early": stopped_early,
            "train_seconds": elapsed,
            "device": str(device),
            "init_from": tc.init_from,
            "tensors_transferred": transferred,
        }
    )
    write_json(run_dir / "metrics.json", metrics)
    return RunResult(run_dir, metrics, history)


def finish_run(
    model: nn.Module,
    spec: ModelSpec,
    data: PreparedData,
    run_dir: Path,
    device: torch.device,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """Score the best weights on val and test, measure the overfitting gap, draw the plots."""
    from ecgzoo.report import plots

    test, test_prob = evaluate_split(model, spec, data.test, device)
    val, _ = evaluate_split(model, spec, data.val, device)
    # The final train loss (the overfitting gap) is measured on at most 20,000 training examples:
    # a seeded random subset keeps it cheap for large sets and for every search trial.
    train = data.train
    if len(train) > TRAIN_LOSS_SUBSET:
        pick = np.random.default_rng(0).choice(len(train), TRAIN_LOSS_SUBSET, replace=False)
        train = train.subset(np.sort(pick))
    train_prob = predict_split(model, spec, train, device)
    train_loss = cross_entropy(train_prob, train.y)
    if history:
        plots.plot_learning_curves(history, run_dir / "learning_curves.png")
    plots.plot_confusion_matrix(
        np.asarray(test["confusion_matrix"]), spec.class_names, run_dir / "confusion_matrix.png"
    )
    plots.plot_roc_curves(data.test.y, test_prob, spec.class_names, run_dir / "roc_curves.png")
    return {
        "test": test,
        "val": val,
        "final_train_loss": train_loss,
        "test_loss": test["loss"],
        "overfit_gap": test["loss"] - train_loss,
    }
