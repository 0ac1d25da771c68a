"""Issue 19's position-keeping beat models export to ONNX (alone and in a fold ensemble) and
ONNX Runtime agrees with PyTorch on a real record, through ``annotate --engine onnx`` too.

The TorchScript exporter refuses ``adaptive_avg_pool1d`` when the positions do not divide the
map's length; ``PositionPool1d`` exports at any length. The members here are chosen so that
they do not divide: ``beat_cnn`` pooling 12 positions to 5, ``resnet1d`` (stride-1 stem)
pooling the 90 samples of the recipe's 128 Hz window to 4.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgzoo.experiment import build_config
from ecgzoo.models.blocks import PositionPool1d, position_pool_matrix

RECORDS = ["101", "106", "100", "232"]  # DS1: 101, 106; DS2: 100, 232
MEMBERS = {
    "cnn5": {"name": "beat_cnn", "params": {"width": 8, "hidden": 16, "positions": 5}},
    "resnet4": {
        "name": "resnet1d",
        "params": {"n_blocks": 1, "width": 8, "stem_stride": 1, "pool_positions": 4},
    },
}


def member_config(tmp: Path, name: str, fold: int) -> dict:
    """The recipe's input (128 Hz, median-beat channel, log RR ratios, aligned fiducial),
    trained for a few steps on one record-wise DS1 fold."""
    return {
        "name": f"{name}-f{fold}",
        "output_dir": str(tmp),
        "data": {
            "dataset": "mitbih",
            "seed": 1,
            "mitbih": {
                "segmentation": "centered",
                "split": "inter",
                "fs": 128.0,
                "records": RECORDS,
                "rr_context_set": "rr_log_ratios",
                "median_beat_channel": True,
                "align_fiducial": "qrs_extremum",
                "train_exclude_classes": ["Q"],
                "inter_validation": "fold",
                "n_val_folds": 2,
                "val_fold": fold,
            },
        },
        "model": MEMBERS[name],
        "train": {
            "epochs": 1,
            "batch_size": 64,
            "max_steps_per_epoch": 3,
            "num_threads": 1,
            "monitor": "epoch",
            "train_loss_examples": 0,
        },
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mitdb_dir) -> dict[str, Path]:
    from ecgzoo.train.engine import train_run
    from ecgzoo.train.ensemble import join_runs

    tmp = tmp_path_factory.mktemp("onnx-beats")
    out = {}
    for fold, name in enumerate(MEMBERS):  # a fold ensemble: one member per DS1 fold
        cfg = build_config(member_config(tmp, name, fold))
        out[name] = train_run(cfg, progress=False).run_dir
    out["ensemble"] = tmp / "ens"
    join_runs([out["cnn5"], out["resnet4"]], out["ensemble"], operating_point="sv_f1")
    return out


def test_position_pool_is_adaptive_average_pooling():
    torch.manual_seed(0)
    for length in (4, 12, 13, 23, 90, 187):
        for positions in (1, 3, 4, 5):
            x = torch.randn(2, 3, length)
            pooled = F.adaptive_avg_pool1d(x, positions)
            torch.testing.assert_close(PositionPool1d(positions)(x), pooled, rtol=0, atol=0)
            torch.testing.assert_close(
                x @ position_pool_matrix(length, positions), pooled, rtol=1e-6, atol=1e-6
            )


def test_models_whose_positions_do_not_divide_build_as_before():
    from ecgzoo.models.registry import build_model

    model = build_model("beat_cnn", 2, 90, 5, 6, positions=5)
    assert not any("pool" in k for k in model.state_dict())  # no new state: old runs load
    assert model(torch.randn(3, 2, 90), torch.randn(3, 6)).shape == (3, 5)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["cnn5", "resnet4", "ensemble"])
def test_beat_models_export_and_annotate_with_onnx(which, runs, mitdb_dir, tmp_path):
    from ecgzoo.apply.annotate import annotate_source
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.signals import open_source
    from ecgzoo.export.onnx import PARITY_TOL, export_run

    run = tmp_path / which  # a copy: model.onnx is written beside the weights
    shutil.copytree(runs[which], run)
    report = export_run(run)  # parity on the dataset's real example beats
    assert report["max_abs_diff"] <= PARITY_TOL and report["n_examples"] > 100
    if which == "ensemble":
        assert load_model(run).spec.params.get("decision_weights")  # applied inside the graph
    src = open_source(mitdb_dir / "232")
    a = annotate_source(src, load_model(run))
    b = annotate_source(src, load_model(run, engine="onnx"))
    assert len(a.labels) > 1500 and np.array_equal(a.samples, b.samples)
    assert np.array_equal(a.labels, b.labels)
    assert np.nanmax(np.abs(a.prob - b.prob)) <= PARITY_TOL
