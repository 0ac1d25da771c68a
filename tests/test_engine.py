"""The training engine on real MIT-BIH beats: run folder, resume, checkpoint safety."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgzoo.datasets.loading import load_data
from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.experiment import build_config
from ecgzoo.runs.runfolder import load_checkpoint
from ecgzoo.train.engine import train_run
from ecgzoo.train.evaluate import load_trained_model

TINY = {
    "name": "tiny",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "209", "232"], "max_beats_per_class": 150},
    },
    "model": {"name": "fc", "params": {"hidden": 32}},
    "train": {"epochs": 3, "batch_size": 64, "max_steps_per_epoch": 6, "lr": 3e-3, "loss": "focal"},
}


@pytest.fixture(scope="module")
def tiny_data(mitdb_dir):
    return load_data(build_config(TINY).data)


def _train(tmp_path, data, overrides=(), **kwargs):
    cfg = build_config(TINY, [f"output_dir={tmp_path}", *overrides])
    return train_run(cfg, data=data, progress=False, **kwargs)


def test_run_folder_holds_everything(tmp_path, tiny_data):
    result = _train(tmp_path, tiny_data)
    folder = result.run_dir
    for name in (
        "config.yaml",
        "model.json",
        "model.safetensors",
        "checkpoint.pt",
        "history.csv",
        "metrics.json",
        "learning_curves.png",
        "confusion_matrix.png",
        "roc_curves.png",
    ):
        assert (folder / name).is_file(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3
    # the reported accuracy is the confusion matrix's diagonal over every test beat
    cm = np.asarray(metrics["test"]["confusion_matrix"])
    assert cm.sum() == metrics["test"]["n"] == len(tiny_data.test.y)
    assert metrics["test"]["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert metrics["overfit_gap"] == pytest.approx(
        metrics["test_loss"] - metrics["final_train_loss"]
    )
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert len(metrics["test"]["aami"]) >= 4
    model, spec = load_trained_model(folder)
    assert spec.class_names == ["N", "S", "V", "F", "Q"]
    # what it was trained with: the libraries that shape the weights, and the code's commit
    env = metrics["environment"]
    assert env["torch"] == torch.__version__ and env["numpy"] == np.__version__
    assert env["python"].count(".") == 2 and env["ecgzoo"] is not None
    commit = env["source_commit"]  # CI runs from a clean clone; an unpacked sdist has no .git
    if (Path(__file__).resolve().parents[1] / ".git").exists():
        assert commit is not None and len(commit.removesuffix("+dirty")) == 40
    else:
        assert commit is None


def test_source_commit_outside_a_checkout_is_none(tmp_path):
    from ecgzoo.runs.environment import source_commit

    assert source_commit(tmp_path) is None


def test_train_loss_is_scored_on_the_configured_subset_or_skipped(tmp_path, tiny_data):
    from ecgzoo.train.evaluate import cross_entropy, predict_split
    from ecgzoo.train.final_scoring import train_loss_subset

    one = ["train.epochs=1", "train.max_steps_per_epoch=2"]
    small = _train(tmp_path / "s", tiny_data, [*one, "train.train_loss_examples=40"])
    subset = train_loss_subset(tiny_data.train, 40)
    assert len(subset) == 40 < len(tiny_data.train)
    model, spec = load_trained_model(small.run_dir)
    expected = cross_entropy(predict_split(model, spec, subset), subset.y)
    assert small.metrics["final_train_loss"] == pytest.approx(expected, rel=1e-5)
    off = _train(tmp_path / "o", tiny_data, [*one, "train.train_loss_examples=0"])
    saved = json.loads((off.run_dir / "metrics.json").read_text())
    assert saved["final_train_loss"] is None and saved["overfit_gap"] is None
    # the same seed trains the same model: only the train-loss scoring differs
    assert saved["test"]["macro_f1"] == small.metrics["test"]["macro_f1"]


def test_interrupted_run_resumes_at_the_right_epoch_with_the_same_result(tmp_path, tiny_data):
    full = _train(tmp_path / "a", tiny_data)

    def stop_after_two(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", tiny_data, on_epoch=stop_after_two)
    seen = []
    resumed = _train(tmp_path / "b", tiny_data, on_epoch=lambda row: seen.append(row["epoch"]))
    assert seen == [3]
    assert [r["train_loss"] for r in resumed.history] == pytest.approx(
        [r["train_loss"] for r in full.history], rel=1e-6
    )
    assert resumed.metrics["test"]["confusion_matrix"] == full.metrics["test"]["confusion_matrix"]


def test_finished_run_is_not_overwritten_silently(tmp_path, tiny_data):
    _train(tmp_path, tiny_data, ["train.epochs=1"])
    with pytest.raises(EcgzooError, match="finished run"):
        _train(tmp_path, tiny_data, ["train.epochs=1"])


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_checkpoint_with_a_pickled_object_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "extra": _Evil()}, path)
    with pytest.raises(DataError, match="refused"):
        load_checkpoint(path)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(DataError, match="refused"):
        load_checkpoint(raw)


def test_unknown_monitor_metric_is_a_config_error(tmp_path, tiny_data):
    with pytest.raises(ConfigError, match="train.monitor"):
        _train(tmp_path, tiny_data, ["train.monitor=val_magic", "train.epochs=1"])


@pytest.mark.parametrize(
    "sampling", ["train.balanced_sampling=true", "train.record_balance_power=0.5"]
)
def test_weighted_sampling_and_augmentation_train(tmp_path, tiny_data, sampling):
    result = _train(tmp_path, tiny_data, [sampling, "train.augment=true", "train.epochs=2"])
    losses = [row["train_loss"] for row in result.history]
    assert all(np.isfinite(losses))
    saved = (result.run_dir / "config.yaml").read_text()
    assert sampling.split(".")[1].replace("=", ": ") in saved  # the run folder keeps it


def test_init_from_copies_matching_tensors_and_refuses_unrelated_runs(tmp_path, tiny_data):
    from ecgzoo.runs.runfolder import load_weights

    source = _train(tmp_path / "source", tiny_data, ["train.epochs=1"]).run_dir
    start = _train(tmp_path / "start", tiny_data, ["train.epochs=0", f"train.init_from={source}"])
    copied = load_weights(start.run_dir / "model.safetensors")
    original = load_weights(source / "model.safetensors")
    assert copied.keys() == original.keys()
    assert all(torch.equal(copied[k], original[k]) for k in original)
    assert start.metrics["tensors_transferred"].split("/")[0] == str(len(original))

    with pytest.raises(ConfigError, match="train.init_from"):
        _train(
            tmp_path / "other",
            tiny_data,
            [
                "train.epochs=0",
                f"train.init_from={source}",
                "model.name=resnet1d",
                "model.params={n_blocks: 1, width: 4}",
            ],
        )


def test_class_weights_come_from_weight_y_when_the_data_sets_it(tmp_path, tiny_data, monkeypatch):
    """``PreparedData.weight_y`` (mitbih.rhythm_database) sets the class weights; without it,
    the training labels do."""
    import dataclasses

    from ecgzoo.train import tasks

    made = []
    real = tasks.make_task

    def spy(tc, y, names):
        made.append(np.asarray(y))
        return real(tc, y, names)

    monkeypatch.setattr(tasks, "make_task", spy)
    y = np.asarray(tiny_data.train.y)
    fewer_n = np.concatenate([y[y != 0], y[y == 0][:10]])
    data = dataclasses.replace(tiny_data, weight_y=fewer_n)
    _train(tmp_path / "a", data, ["train.epochs=1", "train.loss=weighted_ce"])
    np.testing.assert_array_equal(made[-1], fewer_n)
    counts = np.bincount(fewer_n, minlength=5).astype(float)
    present = counts > 0
    expected = np.zeros(5)
    expected[present] = counts.sum() / (present.sum() * counts[present])
    written = json.loads((tmp_path / "a" / "tiny" / "metrics.json").read_text())["class_weights"]
    assert list(written) == list(tiny_data.class_names)  # metrics.json says what was used
    np.testing.assert_allclose(list(written.values()), expected, rtol=1e-6)
    _train(tmp_path / "b", tiny_data, ["train.epochs=1", "train.loss=weighted_ce"])
    np.testing.assert_array_equal(made[-1], y)
    _train(tmp_path / "c", tiny_data, ["train.epochs=1", "train.loss=ce"])
    unweighted = json.loads((tmp_path / "c" / "tiny" / "metrics.json").read_text())
    assert unweighted["class_weights"] is None


def test_val_sv_f1_counts_as_ec57():
    """The monitor ``val_sv_f1`` is the mean of S's and V's F1 as ``metrics.aami`` counts them:
    fusion beats called V are not V false positives (the plain per-class F1 counts them)."""
    from ecgzoo.config import TrainConfig
    from ecgzoo.examples.beats import CLASS_NAMES
    from ecgzoo.train.tasks import SingleLabelTask

    y = np.array([0] * 20 + [1] * 4 + [2] * 6 + [3] * 4)
    pred = y.copy()
    pred[[0, 20]] = [1, 0]  # an N called S, an S called N
    pred[30:34] = 2  # every F beat called V
    prob = np.eye(5)[pred] * 0.9 + 0.02
    row = SingleLabelTask(TrainConfig(), y, CLASS_NAMES).epoch_metrics(y, prob)
    s_f1, v_f1 = 2 * 3 / (2 * 3 + 1 + 1), 1.0  # V: 6 of 6, the 4 F beats not counted
    assert row["val_sv_f1"] == pytest.approx((s_f1 + v_f1) / 2)
    assert row["val_f1_V"] == pytest.approx(2 * 6 / (2 * 6 + 4))  # the plain per-class F1
