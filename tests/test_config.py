import pytest

from ecgzoo.config import parse_override
from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config, load_config


def test_overrides_are_typed_and_nested():
    cfg = build_config(
        {"name": "x"}, ["train.lr=0.01", "model.params.width=64", "train.augment=true"]
    )
    assert cfg.train.lr == 0.01
    assert cfg.model.params == {"width": 64}
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


# --------------------------------------------------------------------------- validated at load


def test_misspelt_model_params_are_refused_at_load_for_every_model(tmp_path):
    from ecgzoo.models.registry import available_models, model_params

    for info in available_models():
        valid = model_params(info.name)
        assert valid, info.name
        build_config({"model": {"name": info.name, "params": {}}})  # defaults are valid
        first = next(iter(valid))
        path = tmp_path / f"{info.name}.yaml"
        path.write_text(f"model:\n  name: {info.name}\n  params: {{{first}x: 1}}\n")
        with pytest.raises(ConfigError) as err:
            load_config(path)
        message = str(err.value)
        assert message.startswith(f"{path}: model.params.{first}x: ")
        assert f"did you mean {first!r}" in message and ", ".join(valid) in message
        assert "\n" not in message


def test_model_param_types_and_shape_args_are_checked():
    with pytest.raises(ConfigError, match=r"model\.params\.dropout: .*'lots'"):
        build_config({"model": {"name": "fc", "params": {"dropout": "lots"}}})
    with pytest.raises(ConfigError, match=r"model\.params\.n_classes: set by the data"):
        build_config({"model": {"name": "fc", "params": {"n_classes": 3}}})
    with pytest.raises(ConfigError, match=r"model\.name: unknown model 'resnet'.*resnet1d"):
        build_config({}, ["model.name=resnet"])
    cfg = build_config({}, ["model.name=fc", "model.params.hidden=64", "model.params.dropout=0.1"])
    assert cfg.model.params == {"hidden": 64, "dropout": 0.1}  # values kept as given


def test_monitor_is_checked_against_the_task_metrics():
    with pytest.raises(ConfigError, match=r"train\.monitor: 'val_challenge_f1' is not logged"):
        build_config({}, ["train.monitor=val_challenge_f1"])  # MIT-BIH has no challenge F1
    with pytest.raises(ConfigError, match=r"'val_f1_A'.*classes N, S, V, F, Q.*val_sv_f1"):
        build_config({}, ["train.monitor=val_f1_A"])
    with pytest.raises(ConfigError, match=r"'val_loss' is a loss: set train.monitor_mode"):
        build_config({}, ["train.monitor=val_loss"])
    with pytest.raises(ConfigError, match=r"'val_sv_f1' is not logged"):
        build_config({"data": {"dataset": "cinc2017"}}, ["train.monitor=val_sv_f1"])
    build_config({}, ["train.monitor=val_loss", "train.monitor_mode=min"])
    build_config({}, ["train.monitor=val_f1_S"])
    cfg = build_config({"data": {"dataset": "cinc2017"}}, ["train.monitor=val_f1_noisy"])
    assert cfg.train.monitor == "val_f1_noisy"


def test_one_list_of_metric_names_for_engine_configs_and_tune():
    from ecgzoo.metrics import names
    from ecgzoo.train import tasks
    from ecgzoo.tune import search

    assert search.EPOCH_METRICS is names.EPOCH_METRICS
    assert tasks.VAL_KEYS is names.VAL_KEYS
    # every metric tune offers is logged by some task, and every logged metric can be tuned on
    from ecgzoo.datasets import registry

    fixed = {d: registry.fixed_classes(d) for d in registry.names() if registry.fixed_classes(d)}
    logged = {m for classes in fixed.values() for m in names.epoch_metrics(classes)}
    logged |= {m for d in registry.names() for m in (registry.task_metrics(d) or ())}
    assert set(names.EPOCH_METRICS) <= logged
    for dataset, classes in fixed.items():
        for metric in names.epoch_metrics(classes):
            mode = "min" if names.minimised(metric) else "max"
            build_config(
                {"data": {"dataset": dataset}, "train": {"monitor": metric, "monitor_mode": mode}}
            )
