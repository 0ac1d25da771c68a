"""How training ends and what it says (issue 22 "the first hour", issue 18 item 5): Lightning's
own checkpoint, early stopping and time budget; progress lines in a log; the thread policy."""

from __future__ import annotations

import json

import pytest
import torch

from ecgzoo.config import TrainConfig
from ecgzoo.datasets.loading import load_data
from ecgzoo.experiment import build_config
from ecgzoo.runs.runfolder import load_checkpoint, load_weights, stop_line
from ecgzoo.train import progress
from ecgzoo.train.engine import train_run
from tests.test_engine_faults import TINY as FAULTS_TINY

# the engine-fault tests' tiny MIT-BIH run (same records, same model), a few more steps
TINY = {**FAULTS_TINY, "train": {**FAULTS_TINY["train"], "epochs": 3, "max_steps_per_epoch": 6}}


@pytest.fixture(scope="module")
def tiny_data(mitdb_dir):
    return load_data(build_config(TINY).data)


def _train(tmp_path, data, overrides=(), **kwargs):
    cfg = build_config(TINY, [f"output_dir={tmp_path}", *overrides])
    kwargs.setdefault("progress", False)
    return train_run(cfg, data=data, **kwargs)


def test_time_budget_is_checked_every_step_and_named(tmp_path, tiny_data):
    # a budget spent by the first step stops training inside epoch 1, not after it
    result = _train(tmp_path, tiny_data, ["train.max_minutes=0.000001"])
    saved = json.loads((result.run_dir / "metrics.json").read_text())
    assert saved["epochs_run"] == 1 and saved["epochs_planned"] == 3
    assert saved["last_epoch_partial"] is True
    assert saved["stop_reason"] == "time budget 1e-06 min"
    assert saved["stopped_early"] is True
    assert stop_line(saved) == "stopped in epoch 1 of 3: time budget 1e-06 min"
    # the partial epoch was still validated and its weights kept
    assert (result.run_dir / "model.safetensors").is_file() and saved["best_epoch"] == 1


def test_early_stopping_is_lightnings_and_says_why(tmp_path, tiny_data):
    # a learning rate too small to move the predictions: the monitored recall never improves
    extra = ["train.lr=1e-12", "train.epochs=5", "train.early_stopping_patience=1"]
    result = _train(tmp_path, tiny_data, extra)
    m = result.metrics
    assert m["epochs_run"] == 2 and not m["last_epoch_partial"]
    assert m["stop_reason"] == "early stopping (val_macro_recall did not improve for 1 epochs)"
    assert stop_line(m).startswith("stopped after epoch 2 of 5: early stopping")
    assert m["best_epoch"] == 1
    assert m["best_val_macro_recall"] == pytest.approx(result.history[0]["val_macro_recall"])
    # the Lightning callbacks' state travels in checkpoint.pt (tensors and plain values only)
    callbacks = load_checkpoint(result.run_dir / "checkpoint.pt")["callbacks"]
    states = {key.split("{")[0]: value for key, value in callbacks.items()}
    assert states["EarlyStopping"]["wait_count"] == 1
    assert states["BestWeights"]["best_epoch"] == 1


def test_best_weights_are_the_best_epochs(tmp_path, tiny_data):
    seen = []
    result = _train(tmp_path, tiny_data, on_epoch=lambda row: seen.append(dict(row)))
    m = result.metrics
    values = [row["val_macro_recall"] for row in result.history]
    best = max(range(len(values)), key=lambda i: (values[i], -i))
    assert m["best_epoch"] == best + 1 and m["stop_reason"] is None
    assert stop_line(m) == "trained all 3 epochs"
    assert [row["best_epoch"] for row in seen][-1] == best + 1
    # the last epoch's weights are in checkpoint.pt; model.safetensors holds the best epoch's
    last = load_checkpoint(result.run_dir / "checkpoint.pt")["state_dict"]
    kept = load_weights(result.run_dir / "model.safetensors")
    same = all(torch.equal(kept[k], last["model." + k]) for k in kept)
    assert same == (best + 1 == 3)


def test_a_log_gets_progress_lines(tmp_path, tiny_data, capsys):
    _train(tmp_path, tiny_data, ["train.epochs=1"], progress=True)
    out = capsys.readouterr().out
    assert "training with" in out and "torch thread(s)" in out
    steps = [line for line in out.splitlines() if line.startswith("epoch 1/1  step ")]
    assert len(steps) == 5  # steps 1-5 of 6; the epoch line reports the 6th
    assert "epoch 1/1 done in" in out and "val_macro_recall" in out


def test_thread_policy_leaves_busy_cores_alone(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(progress.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(progress.os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert progress.choose_threads(TrainConfig())[0] == 1
    monkeypatch.setattr(progress.os, "getloadavg", lambda: (0.1, 1.0, 1.0))
    assert progress.choose_threads(TrainConfig())[0] == 2
    monkeypatch.setattr(progress.os, "getloadavg", lambda: (9.0, 1.0, 1.0))
    assert progress.choose_threads(TrainConfig())[0] == 1
    assert progress.choose_threads(TrainConfig(num_threads=3)) == (3, "train.num_threads")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert progress.choose_threads(TrainConfig())[1] == "OMP_NUM_THREADS"
