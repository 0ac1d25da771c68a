"""CPU augmentation from a noise bank and batches built ahead by threads (issue 20, data path):
a seed reproduces a batch, the noise is standard normal, scale and shift are augment_batch's,
and threads / worker processes give exactly the plain path's batches."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgzoo.config import TrainConfig
from ecgzoo.datasets.arrays import ArraySplit
from ecgzoo.train.datamodule import ArrayDataModule, BatchRequest, SplitBatches
from ecgzoo.train.noise_bank import (
    BANK_EXAMPLES,
    MIN_BANK,
    NoiseBank,
    augment_with_bank,
    noise_share,
    row_std,
)
from ecgzoo.train.progress import choose_data_threads


@pytest.fixture(scope="module")
def ecgs(physionet_mirror: Path) -> np.ndarray:
    """``(16, 12, 1000)`` real PTB-XL ECGs (100 Hz, mV) from the mirror."""
    from ecgzoo.readers.ptbxl import PtbxlReader, read_format16

    reader = PtbxlReader(physionet_mirror / "ptb-xl" / "1.0.3")
    out = np.empty((16, 12, 1000), np.float32)
    for i, row in enumerate(reader.rows[:16]):
        rec = read_format16(reader.base(row, 100))
        assert rec is not None
        out[i] = np.nan_to_num(rec.signal)
    return out


def _split(x: np.ndarray) -> ArraySplit:
    return ArraySplit(x, np.zeros((len(x), 5), np.float32), np.arange(len(x)))


def test_row_std_equals_torch_std_on_real_ecgs(ecgs: np.ndarray) -> None:
    x = torch.from_numpy(ecgs)
    want = x.double().std(dim=-1, keepdim=True)
    torch.testing.assert_close(row_std(x).double(), want, rtol=2e-5, atol=1e-7)
    offset = x + 50.0  # the mean dwarfs the spread: those rows are recomputed exactly
    torch.testing.assert_close(row_std(offset).double(), want, rtol=2e-5, atol=1e-6)
    assert torch.equal(row_std(torch.full((2, 3, 50), 7.25)), torch.zeros(2, 3, 1))  # flat


def test_fixed_seed_reproduces_an_augmented_batch(ecgs: np.ndarray) -> None:
    lengths = torch.full((16,), 1000)

    def batch(noise_seed: int, batch_seed: int) -> torch.Tensor:
        # a new SplitBatches each time: a fresh bank drawn from the seed, as in a new process
        train = SplitBatches(_split(ecgs), None, 250, lengths, True, noise_seed=noise_seed)
        request = BatchRequest(np.arange(2, 14), torch.Generator().manual_seed(batch_seed))
        return train[request][0]

    a = batch(7, 3)
    assert a.shape == (12, 12, 250) and a.dtype == torch.float32
    assert torch.equal(a, batch(7, 3))
    assert not torch.equal(a, batch(7, 4))  # another batch seed: other crops, scale, noise
    assert not torch.equal(a, batch(8, 3))  # another bank


def test_scale_and_shift_are_augment_batchs_draws(ecgs: np.ndarray) -> None:
    """Only the noise's source changes: x * scale + shift from the same draws, in the same
    order, as augment_batch; what is left is 0.02 * std times a window of the bank."""
    x = torch.from_numpy(ecgs.copy())
    bank = NoiseBank(5, size=2**16)
    got = augment_with_bank(x.clone(), torch.Generator().manual_seed(9), bank)
    gen = torch.Generator().manual_seed(9)
    scale = 1.0 + 0.1 * torch.randn((16, 1, 1), generator=gen)
    std = x.std(dim=-1, keepdim=True).clamp_min(1e-3)
    shift = 0.1 * torch.randn((16, 1, 1), generator=gen) * std
    offsets = bank.offsets(16, 12 * 1000, gen)
    noise = torch.stack([bank.draws[o : o + 12_000].view(12, 1000) for o in offsets.tolist()])
    torch.testing.assert_close(got, x * scale + shift + 0.02 * std * noise, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(64, 12, 5000), (1024, 1, 187)])
def test_noise_from_the_bank_is_standard_normal(shape: tuple[int, ...]) -> None:
    """The noise a batch gets, divided by its amplitude: mean 0, sd 1, no correlation between
    neighbouring samples nor (beyond the stated overlap) between examples. Both code paths:
    a call per long example, one gather for short ones."""
    x = torch.zeros(shape)
    bank = NoiseBank(0, x[0].numel())
    offsets = bank.offsets(shape[0], x[0].numel(), torch.Generator().manual_seed(1))
    bank.add_noise(x, torch.ones((shape[0],) + (1,) * (len(shape) - 1)), offsets)
    z = x.double().flatten()
    n = z.numel()
    assert abs(float(z.mean())) < 5 / n**0.5
    assert abs(float(z.std()) - 1) < 5 / (2 * n) ** 0.5
    lag1 = float((z[1:] * z[:-1]).mean())
    assert abs(lag1) < 5 / n**0.5
    kurtosis = float((z**4).mean())
    assert abs(kurtosis - 3) < 0.05
    rows = x.flatten(1).double()
    corr = torch.corrcoef(rows[:64])
    off_diag = corr[~torch.eye(len(corr), dtype=torch.bool)]
    assert float(off_diag.abs().max()) < 0.5  # an overlap only shares part of a window
    assert float(off_diag.abs().median()) < 5 / rows.shape[1] ** 0.5


def test_overlap_share_is_what_the_docs_state() -> None:
    bank, window = NoiseBank(0, size=200_000), 5_000
    starts = bank.offsets(4000, window, torch.Generator().manual_seed(2)).numpy()
    a, b = starts[::2], starts[1::2]
    seen = float(np.mean(np.abs(a - b) < window))
    assert seen == pytest.approx(noise_share(window, bank.size), abs=0.01)
    for window in (187, 12 * 250, 12 * 5000):  # a beat, 2.5 s at 100 Hz, 10 s at 500 Hz
        default = NoiseBank(0, window)
        assert noise_share(window, default.size) <= 2 / (BANK_EXAMPLES - 1)
        assert default.size <= max(MIN_BANK, BANK_EXAMPLES * window)  # set by the example


def test_bank_pickles_without_its_draws_and_redraws_them() -> None:
    bank = NoiseBank(3, size=4096)
    first = bank.draws.clone()
    copy = pickle.loads(pickle.dumps(bank))
    assert copy._draws is None and torch.equal(copy.draws, first)
    with pytest.raises(ValueError, match="longer than the noise bank"):
        bank.offsets(2, 5000, torch.Generator())


def _loader_batches(x: np.ndarray, **options) -> list[torch.Tensor]:
    lengths = torch.full((len(x),), x.shape[-1])
    train = SplitBatches(_split(x), None, 250, lengths, True, noise_seed=11)
    dm = ArrayDataModule(train, train, batch_size=4, eval_batch_size=4, seed=3, **options)
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(2)
    return [b[0] for b in loader]


def test_threads_and_workers_give_the_plain_paths_batches(ecgs: np.ndarray) -> None:
    plain = _loader_batches(ecgs)
    assert len(plain) == 4
    for options in ({"data_threads": 1}, {"data_threads": 2},
                    {"num_workers": 2, "prefetch_factor": 2}):  # fmt: skip
        got = _loader_batches(ecgs, **options)
        assert len(got) == len(plain)
        for a, b in zip(plain, got, strict=True):
            assert torch.equal(a, b), options


def test_threaded_loader_stopped_early_and_resumed(ecgs: np.ndarray) -> None:
    lengths = torch.full((16,), 1000)
    train = SplitBatches(_split(ecgs), None, 250, lengths, True, noise_seed=11)
    dm = ArrayDataModule(train, train, batch_size=2, eval_batch_size=2, seed=3, data_threads=2)
    loader = dm.train_dataloader()
    assert len(loader) == 8
    loader.sampler.set_epoch(0)
    first = next(iter(loader))[0]  # an epoch cut short: its threads stop
    again = next(iter(loader))[0]
    assert torch.equal(first, again)


def test_data_thread_policy(monkeypatch) -> None:
    from ecgzoo.train import progress

    assert choose_data_threads(TrainConfig(data_workers=2, data_threads=2)) == 0
    assert choose_data_threads(TrainConfig(data_threads=1)) == 1
    threads = torch.get_num_threads()
    try:  # (free cores, torch threads, accelerator) -> data threads: never oversubscribe
        for free, torch_threads, accelerator, want in [(2, 1, "cpu", 1), (2, 2, "cpu", 0),
                                                       (1, 1, "cpu", 0), (16, 16, "gpu", 2),
                                                       (2, 2, "gpu", 1)]:  # fmt: skip
            monkeypatch.setattr(progress, "free_cores", lambda free=free: free)
            torch.set_num_threads(torch_threads)
            got = choose_data_threads(TrainConfig(accelerator=accelerator))
            assert got == want, (free, torch_threads, accelerator)
    finally:
        torch.set_num_threads(threads)


def test_training_with_data_threads_ends_with_the_same_weights(tmp_path, mitdb_dir) -> None:
    """The engine with batches built by 2 threads (augmentation from the bank) trains exactly
    the run the main process alone trains: the same weights, bit for bit."""
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.experiment import build_config
    from ecgzoo.runs.runfolder import load_weights
    from ecgzoo.train.engine import train_run

    cfg = {
        "name": "threads",
        "data": {"dataset": "mitbih",
                 "mitbih": {"records": ["100", "119", "208"], "max_beats_per_class": 100}},
        "model": {"name": "fc", "params": {"hidden": 16}},
        "train": {"epochs": 2, "batch_size": 64, "max_steps_per_epoch": 4, "augment": True,
                  "num_threads": 1, "train_loss_examples": 0, "curve_train_examples": 0},
    }  # fmt: skip
    data = load_data(build_config(cfg).data)
    weights = []
    for threads in (0, 2):
        over = [f"output_dir={tmp_path / str(threads)}", f"train.data_threads={threads}"]
        run = train_run(build_config(cfg, over), data=data, progress=False)
        weights.append(load_weights(run.run_dir / "model.safetensors"))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
