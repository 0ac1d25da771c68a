"""Learning curves that compare like with like, on a tiny real MIT-BIH run.

The plain training loss of each epoch (``train_eval_loss``) must be the very loss ``val_loss``
is (unweighted cross-entropy, eval mode) on a fixed training subset, recomputed here with
torch's own ``cross_entropy``; the focal criterion stays its own curve; the star sits on the
monitored metric; the search tables' gap subtracts like from like.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgzoo.datasets.loading import load_data
from ecgzoo.experiment import build_config
from ecgzoo.metrics.names import PLAIN_TRAIN_LOSS
from ecgzoo.report.curves import best_epoch, curve_panels

N_CURVE = 120
TINY = {
    "name": "curves",
    "data": {
        "dataset": "mitbih",
        "mitbih": {"records": ["100", "119", "208", "209", "232"], "max_beats_per_class": 150},
    },
    "model": {"name": "fc", "params": {"hidden": 32}},
    "train": {
        "epochs": 1,
        "batch_size": 64,
        "max_steps_per_epoch": 6,
        "lr": 3e-3,
        "loss": "focal",
        "curve_train_examples": N_CURVE,
        "train_loss_examples": N_CURVE,
        "monitor": "val_macro_f1",
    },
}


@pytest.fixture(scope="module")
def run(tmp_path_factory, mitdb_dir):
    from ecgzoo.train.engine import train_run

    cfg = build_config(TINY, [f"output_dir={tmp_path_factory.mktemp('runs')}"])
    data = load_data(cfg.data)
    return train_run(cfg, data=data, progress=False), data


def _plain_loss(model, split) -> float:
    """Unweighted cross-entropy, computed with torch directly (not ecgzoo's scorer)."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(split.x), None)
    return float(F.cross_entropy(logits, torch.as_tensor(split.y)))


def test_plain_train_loss_is_the_validation_loss_on_a_fixed_training_subset(run):
    from ecgzoo.train.evaluate import load_trained_model
    from ecgzoo.train.final_scoring import train_loss_subset

    result, data = run
    row = result.history[0]
    model, spec = load_trained_model(result.run_dir)  # the only epoch's weights (it improved)
    assert spec.n_features == 0
    subset = train_loss_subset(data.train, N_CURVE)
    assert len(subset) == N_CURVE < len(data.train)
    assert row[PLAIN_TRAIN_LOSS] == pytest.approx(_plain_loss(model, subset), rel=1e-4)
    assert row["val_loss"] == pytest.approx(_plain_loss(model, data.val), rel=1e-4)
    # the focal criterion (weighted, averaged over the training batches) is another quantity
    assert abs(row["train_loss"] - row[PLAIN_TRAIN_LOSS]) > 1e-3
    # and the search tables' gap subtracts the same plain loss on both sides
    metrics = result.metrics
    assert metrics["final_train_loss"] == pytest.approx(row[PLAIN_TRAIN_LOSS], rel=1e-5)
    assert metrics["test_loss"] == pytest.approx(_plain_loss(model, data.test), rel=1e-4)


def test_search_table_gap_is_test_minus_plain_train_loss():
    from ecgzoo.tune.results import TrialRecord, _rows

    trial = TrialRecord(trial_id="t1", status="completed", params={})
    trial.final_train_loss, trial.test_loss = 0.25, 0.4
    top, _ = _rows([trial], "val_macro_recall", {})
    assert top[0]["loss_gap"] == pytest.approx(0.15)
    trial.final_train_loss = None  # sweeps that skip the train loss: no gap, not a fake one
    assert _rows([trial], "val_macro_recall", {})[0][0]["loss_gap"] is None


def test_panels_separate_plain_losses_from_the_criterion_and_star_the_monitor():
    history = [
        {
            "epoch": e,
            "train_loss": 0.3 / e,
            PLAIN_TRAIN_LOSS: 0.7 / e,
            "val_loss": 0.8 / e + 0.1 * e,
            "val_macro_f1": [0.2, 0.5, 0.4, 0.45][e - 1],
            "val_f1_N": 0.9,
            "lr": 1e-3,
        }
        for e in range(1, 5)
    ]
    panels = curve_panels(history, monitor="val_macro_f1")
    assert panels["loss"] == ["val_loss", PLAIN_TRAIN_LOSS]
    assert panels["criterion"] == ["train_loss"]
    assert "val_macro_f1" in panels["metrics"] and "val_f1_N" not in panels["metrics"]
    assert best_epoch(history, "val_macro_f1", "max") == (2.0, 0.5)  # not val_loss's epoch
    losses = np.array([r["val_loss"] for r in history])
    assert best_epoch(history, "val_loss", "min")[0] == float(np.argmin(losses) + 1)
    assert "val_f1_N" in curve_panels(history, monitor="val_f1_N")["metrics"]


def test_learning_curves_png_is_drawn_for_the_run(run):
    result, _ = run
    assert (result.run_dir / "learning_curves.png").stat().st_size > 1000
