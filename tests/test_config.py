import pytest

from ecgzoo.config import build_config, load_config, parse_override
from ecgzoo.errors import ConfigError


def test_overrides_are_typed_and_nested():
    cfg = build_config(
        {"name": "x"}, ["train.lr=0.01", "model.params.hidden=64", "train.augment=true"]
    )
    assert cfg.train.lr == 0.01
    assert cfg.model.params == {"hidden": 64}
    assert cfg.train.augment is True


def test_unknown_key_names_the_option():
    with pytest.raises(ConfigError, match="train.lrr"):
        build_config({}, ["train.lrr=0.1"])


def test_bad_value_names_the_option():
    with pytest.raises(ConfigError, match="train.batch_size"):
        build_config({}, ["train.batch_size=0"])


def test_override_without_equals_is_refused():
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("train.lr")


def test_missing_and_invalid_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)


def test_every_shipped_config_validates():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert configs, "configs/ holds the experiments the docs reproduce"
    for path in configs:
        load_config(path)
