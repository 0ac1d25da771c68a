"""The LightningModule: any zoo model, trained on a task (loss, probabilities, epoch metrics)."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn as nn

from ecgzoo.config import TrainConfig
from ecgzoo.datasets.arrays import ArraySplit
from ecgzoo.errors import EcgzooError
from ecgzoo.examples.augment import mixed_loss, mixup, time_warp, window_warp
from ecgzoo.metrics.names import PLAIN_TRAIN_LOSS
from ecgzoo.runs.runfolder import ModelSpec
from ecgzoo.train.tasks import Task


def make_optimizer(
    params: list[nn.Parameter], name: str, lr: float, weight_decay: float, momentum: float
) -> torch.optim.Optimizer:
    """``train.optimizer``: Adam (the studies' default), AdamW, RMSprop or SGD (Nesterov-free,
    with ``train.momentum``; RMSprop takes it too). ``weight_decay`` is L2 for all but AdamW."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, momentum=momentum)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum)
    raise EcgzooError(f"train.optimizer: unknown optimizer {name!r} (adam, adamw, rmsprop, sgd)")


class NonFiniteLossError(EcgzooError):
    """The training loss became NaN or infinite: the run diverged."""


class ZooModule(pl.LightningModule):
    """Wraps ``model`` (called as ``model(x, features)``) for Lightning.

    Training sums the loss per example (``train_loss`` of the epoch, reduced over processes);
    validation collects probabilities, gathers them from every process and scores them with the
    task into ``self.val_row``. The learning-rate schedule, checkpoints and stopping live in
    :mod:`ecgzoo.train.callbacks`.
    """

    def __init__(self, model: nn.Module, task: Task, tc: TrainConfig):
        super().__init__()
        self.model = model
        self.task = task
        self.loss_fn = task.loss  # a submodule: its class weights follow the device
        self.lr, self.weight_decay = tc.lr, tc.weight_decay
        self.optimizer_name, self.momentum = tc.optimizer, tc.momentum
        self.warps, self.mixup_alpha = (tc.time_warp, tc.window_warp), tc.mixup_alpha
        self.val_row: dict[str, float] = {}
        self._loss_sum = self._seen = None
        self._probs: list[torch.Tensor] = []
        self._index: list[torch.Tensor] = []
        self.val_y: np.ndarray | None = None
        self.val_prob: np.ndarray | None = None
        # (training split, its spec, the fixed rows of it or None for all): scored each epoch
        # with the plain validation loss, a chunk at a time from the (memory-mapped) split
        self.curve_split: tuple[ArraySplit, ModelSpec, np.ndarray | None] | None = None

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(x, features)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return make_optimizer(
            params, self.optimizer_name, self.lr, self.weight_decay, self.momentum
        )

    # -- training ----------------------------------------------------------------------------

    def on_train_epoch_start(self) -> None:
        self._loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        self._seen = 0

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y, f, _ = batch
        # warps and mixup draw from torch's generator, seeded per (seed, epoch) by the engine
        x = window_warp(time_warp(x, self.warps[0]), self.warps[1])
        if self.mixup_alpha > 0:
            x, f, perm, lam = mixup(x, self.mixup_alpha, f)
            loss = mixed_loss(self.loss_fn, self.model(x, f), y, perm, lam)
        else:
            loss = self.loss_fn(self.model(x, f), y)
        if not torch.isfinite(loss):
            # stop before the optimizer writes NaN into the weights
            raise NonFiniteLossError(
                f"train: the loss became {loss.item()} at epoch {self.current_epoch + 1}, "
                f"step {batch_idx + 1}: the run diverged (lower train.lr, set "
                "train.gradient_clip_val, or check the data); no weights of this epoch were saved"
            )
        self._loss_sum += loss.detach().double() * len(y)
        self._seen += len(y)
        return loss

    def epoch_train_loss(self) -> tuple[float, int]:
        """``(mean training loss, examples seen)`` of the epoch, over every process."""
        seen = torch.tensor(float(self._seen), dtype=torch.float64, device=self.device)
        total = torch.stack([self._loss_sum, seen])
        total = self.trainer.strategy.reduce(total, reduce_op="sum")
        loss, seen = float(total[0]), int(total[1])
        return loss / max(seen, 1), seen

    # -- validation --------------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        self._probs, self._index = [], []

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y, f, index, *vote = batch
        prob = self.task.probabilities(self.model(x, f))
        if vote:  # crop voting: each example's crops, weighted by their share of the votes
            owner, weight = vote[0]
            summed = prob.new_zeros(len(y), prob.shape[-1])
            prob = summed.index_add_(0, owner, prob * weight[:, None].to(prob.dtype))
        elif len(prob) != len(y):  # several crops per example: average them
            prob = prob.reshape(len(y), -1, prob.shape[-1]).mean(dim=1)
        self._probs.append(prob)
        self._index.append(index)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        n_classes = len(self.task.class_names)
        prob = torch.cat(self._probs) if self._probs else torch.zeros(0, n_classes)
        index = torch.cat(self._index) if self._index else torch.zeros(0, dtype=torch.long)
        prob, index = self._gather(prob.to(self.device), index.to(self.device))
        order = torch.argsort(index)
        prob = prob[order].cpu().numpy()
        self.val_row = self.task.epoch_metrics(self.val_y, prob)
        self.val_prob = prob  # the epoch's predictions (the confusion-matrix callback's input)
        if self.curve_split is not None:
            self.val_row[PLAIN_TRAIN_LOSS] = self.plain_train_loss()
        # for Lightning's ModelCheckpoint and EarlyStopping (the loggers get the row elsewhere);
        # every process holds the same gathered row, so no sync
        logged = {k: float(v) for k, v in self.val_row.items() if isinstance(v, int | float)}
        if self._seen is not None:  # train_loss may be the monitored metric too
            logged["train_loss"] = self.epoch_train_loss()[0]
        logged["epoch"] = float(self.current_epoch + 1)  # train.monitor: epoch (fixed schedule)
        self.log_dict(logged, logger=False)
        self._probs, self._index = [], []

    def plain_train_loss(self) -> float:
        """The loss ``val_loss`` is (unweighted, eval mode, no augmentation), on the fixed
        training subset: the training curve that compares like with like with validation."""
        from ecgzoo.train.evaluate import cross_entropy, predict_split
        from ecgzoo.train.multilabel import binary_cross_entropy

        split, spec, rows = self.curve_split
        prob = predict_split(self.model, spec, split, self.device, rows=rows)
        score = binary_cross_entropy if spec.multilabel else cross_entropy
        return float(score(prob, np.asarray(split.y if rows is None else split.y[rows])))

    def _gather(self, prob: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every process's share of the validation split (shares differ by at most one)."""
        if self.trainer.world_size == 1:
            return prob, index
        size = self.all_gather(torch.tensor(len(index), device=self.device))
        longest = int(size.max())
        pad = longest - len(index)
        prob = torch.cat([prob, prob.new_zeros(pad, prob.shape[1])])
        index = torch.cat([index, index.new_full((pad,), -1)])
        prob = self.all_gather(prob).reshape(-1, prob.shape[1])
        index = self.all_gather(index).reshape(-1)
        keep = index >= 0
        return prob[keep], index[keep]
