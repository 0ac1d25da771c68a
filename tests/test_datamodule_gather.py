"""The data path: crops cut while gathering equal the crops of the whole batch, batches built by
worker processes equal those built in the main process (each batch has its own generator)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgzoo.datasets.arrays import ArraySplit
from ecgzoo.train.datamodule import (
    ArrayDataModule,
    SplitBatches,
    augment_batch,
    crop_starts,
    gather_crops,
    random_crop_batch,
)


def test_gather_crops_equals_cropping_the_gathered_batch(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float32, (40, 3, 500))
    x[:] = rng.normal(size=x.shape)
    lengths = torch.from_numpy(rng.integers(100, 501, size=40))
    idx = np.sort(rng.choice(40, 16, replace=False))
    a = random_crop_batch(
        torch.from_numpy(x[idx]), 250, lengths[idx], torch.Generator().manual_seed(5)
    )
    starts = crop_starts(lengths[idx], 250, torch.Generator().manual_seed(5))
    b = gather_crops(x, idx, starts.numpy(), 250)
    np.testing.assert_array_equal(a.numpy(), b)


def test_worker_processes_give_the_same_batches(tmp_path) -> None:
    rng = np.random.default_rng(1)
    x = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float32, (100, 2, 300))
    x[:] = rng.normal(size=x.shape)
    split = ArraySplit(x, (rng.random((100, 3)) > 0.5).astype(np.float32), np.arange(100))
    lengths = torch.full((100,), 300)

    def batches(workers: int) -> list[torch.Tensor]:
        train = SplitBatches(split, None, crop=200, lengths=lengths, augment=True)
        prefetch = 2 if workers else None
        dm = ArrayDataModule(
            train, train, batch_size=16, eval_batch_size=16, seed=3,
            num_workers=workers, prefetch_factor=prefetch,
        )  # fmt: skip
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(1)
        return [b[0] for b in loader]

    main, workers = batches(0), batches(2)
    assert len(main) == 7 and all(b.shape == (16, 2, 200) for b in main[:-1])
    for a, b in zip(main, workers, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_augmentation_after_transfer_is_seeded_by_epoch_and_batch() -> None:
    from types import SimpleNamespace

    x = torch.randn(8, 2, 100)
    split = ArraySplit(x.numpy(), np.zeros((8, 2), np.float32), np.arange(8))
    train = SplitBatches(split, None, augment=True)
    dm = ArrayDataModule(train, train, batch_size=4, eval_batch_size=4, seed=0)
    cpu = SimpleNamespace(root_device=torch.device("cpu"))
    dm.trainer = SimpleNamespace(training=True, current_epoch=0, strategy=cpu)
    dm.setup("fit")
    assert not dm.device_augment and train.augment  # on the CPU the data path augments
    dm.device_augment, train.augment = True, False  # as setup does on a GPU
    batch = (x[:4], torch.zeros(4, 2), None, torch.arange(4))
    a, b = dm.on_after_batch_transfer(batch, 0)[0], dm.on_after_batch_transfer(batch, 0)[0]
    assert not torch.equal(a, x[:4]) and torch.equal(a, b)
    dm.trainer.current_epoch = 1
    assert not torch.equal(dm.on_after_batch_transfer(batch, 0)[0], a)
    dm.trainer.training = False  # validation batches are never augmented
    assert torch.equal(dm.on_after_batch_transfer(batch, 0)[0], x[:4])


def test_predict_split_in_chunks_equals_one_pass(monkeypatch) -> None:
    from ecgzoo.models.registry import build_model
    from ecgzoo.runs.runfolder import ModelSpec
    from ecgzoo.train import evaluate

    torch.manual_seed(0)
    params = {"n_blocks": 1, "width": 8, "kernel": 5}
    model = build_model("resnet1d", 2, 200, 3, 0, **params).eval()
    rng = np.random.default_rng(2)
    split = ArraySplit(rng.normal(size=(50, 2, 300)).astype(np.float32),
                       np.zeros((50, 3), np.float32), np.arange(50),
                       lengths=rng.integers(150, 301, size=50))  # fmt: skip
    spec = ModelSpec(name="resnet1d", n_leads=2, n_samples=200, n_classes=3, n_features=0,
                     class_names=["a", "b", "c"], params=params, crop_samples=200,
                     sampling_rate=100.0, multilabel=True)  # fmt: skip
    whole = evaluate.predict_split(model, spec, split)
    monkeypatch.setattr(evaluate, "SCORE_CHUNK", 16)
    np.testing.assert_allclose(evaluate.predict_split(model, spec, split), whole, atol=1e-6)
    # the train-loss subset is scored from its rows, chunk by chunk, never gathered whole
    from ecgzoo.train import final_scoring

    rows = final_scoring.train_loss_rows(len(split), 37)
    assert rows is not None and len(rows) == 37
    subset = final_scoring.train_loss_subset(split, 37)
    np.testing.assert_allclose(
        evaluate.predict_split(model, spec, split, rows=rows),
        evaluate.predict_split(model, spec, subset),
        atol=1e-6,
    )
    split.y[:] = (rng.random((50, 3)) > 0.5).astype(np.float32)
    from ecgzoo.train.multilabel import binary_cross_entropy

    want = binary_cross_entropy(evaluate.predict_split(model, spec, subset), split.y[rows])
    got = final_scoring.train_loss(model, spec, split, 37)
    assert got == pytest.approx(want, abs=1e-6)


def test_train_data_workers_reach_the_engine_datamodule(tmp_path) -> None:
    """``train.data_workers`` / ``train.pin_memory`` are what the engine's loaders use, and
    two workers give the batches the main process gives."""
    from ecgzoo.config import TrainConfig
    from ecgzoo.datasets.arrays import PreparedData
    from ecgzoo.runs.runfolder import ModelSpec
    from ecgzoo.train.engine import make_datamodule

    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 1, 120)).astype(np.float32)
    split = ArraySplit(x, rng.integers(0, 3, 64), np.arange(64) // 8)
    data = PreparedData(split, split, split, ["a", "b", "c"], 100.0)
    spec = ModelSpec("fc", {}, 1, 120, 3, 0, ["a", "b", "c"], 100.0)

    def batches(workers: int) -> list[torch.Tensor]:
        tc = TrainConfig(batch_size=16, data_workers=workers, pin_memory=False)
        dm = make_datamodule(tc, data, spec)
        assert dm.loader_options["num_workers"] == workers
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(0)
        return [b[0] for b in loader]

    for a, b in zip(batches(0), batches(2), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _augment_as_before(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """augment_batch as it was written before it was made faster (the reference)."""
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    scale = 1.0 + 0.1 * torch.randn(shape, generator=gen)
    std = x.std(dim=-1, keepdim=True).clamp_min(1e-3)
    shift = 0.1 * torch.randn(shape, generator=gen) * std
    noise = 0.02 * torch.randn(x.shape, generator=gen) * std
    return x * scale + shift + noise


def test_augmentation_gives_the_batches_it_gave_before_for_a_seed() -> None:
    rng = np.random.default_rng(4)
    x = torch.from_numpy((rng.normal(size=(16, 12, 500)) * 0.3 + 1.5).astype(np.float32))
    x[3] = 0.0  # a flat example: its std is clamped
    new = augment_batch(x, torch.Generator().manual_seed(11))
    old = _augment_as_before(x, torch.Generator().manual_seed(11))
    torch.testing.assert_close(new, old, rtol=1e-5, atol=1e-6)
    assert torch.equal(new, augment_batch(x, torch.Generator().manual_seed(11)))
    assert not torch.equal(new, augment_batch(x, torch.Generator().manual_seed(12)))


def test_gather_crops_any_shape_and_past_the_end() -> None:
    rng = np.random.default_rng(5)
    for shape in [(30, 400), (30, 2, 400), (30, 2, 3, 400)]:
        x = rng.normal(size=shape).astype(np.float32)
        idx, starts = np.array([0, 4, 4, 29]), np.array([0, 150, 7, 150])
        want = np.stack([x[i, ..., s : s + 250] for i, s in zip(idx, starts, strict=True)])
        np.testing.assert_array_equal(gather_crops(x, idx, starts, 250), want)
    x = rng.normal(size=(5, 2, 100)).astype(np.float32)
    got = gather_crops(x, np.array([1]), np.array([60]), 50)  # past the end: last sample
    np.testing.assert_array_equal(got[0, :, :40], x[1, :, 60:])
    np.testing.assert_array_equal(got[0, :, 40:], np.repeat(x[1, :, -1:], 10, axis=-1))
    assert gather_crops(x.astype(np.float16), np.array([2]), np.array([0]), 50).dtype == np.float32


def test_pinned_memory_only_for_a_gpu() -> None:
    from types import SimpleNamespace

    split = ArraySplit(np.zeros((8, 1, 50), np.float32), np.zeros(8, np.int64), np.arange(8))
    train = SplitBatches(split, None)
    dm = ArrayDataModule(train, train, batch_size=4, eval_batch_size=4, seed=0, pin_memory=True)
    cpu = SimpleNamespace(root_device=torch.device("cpu"))
    dm.trainer = SimpleNamespace(strategy=cpu, global_rank=0, world_size=1)
    dm.setup("fit")
    assert dm.train_dataloader().pin_memory is False


def test_voting_cuts_crops_without_copying_recordings() -> None:
    """vote_proba's crops are cut from the chunk itself: the same probabilities as cutting them
    from a copy of each crop's recording, without allocating those copies (5 per recording)."""
    import tracemalloc

    from ecgzoo.examples.transforms import windows_at
    from ecgzoo.models.registry import build_model
    from ecgzoo.train.predict import predict_proba
    from ecgzoo.train.voting import distinct_crops, vote_proba

    torch.manual_seed(0)
    model = build_model("resnet1d", 12, 250, 5, 0, n_blocks=1, width=4, kernel=5).eval()
    rng = np.random.default_rng(6)
    x = rng.normal(size=(64, 12, 1000)).astype(np.float32)
    lengths = rng.integers(300, 1001, size=64)
    got = vote_proba(model, x, 250, 5, lengths, multilabel=True)
    owner, start, weight = distinct_crops(lengths, 250, 5)
    crops = windows_at(x[owner], start[:, None], 250)[:, 0]  # the old way
    prob = predict_proba(model, crops, multilabel=True)
    want = np.zeros((64, 5))
    np.add.at(want, owner, prob * weight[:, None])
    np.testing.assert_allclose(got, want, atol=1e-6)
    tracemalloc.start()
    vote_proba(model, x, 250, 5, lengths, multilabel=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < x[owner].nbytes, f"{peak >> 20} MiB: the recordings were copied per crop"


def test_validation_batches_count_crops_not_ecgs() -> None:
    """A model trained on crops votes over EVAL_CROPS crops an ECG in validation: the
    validation batch holds 8 training batches' worth of crops, not of ECGs."""
    from ecgzoo.config import TrainConfig
    from ecgzoo.datasets.arrays import PreparedData
    from ecgzoo.runs.runfolder import ModelSpec
    from ecgzoo.train.datamodule import EVAL_CROPS
    from ecgzoo.train.engine import make_datamodule

    split = ArraySplit(np.zeros((300, 12, 1000), np.float32), np.zeros((300, 5), np.float32),
                       np.arange(300), lengths=np.full(300, 1000))  # fmt: skip
    data = PreparedData(split, split, split, list("abcde"), 100.0)
    spec = ModelSpec("resnet1d", {}, 12, 1000, 5, 0, list("abcde"), 100.0, crop_samples=250,
                     multilabel=True)  # fmt: skip
    dm = make_datamodule(TrainConfig(batch_size=64), data, spec)
    assert dm.eval_batch_size == 8 * 64 // EVAL_CROPS
    x, *_, vote = dm.val_batches[next(iter(dm.val_dataloader().sampler))]
    assert len(x) <= 8 * 64 and len(vote[0]) == len(x)
    spec.crop_samples = None  # no crops: whole ECGs, as before
    assert make_datamodule(TrainConfig(batch_size=64), data, spec).eval_batch_size == 512


def test_scoring_chosen_rows_copies_one_voting_chunk_at_most(tmp_path, monkeypatch) -> None:
    """predict_split over chosen rows (the training curve, the train-loss subset) copies a chunk
    of rows (a slice of the map is read in place): the chunk is voting's 512 recordings, so the
    copy is at most 512 recordings (it was 1,024: twice that)."""
    import tracemalloc

    from ecgzoo.models.registry import build_model
    from ecgzoo.runs.runfolder import ModelSpec
    from ecgzoo.train import evaluate

    rng = np.random.default_rng(7)
    x = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float32, (1200, 12, 1000))
    x[:] = rng.normal(size=(1, 12, 1000)).astype(np.float32)
    split = ArraySplit(x, np.zeros((1200, 5), np.float32), np.arange(1200),
                       lengths=np.full(1200, 1000))  # fmt: skip
    spec = ModelSpec(name="resnet1d", n_leads=12, n_samples=250, n_classes=5, n_features=0,
                     class_names=list("abcde"), params={"n_blocks": 1, "width": 4},
                     crop_samples=250, sampling_rate=100.0, multilabel=True)  # fmt: skip
    model = build_model("resnet1d", 12, 250, 5, 0, n_blocks=1, width=4).eval()
    rows = np.sort(rng.choice(1200, 1100, replace=False))

    def peak(rows) -> int:
        tracemalloc.start()
        evaluate.predict_split(model, spec, split, rows=rows)
        out = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out

    chunk = 512 * 12 * 1000 * 4
    sliced, chosen = peak(None), peak(rows)
    assert chosen - sliced < 1.1 * chunk, (chosen >> 20, sliced >> 20)
    monkeypatch.setattr(evaluate, "SCORE_CHUNK", 1024)  # the chunk before
    assert peak(rows) - chosen > 0.9 * chunk
