"""How the weights a run ends with are reached: ``train.lr_schedule`` (the cosine's rates by
reference, a resumed run on the same rates) and ``train.swa_epoch_start`` (Lightning's stochastic
weight averaging, by reference: averaged from the last epoch's start, the average holds one set
of weights, those after the epoch before it, so a run of 3 epochs averaged from (1-based) epoch 3
ends with the weights of the same run stopped after 2 epochs, BatchNorm's statistics recomputed
for them in one pass without updates).
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from ecgzoo.datasets.loading import load_data
from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config
from ecgzoo.runs.runfolder import load_weights
from ecgzoo.train.engine import train_run
from tests.test_engine_trainer import TINY as ENGINE_TINY

# the engine tests' five records, a position-keeping CNN with BatchNorm, the last epoch kept
TINY = copy.deepcopy(ENGINE_TINY)
TINY["model"] = {"name": "beat_cnn", "params": {"n_layers": 2, "width": 4, "hidden": 8}}
TINY["train"] |= {"monitor": "epoch", "train_loss_examples": 0, "num_threads": 1}


@pytest.fixture(scope="module")
def tiny_data(mitdb_dir):
    return load_data(build_config(TINY).data)


def _train(tmp_path, data, overrides=(), progress=False, **kwargs):
    cfg = build_config(TINY, [f"output_dir={tmp_path}", *overrides])
    return train_run(cfg, data=data, progress=progress, **kwargs)


def test_unknown_schedule_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="train.lr_schedule"):
        build_config(TINY, ["train.lr_schedule=step"])


def test_cosine_rates_and_a_resumed_run(tmp_path, tiny_data):
    cosine = ["train.epochs=3", "train.lr_schedule=cosine"]
    full = _train(tmp_path / "a", tiny_data, cosine)
    expected = [3e-3 * 0.5 * (1 + math.cos(math.pi * k / 3)) for k in range(3)]
    assert [r["lr"] for r in full.history] == pytest.approx(expected, rel=1e-9)

    def stop(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", tiny_data, cosine, on_epoch=stop)
    resumed = _train(tmp_path / "b", tiny_data, cosine)
    assert [r["lr"] for r in resumed.history] == pytest.approx(expected, rel=1e-9)
    a = load_weights(full.run_dir / "model.safetensors")
    b = load_weights(resumed.run_dir / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "overrides",
    [
        ["train.swa_epoch_start=1.5"],  # neither a fraction nor a whole epoch
        ["train.epochs=3", "train.swa_epoch_start=4"],  # 1-based: the last epoch is 3
        ["train.swa_epoch_start=0"],
    ],
)
def test_impossible_averaging_start_is_a_one_line_config_error(overrides):
    with pytest.raises(ConfigError, match="swa_epoch_start"):
        build_config(TINY, overrides)


def test_averaging_from_the_last_epoch_keeps_the_weights_before_it(tmp_path, tiny_data):
    plain = _train(tmp_path / "plain", tiny_data)
    averaged = _train(tmp_path / "swa", tiny_data, ["train.epochs=3", "train.swa_epoch_start=3"])
    # the 4th row is the pass that recomputes BatchNorm's statistics; it is the kept epoch
    assert [r["epoch"] for r in averaged.history] == [1, 2, 3, 4]
    a = load_weights(plain.run_dir / "model.safetensors")
    b = load_weights(averaged.run_dir / "model.safetensors")
    assert a.keys() == b.keys()
    statistics = [k for k in a if "running_" in k or "num_batches" in k]
    learnt = [k for k in a if k not in statistics]
    assert len(statistics) == 3 * 2 and learnt  # two BatchNorm layers
    for key in learnt:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)
    # recomputed over the pass for the same weights, not the running averages of training
    means = [k for k in statistics if k.endswith("running_mean")]
    assert any(not torch.allclose(a[k], b[k]) for k in means)
    assert all(torch.isfinite(b[k]).all() for k in means)


def test_averaging_changes_the_weights_of_the_same_schedule(tmp_path, tiny_data, capsys):
    plain = _train(tmp_path / "plain", tiny_data, ["train.epochs=3"])
    capsys.readouterr()
    swa = ["train.epochs=3", "train.swa_epoch_start=2"]
    averaged = _train(tmp_path / "swa", tiny_data, swa, progress=True)
    lines = capsys.readouterr().out
    assert "epoch 3/3 done" in lines and "epoch 4/3" not in lines
    assert "BatchNorm statistics of the averaged weights (no updates) done" in lines
    a = load_weights(plain.run_dir / "model.safetensors")
    b = load_weights(averaged.run_dir / "model.safetensors")
    conv = next(k for k in a if k.endswith("weight") and a[k].dim() == 3)
    assert not torch.allclose(a[conv], b[conv])
    assert averaged.history[-1]["lr"] == pytest.approx(3e-3)  # swa_lr defaults to train.lr
