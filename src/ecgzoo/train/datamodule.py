"""Batches from the prepared arrays for the Lightning engine.

The arrays may be memory-mapped, so every batch is gathered with one fancy index (indices sorted,
so a cold memory map is read in file order) and no split is ever copied whole; a random crop is
cut while gathering (only the crop's samples are read). Each epoch draws its order from a
generator seeded by ``(seed, epoch)``, and each batch its crops and augmentation from its own
generator seeded by ``(seed, epoch, batch)``: an interrupted run resumed at epoch ``k`` sees
exactly the batches an uninterrupted one would, and batches can be built by worker processes
(``num_workers``, with ``pin_memory``, ``prefetch_factor``, ``persistent_workers`` for a GPU) in
any order with the same result. Under data-parallel training every process computes the same
order and takes every ``world_size``-th batch, so the processes run the same number of steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ecgzoo.datasets.arrays import ArraySplit
from ecgzoo.train.crops import gather_crops
from ecgzoo.train.evaluate import real_lengths
from ecgzoo.train.noise_bank import NoiseBank, augment_with_bank
from ecgzoo.train.prefetch import PrefetchBatches, Prefetched
from ecgzoo.train.voting import distinct_crops

EVAL_CROPS = 5  # as ecgzoo.train.evaluate.predict_split votes


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch`` (1-based) of a run seeded ``seed``."""
    return seed * 100_003 + epoch


def augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random amplitude scaling, baseline shift and Gaussian noise, per example.

    ``x * scale + shift + 0.02 * std * noise`` with the same draws, in the same order, as ever
    (same batches for a seed, to float rounding), but about 2.7x faster on a CPU: the standard
    deviation in two passes (torch's ``std`` is a slow Welford loop, 40 of 77 ms for a 64 x 12
    x 5000 batch) and the sum built in place in the noise tensor (no temporaries). The noise draw
    itself (one per sample, ~17 ms for that batch) is what is left."""
    n = x.shape[0]
    shape = (n,) + (1,) * (x.dim() - 1)
    dev = x.device  # the generator's device: the CPU, or the GPU (see on_after_batch_transfer)
    scale = 1.0 + 0.1 * torch.randn(shape, generator=gen, device=dev)
    centred = x - x.mean(dim=-1, keepdim=True)
    norm = torch.linalg.vector_norm(centred, dim=-1, keepdim=True)
    del centred
    std = (norm / math.sqrt(max(x.shape[-1] - 1, 1))).clamp_min(1e-3)
    shift = 0.1 * torch.randn(shape, generator=gen, device=dev) * std
    noise = torch.randn(x.shape, generator=gen, device=dev)
    return noise.mul_(0.02 * std).addcmul_(x, scale).add_(shift)


def crop_starts(lengths: torch.Tensor, crop: int, gen: torch.Generator) -> torch.Tensor:
    """One random start per example, its window inside the real (unpadded) part."""
    max_start = (lengths - crop).clamp_min(0)
    return (torch.rand(len(lengths), generator=gen) * (max_start + 1).float()).long()


def shift_batch(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Each example's window moved by a random whole number of samples in ``[-max_shift,
    max_shift]`` (``out[t] = x[t + s]``, the edge samples repeated): the same beat cut around
    a fiducial up to ``max_shift`` samples off (``examples.fiducial``; ``train.shift_samples``)."""
    if max_shift <= 0:
        return x
    n, length = x.shape[0], x.shape[-1]
    s = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen)
    index = (torch.arange(length)[None, :] + s[:, None]).clamp(0, length - 1)
    return x.gather(-1, index[:, None, :].expand(-1, x.shape[1], -1))


def random_crop_batch(
    x: torch.Tensor, crop: int, lengths: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """One random window of ``crop`` samples per example, inside its real (unpadded) part."""
    start = crop_starts(lengths, crop, gen)
    index = (start[:, None] + torch.arange(crop)).clamp_max(x.shape[-1] - 1)
    return x.gather(-1, index[:, None, :].expand(-1, x.shape[1], -1))


@dataclass
class BatchRequest:
    """The examples of one batch and the epoch generator its crops and augmentation draw from."""

    index: np.ndarray
    gen: torch.Generator | None = None


def keep_batch(batch: Any) -> Any:
    """Collate function for ready-made batches (module level, so it pickles for ddp_spawn)."""
    return batch


def record_balance_weights(y: np.ndarray, groups: np.ndarray, power: float) -> torch.Tensor:
    """Sampling weights that soften each record's share of a class: an example of class c in
    record r weighs ``count(c, r) ** -power``, scaled so that class c keeps its total weight
    ``count(c)``. A record's expected share of c's draws is then ``count(c, r) ** (1 - power)``
    over the sum of those (``power`` 0: as many as it holds; 1: every record alike)."""
    y, groups = np.asarray(y), np.asarray(groups)
    _, record = np.unique(groups, return_inverse=True)
    cell = y.astype(np.int64) * (int(record.max()) + 1) + record  # one id per (class, record)
    _, cell, per_cell = np.unique(cell, return_inverse=True, return_counts=True)
    weight = per_cell[cell].astype(np.float64) ** -power
    totals = np.bincount(y, weights=weight)
    weight *= np.bincount(y)[y] / totals[y]  # each class keeps its total
    return torch.from_numpy(weight)


class EpochBatches(Sampler):
    """Training batches of one epoch for one process; Lightning calls ``set_epoch`` (0-based)."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        sample_weights: torch.Tensor | None = None,
        max_steps: int | None = None,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.sample_weights = sample_weights
        self.rank, self.world_size = rank, world_size
        self.n_batches = math.ceil(n / batch_size)
        steps = math.ceil(self.n_batches / world_size)
        self.steps = min(steps, max_steps) if max_steps else steps
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch + 1

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[BatchRequest]:
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        if self.sample_weights is None:
            order = torch.randperm(self.n, generator=gen)
        else:
            order = torch.multinomial(self.sample_weights, self.n, replacement=True, generator=gen)
        order = order.numpy()
        for step in range(self.steps):
            # wrap around so every process runs the same number of steps
            b = (self.rank + step * self.world_size) % self.n_batches
            # each batch its own generator: worker processes may build batches in any order
            bgen = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch) * 1_000_003 + b)
            yield BatchRequest(
                np.sort(order[b * self.batch_size : (b + 1) * self.batch_size]), bgen
            )


class SplitBatches(Dataset):
    """``dataset[BatchRequest]`` -> ``(x, y, features, index)`` tensors of one batch, plus
    ``(owner, weight)`` of each crop when an evaluation batch votes over crops.

    ``noise_seed``: augment with noise from a :class:`~ecgzoo.train.noise_bank.NoiseBank` of
    that seed (``train.augment_noise: bank``) instead of one draw per sample."""

    def __init__(
        self,
        split: ArraySplit,
        features: torch.Tensor | None,
        crop: int | None = None,
        lengths: torch.Tensor | None = None,
        augment: bool = False,
        shift: int = 0,
        noise_seed: int | None = None,
    ):
        self.split, self.features = split, features
        self.crop, self.lengths, self.augment = crop, lengths, augment
        self.shift = shift
        window = math.prod(split.x.shape[1:-1]) * min(crop or split.x.shape[-1], split.x.shape[-1])
        self.noise = None if noise_seed is None else NoiseBank(noise_seed, window)
        y = np.asarray(split.y)
        # multi-hot targets (multi-label) are float for BCE; class indices are int64 for CE
        self.y = torch.from_numpy(y.astype(np.float32 if y.ndim == 2 else np.int64))

    def __len__(self) -> int:
        return len(self.split)

    def _augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        # x is a batch this call built (never a view of the data): the bank works in place
        if self.noise is None:
            return augment_batch(x, gen)
        return augment_with_bank(x, gen, self.noise)

    def __getitem__(self, request: BatchRequest | Prefetched):
        if isinstance(request, Prefetched):  # built ahead by a thread (train.data_threads)
            return request.result()
        idx = request.index
        tidx = torch.from_numpy(np.asarray(idx, dtype=np.int64))
        f = None if self.features is None else self.features[tidx]
        if self.crop and request.gen is not None and self.split.x.shape[-1] > self.crop:
            # a training crop: read only its samples, not the whole recording
            starts = crop_starts(self.lengths[tidx], self.crop, request.gen)
            x = torch.from_numpy(gather_crops(self.split.x, idx, starts.numpy(), self.crop))
            if self.augment:
                x = self._augment(x, request.gen)
            return x, self.y[tidx], f, tidx
        xa = np.ascontiguousarray(self.split.x[idx], dtype=np.float32)
        if request.gen is None and self.crop and xa.shape[-1] > self.crop:
            # evaluation of a model trained on crops: the distinct ones of EVAL_CROPS evenly
            # spaced crops per example, with their owners and vote weights; the module sums the
            # weighted probabilities (the same average as predict_split's)
            given = self.split.lengths
            real = real_lengths(xa) if given is None else np.asarray(given)[idx]
            owner, start, weight = distinct_crops(
                np.minimum(real, xa.shape[-1]), self.crop, EVAL_CROPS
            )
            x = torch.from_numpy(gather_crops(xa, owner, start, self.crop))  # no copy per crop
            owner_t = torch.from_numpy(owner)
            f = None if f is None else f[owner_t]
            vote = (owner_t, torch.from_numpy(weight.astype(np.float32)))
            return x, self.y[tidx], f, tidx, vote
        x = torch.from_numpy(xa)
        if self.crop and request.gen is not None:
            x = random_crop_batch(x, self.crop, self.lengths[tidx], request.gen)
        if self.shift and request.gen is not None:
            x = shift_batch(x, self.shift, request.gen)
        if self.augment and request.gen is not None:
            x = self._augment(x, request.gen)
        return x, self.y[tidx], f, tidx


class ShardBatches(Sampler):
    """Consecutive evaluation batches of this process's contiguous share of a split."""

    def __init__(self, n: int, batch_size: int, rank: int = 0, world_size: int = 1):
        self.shard = np.array_split(np.arange(n), world_size)[rank]
        self.batch_size = batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.shard) / self.batch_size)

    def __iter__(self) -> Iterator[BatchRequest]:
        for start in range(0, len(self.shard), self.batch_size):
            yield BatchRequest(self.shard[start : start + self.batch_size])


class ArrayDataModule(pl.LightningDataModule):
    """Train and validation loaders over a :class:`~ecgzoo.datasets.arrays.PreparedData`."""

    def __init__(
        self,
        train: SplitBatches,
        val: SplitBatches,
        *,
        batch_size: int,
        eval_batch_size: int,
        seed: int,
        sample_weights: torch.Tensor | None = None,
        max_steps: int | None = None,
        num_workers: int = 0,
        data_threads: int = 0,
        pin_memory: bool = False,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ):
        super().__init__()
        self.train_batches, self.val_batches = train, val
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.seed, self.sample_weights, self.max_steps = seed, sample_weights, max_steps
        # worker processes build batches ahead of the GPU (0: in the main process)
        self.loader_options: dict[str, Any] = {"num_workers": num_workers, "pin_memory": pin_memory}
        # or threads of the main process build them ahead (prefetch.py); not both
        self.data_threads = 0 if num_workers > 0 else data_threads
        if num_workers > 0:
            self.loader_options["persistent_workers"] = persistent_workers
            if prefetch_factor is not None:
                self.loader_options["prefetch_factor"] = prefetch_factor

    def _loader(self, dataset: SplitBatches, sampler: Sampler) -> DataLoader:
        # An explicit generator keeps the loader from drawing its base seed from torch's global
        # generator, which dropout uses: resumed and uninterrupted runs see the same stream.
        return DataLoader(
            dataset,
            batch_size=None,
            sampler=sampler,
            collate_fn=keep_batch,
            generator=torch.Generator(),
            **self.loader_options,
        )

    def setup(self, stage: str) -> None:
        """On a GPU, augment there: its Gaussian noise (one draw per sample) is what limits the
        CPU data path (about 2,500 12-lead examples/s on one core against ~30,000 without it);
        pinned memory only for a GPU."""
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        self.device_augment = device.type == "cuda" and self.train_batches.augment
        if device.type != "cuda":  # page-locked memory only speeds up copies to a GPU
            self.loader_options["pin_memory"] = False
        if self.device_augment:
            self.train_batches.augment = False

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Training batches on the GPU: augmentation, from a device generator seeded by the
        epoch and the batch's first example (deterministic, like the CPU path's)."""
        trainer = self.trainer
        if not getattr(self, "device_augment", False) or trainer is None or not trainer.training:
            return batch
        x, *rest = batch
        seed = epoch_seed(self.seed, trainer.current_epoch + 1) * 1_000_003 + int(rest[2][0])
        gen = torch.Generator(device=x.device).manual_seed(seed)
        return (augment_batch(x, gen), *rest)

    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        rank, world = self._rank()
        sampler = EpochBatches(
            len(self.train_batches),
            self.batch_size,
            self.seed,
            self.sample_weights,
            self.max_steps,
            rank,
            world,
        )
        if self.data_threads > 0:
            sampler = PrefetchBatches(
                sampler, self.train_batches.__getitem__, self.data_threads, self.data_threads + 1
            )
        return self._loader(self.train_batches, sampler)

    def val_dataloader(self) -> DataLoader:
        rank, world = self._rank()
        sampler = ShardBatches(len(self.val_batches), self.eval_batch_size, rank, world)
        return self._loader(self.val_batches, sampler)
