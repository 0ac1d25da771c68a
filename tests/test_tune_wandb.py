"""``ecgzoo tune --wandb``: a real tiny search logs every trial to W&B offline, no network."""

from __future__ import annotations

import socket

import pytest
import yaml

from ecgzoo.tune import start_ray, stop_ray

TINY = {
    "name": "tune-wandb",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208"], "max_beats_per_class": 60},
    },
    "model": {"name": "fc", "params": {"hidden": 16}},
    "train": {"epochs": 1, "batch_size": 32, "max_steps_per_epoch": 3, "train_loss_examples": 50},
}
SPACE = {
    "model": "fc",
    "params": {
        "train.optimizer": {"type": "choice", "values": ["adam", "sgd"]},
        "train.lr": {"type": "loguniform", "low": 1.0e-3, "high": 1.0e-2},
    },
}


def _local_only(connect):
    """``socket.connect`` that refuses anything but this machine (Ray and W&B's own service
    talk over loopback; a sync to wandb.ai would not)."""

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else "unix"
        if host not in ("unix", "127.0.0.1", "::1", "localhost", "0.0.0.0") and not str(
            host
        ).startswith("127."):
            raise AssertionError(f"tried to reach {address}: W&B must stay offline")
        return connect(self, address)

    return guarded


@pytest.mark.slow
def test_tune_wandb_logs_each_trial_offline(tmp_path, mitdb_dir, monkeypatch):
    from typer.testing import CliRunner

    from ecgzoo.cli import app

    monkeypatch.setattr(socket.socket, "connect", _local_only(socket.socket.connect))
    monkeypatch.setenv("WANDB_MODE", "online")  # the search must force offline regardless
    config, space = tmp_path / "base.yaml", tmp_path / "space.yaml"
    config.write_text(yaml.safe_dump(TINY))
    space.write_text(yaml.safe_dump(SPACE))
    started = start_ray(num_cpus=1)
    try:
        result = CliRunner().invoke(
            app,
            [
                "tune", str(config), "--space", str(space), "--num-samples", "2",
                "--output", str(tmp_path / "exp"), "--wandb",
            ],
        )  # fmt: skip
    finally:
        if started:
            stop_ray()
    assert result.exit_code == 0, (result.output, result.exception)
    runs = sorted((tmp_path / "exp" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2, runs  # one offline run per trial, ready for `wandb sync`
    assert all(list(run.glob("*.wandb")) for run in runs)
    logged = sorted(p.name for p in (tmp_path / "exp" / "wandb" / ".logged").iterdir())
    assert len(logged) == 2
