"""The confusion-matrix callback on a tiny real run: one matrix per new best monitored value,
in the run folder, as MLflow artifacts and as W&B (offline) images; the last is the kept
weights' matrix on validation, recomputed here independently."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

from ecgzoo.datasets.loading import load_data
from ecgzoo.experiment import build_config
from ecgzoo.train.confusion_callback import FOLDER

TINY = {
    "name": "confusion",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "232"], "max_beats_per_class": 100},
    },
    "model": {"name": "fc", "params": {"hidden": 16}},
    "train": {
        "epochs": 4,
        "batch_size": 32,
        "max_steps_per_epoch": 4,
        "lr": 3e-3,
        "monitor": "val_macro_f1",
        "train_loss_examples": 0,
        "curve_train_examples": 0,
        "loggers": ["mlflow", "wandb"],
    },
}


def _improving_epochs(history, monitor):
    best, out = -math.inf, []
    for row in history:
        if row[monitor] > best:
            best = row[monitor]
            out.append(int(row["epoch"]))
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory, mitdb_dir):
    from ecgzoo.train.engine import train_run

    out = tmp_path_factory.mktemp("runs")
    cfg = build_config(TINY, [f"output_dir={out}"])
    data = load_data(cfg.data)
    mp = pytest.MonkeyPatch()
    mp.setenv("WANDB_MODE", "offline")
    try:
        result = train_run(cfg, data=data, progress=False)
    finally:
        mp.undo()
    return result, data, out


def test_one_matrix_per_improvement_and_the_last_is_the_kept_weights(run):
    from ecgzoo.train.evaluate import load_trained_model

    result, data, _ = run
    folder = result.run_dir / FOLDER
    epochs = _improving_epochs(result.history, "val_macro_f1")
    assert sorted(p.name for p in folder.glob("*.csv")) == [f"epoch-{e:03d}.csv" for e in epochs]
    assert len(list(folder.glob("*.png"))) == len(epochs)
    rows = list(csv.reader((folder / f"epoch-{epochs[-1]:03d}.csv").open()))
    assert rows[0][1:] == ["N", "S", "V", "F", "Q"]
    saved = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    model, _ = load_trained_model(result.run_dir)
    with torch.no_grad():
        pred = model(torch.as_tensor(data.val.x), None).argmax(1).numpy()
    expected = np.zeros((5, 5), dtype=int)
    for t, p in zip(data.val.y, pred, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(saved, expected)
    assert saved.sum() == len(data.val)


def test_matrices_go_to_mlflow_and_wandb(run):
    from mlflow.tracking import MlflowClient

    result, _, out = run
    n = len(_improving_epochs(result.history, "val_macro_f1"))
    client = MlflowClient(tracking_uri=f"sqlite:///{(out / 'mlflow.db').resolve()}")
    exp = client.get_experiment_by_name("ecgzoo-train")
    (mlrun,) = client.search_runs([exp.experiment_id])
    names = [a.path for a in client.list_artifacts(mlrun.info.run_id, FOLDER)]
    assert len(names) == 2 * n and all(p.startswith(FOLDER + "/epoch-") for p in names)
    (wrun,) = (result.run_dir / "wandb").glob("offline-run-*")
    images = list(wrun.glob("files/media/images/val_confusion_matrix*.png"))
    assert len(images) == n
