"""CinC 2017 without padding (``data.cinc2017.fill``) and crop voting over distinct crops, on
real recordings (fixture ``cinc2017_dir``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from ecgzoo.config import TrainConfig
from ecgzoo.datasets.cinc2017 import load_cinc2017, load_external
from ecgzoo.datasets.cinc2017_options import Cinc2017Options
from ecgzoo.errors import ConfigError
from ecgzoo.examples.transforms import multi_crop
from ecgzoo.experiment import build_config
from ecgzoo.models.registry import build_model
from ecgzoo.runs.runfolder import ModelSpec
from ecgzoo.train.engine import make_datamodule
from ecgzoo.train.evaluate import predict_proba, predict_split
from ecgzoo.train.voting import distinct_crops, vote_proba

FS, LENGTH_S, CROP_S = 150.0, 60.0, 30.0
ZERO_RUN = 15  # 0.1 s of exact zeros: never in a z-scored real ECG, always in padding


def zero_runs(x: np.ndarray, k: int = ZERO_RUN) -> np.ndarray:
    """Per input: does it hold ``k`` consecutive exact zeros anywhere (padding)?"""
    z = (np.asarray(x).reshape(len(x), -1) == 0).astype(np.int32)
    run = np.cumsum(z, axis=1)
    run[:, k:] -= run[:, :-k].copy()
    return (run[:, k - 1 :] == k).any(axis=1)


class Recorder(nn.Module):
    """Stands in for a model: keeps every input it is given, answers uniform logits."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.seen: list[np.ndarray] = []

    def forward(self, x: torch.Tensor, features=None) -> torch.Tensor:
        self.seen.append(x.detach().cpu().numpy().copy())
        return torch.zeros(len(x), 4) + self.dummy


def options(fill: str) -> Cinc2017Options:
    return Cinc2017Options(
        max_records=80, length_s=LENGTH_S, fs=FS, normalise=True, random_crop_s=CROP_S, fill=fill
    )


@pytest.fixture(scope="module")
def prepared(cinc2017_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("cinc-fill-cache")
    return {
        fill: load_cinc2017(options(fill), seed=0, root=cinc2017_dir, cache_dir=cache)
        for fill in ("zero", "tile")
    }


def model_inputs(data) -> dict[str, np.ndarray]:
    """Every input the model gets in training (one epoch), validation and final scoring."""
    crop = int(CROP_S * FS)
    spec = ModelSpec("resnet1d", {}, 1, data.n_samples, 4, 0, ["N", "A", "O", "~"], FS)
    spec.crop_samples = crop
    dm = make_datamodule(TrainConfig(batch_size=16, augment=False), data, spec)
    train = np.concatenate([b[0].numpy() for b in dm.train_dataloader()])
    val = np.concatenate([b[0].numpy() for b in dm.val_dataloader()])
    recorder = Recorder()
    predict_split(recorder, spec, data.test)
    return {"train": train, "val": val, "test": np.concatenate(recorder.seen)}


def test_fill_extends_short_recordings_with_the_recording_itself(prepared) -> None:
    zero, tile = prepared["zero"].train, prepared["tile"].train
    lengths = zero.lengths
    short = np.flatnonzero(lengths < zero.x.shape[-1])
    assert len(short) > 10 and np.array_equal(lengths, tile.lengths)
    for i in short[:10]:
        n = int(lengths[i])
        real = zero.x[i, 0, :n]
        assert np.array_equal(tile.x[i, 0, :n], real)  # the real part is untouched
        assert np.all(zero.x[i, 0, n:] == 0)
        assert np.array_equal(tile.x[i, 0, n:], np.resize(real, zero.x.shape[-1] - n))
    assert zero_runs(zero.x).any() and not zero_runs(tile.x).any()


def test_reflect_mirrors_real_recordings(prepared, cinc2017_dir: Path) -> None:
    zero = prepared["zero"].train
    short = np.flatnonzero(zero.lengths < int(CROP_S * FS))[:4]  # shorter than one crop
    ids = [str(r) for r in zero.groups[short]]
    ext = load_external(
        cinc2017_dir / "training2017",
        {r: "N" for r in ids},
        options("reflect").model_copy(update={"max_records": None}),
    )
    assert list(ext.groups) == sorted(ids) and not zero_runs(ext.x).any()
    for i, rid in enumerate(ext.groups):
        j = short[ids.index(rid)]
        n = int(zero.lengths[j])
        assert int(ext.lengths[i]) == n
        mirrored = np.pad(zero.x[j, 0, :n], (0, zero.x.shape[-1] - n), mode="symmetric")
        np.testing.assert_allclose(ext.x[i, 0], mirrored, atol=1e-6)


def test_no_training_or_evaluation_input_holds_padding(prepared) -> None:
    """The control (zero fill) shows the check can fail; with tile fill nothing the model is
    given, in training, validation or final scoring, holds a run of padding zeros."""
    control = model_inputs(prepared["zero"])
    assert any(zero_runs(x).any() for x in control.values())
    inputs = model_inputs(prepared["tile"])
    crop = int(CROP_S * FS)
    for name, x in inputs.items():
        assert x.shape[-1] == crop, name
        assert not zero_runs(x).any(), f"{name}: a crop holds zero padding"
    assert len(inputs["train"]) == len(prepared["tile"].train)


def test_voting_over_distinct_crops_matches_scoring_every_crop(prepared) -> None:
    split = prepared["tile"].test
    crop = int(CROP_S * FS)
    torch.manual_seed(0)
    model = build_model("resnet1d", 1, crop, 4, n_blocks=2, width=8, kernel=5, stem_stride=4)
    crops = multi_crop(np.asarray(split.x), crop, 5, split.lengths)
    every = predict_proba(model, crops.reshape((-1,) + crops.shape[2:]))
    every = every.reshape(len(split), 5, -1).mean(axis=1)
    voted = vote_proba(model, np.asarray(split.x), crop, 5, split.lengths)
    np.testing.assert_allclose(voted, every, atol=1e-5)
    owner, _, weight = distinct_crops(split.lengths, crop, 5)
    assert len(owner) < 5 * len(split)  # recordings one crop long are scored once
    np.testing.assert_allclose(np.bincount(owner, weight), 1.0)


def test_fill_option_is_validated() -> None:
    with pytest.raises(ConfigError) as exc:
        build_config({"data": {"dataset": "cinc2017", "cinc2017": {"fill": "mirror"}}}, source="x")
    assert "fill" in str(exc.value) and "\n" not in str(exc.value)


def test_a_flatten_head_on_random_crops_is_refused_in_one_line(tmp_path, cinc2017_dir) -> None:
    """A dense layer on the whole input cannot take 30 s crops of a 60 s input: a clear
    ConfigError before training, not a shape error from inside the model."""
    from ecgzoo.train.engine import train_run

    config = build_config(
        {
            "name": "flat-crops",
            "output_dir": str(tmp_path),
            "data": {
                "dataset": "cinc2017",
                "cinc2017": {"max_records": 24, "length_s": 20.0, "random_crop_s": 10.0},
            },
            "model": {
                "name": "resnet1d",
                "params": {"n_blocks": 2, "width": 8, "global_pool": False},
            },
            "train": {"epochs": 1, "batch_size": 8, "max_steps_per_epoch": 1},
        }
    )
    with pytest.raises(ConfigError, match="random_crop_s trains it on crops of 3000") as info:
        train_run(config, progress=False)
    assert "\n" not in str(info.value) and "global_pool: true" in str(info.value)
