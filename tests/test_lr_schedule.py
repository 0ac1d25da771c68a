"""``train.lr_schedule``: the cosine's rates by reference, and a resumed run on the same rates."""

from __future__ import annotations

import math

import pytest
import torch

from ecgzoo.datasets.loading import load_data
from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config
from ecgzoo.runs.runfolder import load_weights
from ecgzoo.train.engine import train_run

TINY = {
    "name": "tiny",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "209", "232"], "max_beats_per_class": 150},
    },
    "model": {"name": "fc", "params": {"hidden": 16, "dropout": 0.2}},
    "train": {
        "epochs": 3,
        "batch_size": 64,
        "max_steps_per_epoch": 4,
        "lr": 3e-3,
        "lr_schedule": "cosine",
        "monitor": "epoch",
        "train_loss_examples": 0,
        "num_threads": 1,
    },
}


@pytest.fixture(scope="module")
def tiny_data(mitdb_dir):
    return load_data(build_config(TINY).data)


def _train(tmp_path, data, **kwargs):
    cfg = build_config(TINY, [f"output_dir={tmp_path}"])
    return train_run(cfg, data=data, progress=False, **kwargs)


def test_unknown_schedule_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="train.lr_schedule"):
        build_config(TINY, ["train.lr_schedule=step"])


def test_cosine_rates_and_a_resumed_run(tmp_path, tiny_data):
    full = _train(tmp_path / "a", tiny_data)
    expected = [3e-3 * 0.5 * (1 + math.cos(math.pi * k / 3)) for k in range(3)]
    assert [r["lr"] for r in full.history] == pytest.approx(expected, rel=1e-9)

    def stop(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", tiny_data, on_epoch=stop)
    resumed = _train(tmp_path / "b", tiny_data)
    assert [r["lr"] for r in resumed.history] == pytest.approx(expected, rel=1e-9)
    a = load_weights(full.run_dir / "model.safetensors")
    b = load_weights(resumed.run_dir / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
