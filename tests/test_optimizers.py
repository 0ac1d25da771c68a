"""``train.optimizer``: validated in the config, built as asked, trainable, and searchable."""

from __future__ import annotations

import pytest
import torch

from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config
from ecgzoo.train.module import make_optimizer
from ecgzoo.tune.space import apply_values, parse_space, sample_space

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
BASE = {"data": {"dataset": "mitbih"}, "model": {"name": "fc", "params": {"hidden": 8}}}


def test_unknown_optimizer_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="train.optimizer"):
        build_config(BASE, ["train.optimizer=adagrad"])
    with pytest.raises(ConfigError, match="train.momentum"):
        build_config(BASE, ["train.momentum=1.5"])


@pytest.mark.parametrize(
    ("name", "cls", "momentum"),
    [
        ("adam", torch.optim.Adam, None),
        ("adamw", torch.optim.AdamW, None),
        ("rmsprop", torch.optim.RMSprop, 0.8),
        ("sgd", torch.optim.SGD, 0.8),
    ],
)
def test_each_optimizer_is_built_with_its_settings(name, cls, momentum):
    tc = build_config(BASE, [f"train.optimizer={name}", "train.momentum=0.8", "train.lr=0.01"])
    layer = torch.nn.Linear(3, 2)
    opt = make_optimizer(list(layer.parameters()), tc.train.optimizer, 0.01, 0.0, 0.8)
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.01
    if momentum is not None:
        assert group["momentum"] == momentum
    # one step moves the weights
    before = layer.weight.detach().clone()
    layer(torch.ones(4, 3)).pow(2).sum().backward()
    opt.step()
    assert not torch.equal(before, layer.weight)


def test_optimizer_is_a_searchable_choice():
    space = parse_space(
        {
            "model": "fc",
            "params": {
                "train.optimizer": {"type": "choice", "values": list(OPTIMIZERS)},
                "train.momentum": {"type": "uniform", "low": 0.5, "high": 0.95},
            },
        }
    )
    base = build_config(BASE)
    seen = set()
    for values in sample_space(space, 24, seed=1):
        cfg = apply_values(base, values)
        seen.add(cfg.train.optimizer)
        assert 0.5 <= cfg.train.momentum <= 0.95
    assert seen == {"adam", "adamw", "rmsprop", "sgd"}
    bad = parse_space({"params": {"train.optimizer": {"type": "choice", "values": ["lion"]}}})
    with pytest.raises(ConfigError, match="optimizer"):
        bad.check(base, n_samples=2)


def test_training_uses_the_configured_optimizer(tmp_path, mitdb_dir):
    from ecgzoo.train.engine import train_run

    cfg = build_config(
        {
            "name": "sgd",
            "output_dir": str(tmp_path),
            "data": {
                "dataset": "mitbih",
                "mitbih": {"records": ["100", "119", "208"], "max_beats_per_class": 60},
            },
            "model": {"name": "fc", "params": {"hidden": 16}},
            "train": {
                "epochs": 1,
                "batch_size": 32,
                "max_steps_per_epoch": 3,
                "optimizer": "sgd",
                "momentum": 0.9,
                "lr": 0.05,
                "train_loss_examples": 0,
            },
        }
    )
    result = train_run(cfg, progress=False)
    assert result.history[0]["lr"] == pytest.approx(0.05)
    ckpt = torch.load(result.run_dir / "checkpoint.pt", weights_only=True)
    state = ckpt["optimizer_states"][0]
    assert state["param_groups"][0]["momentum"] == 0.9  # SGD's, not Adam's betas
    assert "betas" not in state["param_groups"][0]
