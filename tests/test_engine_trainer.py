"""The Lightning engine's new options: precision, clipping, accumulation, loggers, DDP, resume."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ecgzoo.datasets.loading import load_data
from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config
from ecgzoo.runs.runfolder import load_checkpoint, load_weights
from ecgzoo.train.engine import train_run

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "name": "tiny",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "209", "232"], "max_beats_per_class": 150},
    },
    "model": {"name": "fc", "params": {"hidden": 32, "dropout": 0.2}},
    "train": {"epochs": 2, "batch_size": 64, "max_steps_per_epoch": 4, "lr": 3e-3},
}


@pytest.fixture(scope="module")
def tiny_data(mitdb_dir):
    return load_data(build_config(TINY).data)


def _train(tmp_path, data, overrides=(), **kwargs):
    cfg = build_config(TINY, [f"output_dir={tmp_path}", *overrides])
    return train_run(cfg, data=data, progress=False, **kwargs)


@pytest.mark.slow
def test_resumed_run_ends_with_bit_identical_weights(tmp_path, tiny_data):
    extra = ["train.epochs=3", "train.augment=true", "train.balanced_sampling=true"]
    extra += ["train.lr_patience=0", "train.monitor=val_loss", "train.monitor_mode=min"]
    full = _train(tmp_path / "a", tiny_data, extra)

    def stop(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", tiny_data, extra, on_epoch=stop)
    assert load_checkpoint(tmp_path / "b" / "tiny" / "checkpoint.pt")["epoch"] == 0
    resumed = _train(tmp_path / "b", tiny_data, extra)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    for name in ("model.safetensors",):
        a = load_weights(full.run_dir / name)
        b = load_weights(resumed.run_dir / name)
        assert all(torch.equal(a[k], b[k]) for k in a)
    last_a = load_checkpoint(full.run_dir / "checkpoint.pt")["state_dict"]
    last_b = load_checkpoint(resumed.run_dir / "checkpoint.pt")["state_dict"]
    assert all(torch.equal(last_a[k], last_b[k]) for k in last_a)
    assert [r["lr"] for r in resumed.history] == [r["lr"] for r in full.history]


@pytest.mark.slow
def test_clipping_accumulation_bf16_and_mlflow(tmp_path, tiny_data):
    result = _train(
        tmp_path,
        tiny_data,
        [
            "train.epochs=1",
            "train.gradient_clip_val=0.5",
            "train.accumulate_grad_batches=2",
            "train.precision=bf16-mixed",
            "train.accelerator=cpu",
            "train.loggers=[mlflow]",
        ],
    )
    assert result.metrics["precision"] == "bf16-mixed"
    assert result.metrics["devices"] == 1
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ecgzoo-train")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "tiny"
    assert run.data.params["train.precision"] == "bf16-mixed"
    history = client.get_metric_history(run.info.run_id, "val_macro_recall")
    assert [m.value for m in history] == [result.history[0]["val_macro_recall"]]
    assert run.data.metrics["test_accuracy"] == result.metrics["test"]["accuracy"]


def test_wandb_logs_offline_into_the_run_folder(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    result = _train(tmp_path, tiny_data, ["train.epochs=1", "train.loggers=[wandb]"])
    runs = list((result.run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


def test_impossible_trainer_options_are_config_errors(tmp_path, tiny_data):
    with pytest.raises(ConfigError, match="train.precision: 16-mixed needs a GPU"):
        _train(tmp_path, tiny_data, ["train.precision=16-mixed", "train.accelerator=cpu"])
    with pytest.raises(ConfigError, match="devices"):
        build_config(TINY, ["train.devices=0"])
    with pytest.raises(ConfigError, match="train.strategy"):
        build_config(TINY, ["train.strategy=horovod"])
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a CPU-only machine")
def test_gpu_and_ddp_options_validate_without_a_gpu(tmp_path, tiny_data):
    """The full-release GPU/DDP command line of the guide is a valid config; on a machine
    without a GPU it is one line naming the options, before any run folder exists."""
    gpu = ["train.accelerator=gpu", "train.devices=4", "train.strategy=ddp"]
    gpu += ["train.precision=bf16-mixed", "train.data_workers=4", "train.pin_memory=true"]
    tc = build_config(TINY, gpu).train
    assert (tc.accelerator, tc.devices, tc.strategy, tc.data_workers) == ("gpu", 4, "ddp", 4)
    with pytest.raises(ConfigError, match=r"train \(accelerator=gpu, devices=4, strategy=ddp\)"):
        _train(tmp_path, tiny_data, gpu)
    with pytest.raises(ConfigError, match="data_workers"):
        build_config(TINY, ["train.data_workers=-1"])
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_missing_wandb_is_a_clear_error(tmp_path, tiny_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed (it is optional)
    with pytest.raises(ConfigError, match=r"wandb is not installed \(pip install wandb\)"):
        _train(tmp_path, tiny_data, ["train.loggers=[wandb]"])
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def _header_and_keys(run: Path) -> tuple[list[str], list[str]]:
    with (run / "history.csv").open() as fh:
        header = next(csv.reader(fh))
    return header, sorted(json.loads((run / "metrics.json").read_text()))


@pytest.mark.slow
def test_ddp_two_cpu_processes_write_the_same_run_folder_layout(tmp_path, tiny_data):
    one = _train(tmp_path / "one", tiny_data, ["train.accelerator=cpu"]).run_dir
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "output_dir": str(tmp_path / "ddp")}))
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "ecgzoo", "train", str(config), "--quiet"]
        + ["train.accelerator=cpu", "train.devices=2", "train.strategy=ddp"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ddp = tmp_path / "ddp" / "tiny"
    assert _header_and_keys(ddp) == _header_and_keys(one)
    metrics = json.loads((ddp / "metrics.json").read_text())
    assert metrics["devices"] == 2 and metrics["epochs_run"] == 2
    assert metrics["test"]["n"] == json.loads((one / "metrics.json").read_text())["test"]["n"]
    assert proc.stdout.count("test split") == 1  # only the global-zero process reports
