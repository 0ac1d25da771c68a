"""Search spaces and search options, checked without starting Ray (the searches themselves:
tests/test_tune.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config
from ecgzoo.tune import apply_values, load_space, parse_space, run_search, sample_space
from tests.test_tune import SPACES, TINY

# -- spaces (no Ray) ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in SPACES.glob("*.yaml")))
def test_shipped_spaces_load_and_sample(name):
    space = load_space(SPACES / f"{name}.yaml")
    samples = sample_space(space, 50, seed=1)
    for values in samples:
        for key, spec in space.params.items():
            value = values[key]
            if spec.type in ("int", "uniform", "loguniform", "quniform"):
                assert spec.low <= value <= spec.high, (key, value)
            if spec.type == "int":
                assert isinstance(value, int) and not isinstance(value, bool)
            if spec.type == "choice":
                assert value in spec.values


def test_cnn_space_reproduces_the_study():
    space = load_space(SPACES / "cnn.yaml")
    p = space.params
    assert (p["model.params.hidden"].low, p["model.params.hidden"].high) == (40, 150)
    assert (p["model.params.n_blocks"].low, p["model.params.n_blocks"].high) == (1, 2)
    assert set(p["model.params.activation"].values) == {"relu", "gelu", "leakyrelu"}
    assert (p["model.params.dropout"].low, p["model.params.dropout"].high) == (0.1, 0.5)
    assert set(p["model.params.attention"].values) == {True, False}


def test_rnn_space_hidden_always_divisible_by_heads():
    space = load_space(SPACES / "rnn.yaml")
    samples = sample_space(space, 1000, seed=0)
    hidden = [s["model.params.hidden"] for s in samples]
    heads = [s["model.params.n_heads"] for s in samples]
    assert all(h % n == 0 for h, n in zip(hidden, heads, strict=True))
    assert all(8 <= h <= 200 for h in hidden)
    assert {s["model.params.cell"] for s in samples} == {"gru", "lstm"}
    assert {s["model.params.n_layers"] for s in samples} == {1, 2}
    assert all(s["model.params.attention"] is True for s in samples)
    assert len(set(hidden)) > 50  # the whole range is explored, not a handful of values
    assert set(heads) == {1, 2, 4, 8}


@pytest.mark.slow  # imports Ray Tune
def test_rnn_space_suggestions_of_hyperopt_search_are_valid():
    """What HyperOptSearch (TPE) actually suggests, decoded as the trials decode it."""
    from ray.tune.search.hyperopt import HyperOptSearch

    space = load_space(SPACES / "rnn.yaml")
    searcher = HyperOptSearch(
        space=space.to_hyperopt(), metric="val_macro_recall", mode="max", random_state_seed=3
    )
    for i in range(200):
        values = space.decode(searcher.suggest(f"t{i}"))
        assert values["model.params.hidden"] % values["model.params.n_heads"] == 0


def _write(tmp_path: Path, tree: dict) -> Path:
    path = tmp_path / "bad_space.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"model.params.hiddn": {"type": "int", "low": 8, "high": 64}}, "model.params.hiddn"),
        ({"train.lrr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}}, "train.lrr"),
        ({"model.params.hidden": {"type": "int", "low": 64, "high": 8}}, "model.params.hidden"),
        ({"model.params.dropout": {"type": "uniform", "low": 0.3, "high": 0.3}}, "empty range"),
        ({"model.params.cell": {"type": "choice", "values": []}}, "model.params.cell"),
        ({"model.params.dropout": {"type": "gaussian", "low": 0, "high": 1}}, "gaussian"),
        ({"train.lr": {"type": "loguniform", "low": 0.0, "high": 1e-2}}, "train.lr"),
        ({"model.params.hidden": {"type": "int", "lo": 8, "high": 64}}, "model.params.hidden"),
    ],
)
def test_bad_space_raises_config_error_naming_file_and_parameter(tmp_path, params, needle):
    path = _write(tmp_path, {"model": "rnn", "params": params})
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert str(path) in message
    assert needle in message
    assert "\n" not in message


def test_divisible_constraint_with_no_valid_multiple_is_refused(tmp_path):
    path = _write(
        tmp_path,
        {
            "model": "rnn",
            "params": {
                "model.params.hidden": {"type": "int", "low": 9, "high": 15},
                "model.params.n_heads": {"type": "choice", "values": [4, 16]},
            },
            "constraints": {"divisible": ["model.params.hidden", "model.params.n_heads"]},
        },
    )
    with pytest.raises(ConfigError, match=r"bad_space\.yaml.*model\.params\.hidden.*16"):
        load_space(path)


def test_space_for_another_model_is_refused():
    space = load_space(SPACES / "rnn.yaml")
    with pytest.raises(ConfigError, match=r"rnn\.yaml.*rnn.*cnn2d"):
        space.check(build_config(TINY))


def test_model_params_checked_against_the_base_config_model():
    space = parse_space({"params": {"model.params.cell": {"type": "choice", "values": ["gru"]}}})
    with pytest.raises(ConfigError, match="model.params.cell"):
        space.check(build_config(TINY))  # cnn2d has no 'cell'


def test_apply_values_keeps_types():
    cfg = apply_values(build_config(TINY), {"train.lr": 1e-05, "model.params.attention": True})
    assert cfg.train.lr == pytest.approx(1e-5)
    assert cfg.model.params["attention"] is True
    assert cfg.model.params["hidden"] == 32


def test_wandb_option_needs_wandb(tmp_path, monkeypatch):

    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed (it may be here)
    space = load_space(SPACES / "cnn.yaml")
    with pytest.raises(ConfigError, match="pip install wandb"):
        run_search(
            build_config(TINY), space, num_samples=1, wandb=True, experiment_dir=tmp_path / "x"
        )
    assert not (tmp_path / "x").exists()


def test_unknown_metric_is_refused(tmp_path):
    space = load_space(SPACES / "cnn.yaml")
    with pytest.raises(ConfigError, match="metric"):
        run_search(
            build_config(TINY), space, num_samples=1, metric="test_recall", experiment_dir=tmp_path
        )


def test_tune_command_reports_a_missing_space_file(tmp_path):
    from ecgzoo.tune import tune_command

    config = tmp_path / "base.yaml"
    config.write_text(yaml.safe_dump(TINY))
    with pytest.raises(ConfigError, match="nope.yaml"):
        tune_command(config, tmp_path / "nope.yaml", num_samples=1, output=tmp_path / "out")
