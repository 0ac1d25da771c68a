"""The dataset registry: built-ins and a toy dataset registered from one module."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.errors import ConfigError


def test_builtin_datasets_are_registered_with_their_task_and_classes():
    from ecgzoo.datasets import registry

    assert set(registry.names()) >= {"mitbih", "svdb", "cinc2017", "cinc2021", "rhythm_windows"}
    assert registry.get("mitbih").task == "beats"
    assert registry.fixed_classes("cinc2017") == ("N", "A", "O", "~")
    assert registry.is_multilabel("cinc2021") and not registry.is_multilabel("mitbih")
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        registry.get("nope")


def test_a_toy_dataset_from_one_module_trains_through_the_config(mitdb_dir):
    from ecgzoo.config import dump_config
    from ecgzoo.datasets import registry
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.experiment import build_config
    from ecgzoo.metrics.names import epoch_metrics

    with pytest.raises(ConfigError, match="toy_windows"):
        build_config({"data": {"dataset": "toy_windows"}})
    toy = importlib.import_module("tests.toy_dataset.toy_windows")
    try:
        cfg = build_config({"data": {"dataset": "toy_windows"}, "train": {"monitor": "val_f1_V"}})
        # its options became the section data.toy_windows: validated, overridable, misspellings
        # refused with the closest option, the defaults in the resolved config
        assert cfg.data.options == cfg.data.toy_windows == toy.ToyOptions()
        assert "toy_windows:" in dump_config(cfg)
        five = build_config({"data": {"dataset": "toy_windows"}}, ["data.toy_windows.window_s=5"])
        assert five.data.options.window_s == 5.0
        with pytest.raises(ConfigError, match="did you mean 'data.toy_windows.window_s'"):
            build_config({"data": {"dataset": "toy_windows"}}, ["data.toy_windows.windows_s=5"])
        with pytest.raises(ConfigError, match="data.toy_windows.fs: Input should be a valid"):
            build_config({"data": {"dataset": "toy_windows", "toy_windows": {"fs": "fast"}}})
        data = load_data(cfg.data)
        assert data.class_names == ["no_V", "V"]
        assert data.train.x.shape[1:] == (1, 1250) and len(data.test) > 10
        assert 0 < data.train.y.mean() < 1  # both classes among the training windows
        assert "val_f1_V" in epoch_metrics(data.class_names, "toy_windows")
        # a model trained on it is fed through the same InputSpec the dataset used
        spec = registry.get("toy_windows").model_input(cfg.data, None)
        assert spec == toy.input_spec(toy.ToyOptions())
        from ecgzoo.readers.mitdb import MitdbReader

        rec = MitdbReader(mitdb_dir).read("119")
        lead = rec.signal[spec.lead_index(rec.lead_names)]
        again = spec.prepare(lead[:3600], rec.fs).x
        assert np.array_equal(again[0], data.test.x[0])
    finally:
        registry.unregister("toy_windows")


def test_a_toy_dataset_is_one_file_the_package_never_names():
    """The promise of docs/adding-a-dataset.md: the toy is one module (its reader is an
    existing one) and nothing in the package names it, its options or its module."""
    src = Path(__file__).resolve().parents[1] / "src" / "ecgzoo"
    toy_files = list((Path(__file__).parent / "toy_dataset").glob("*.py"))
    assert [f.name for f in toy_files if f.name != "__init__.py"] == ["toy_windows.py"]
    for path in src.rglob("*.py"):
        text = path.read_text()
        for name in ("toy_windows", "ToyOptions", "toy_dataset"):
            assert name not in text, f"{path} names {name}"


def test_the_config_schema_is_a_leaf_and_sections_come_from_the_registry():
    """``ecgzoo.config`` knows no dataset: every options section of a loaded config is the
    class the dataset's spec names."""
    import ast

    from ecgzoo.datasets import registry
    from ecgzoo.experiment import build_config

    tree = ast.parse((Path(__file__).resolve().parents[1] / "src/ecgzoo/config.py").read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ecgzoo")
    }
    assert imported <= {"ecgzoo.errors", "ecgzoo.paths", "ecgzoo.safe_load"}, imported
    cfg = build_config({"data": {"dataset": "cinc2017"}, "train": {"monitor": "val_macro_f1"}})
    for name in registry.names():
        spec = registry.get(name)
        if spec.section_name is not None:
            assert type(getattr(cfg.data, spec.section_name)) is spec.options_class()
    assert cfg.data.options is cfg.data.cinc2017


def test_the_cli_and_evaluate_find_dataset_specifics_through_the_registry():
    """``data fetch|prepare|info`` take a database or a dataset made from one, and a dataset
    without an ``external`` hook says so, without a table or branch in the CLI."""
    from ecgzoo.cli.data import database_name, dataset_for
    from ecgzoo.datasets import registry
    from ecgzoo.errors import EcgzooError

    assert database_name("mitbih") == database_name("mitdb") == "mitdb"
    assert dataset_for("mitdb").name == "mitbih" and dataset_for("ptbxl").name == "ptbxl"
    assert dataset_for("challenge-2017").name == "cinc2017"
    with pytest.raises(EcgzooError, match=r"unknown database 'nosuch' \(choose .*mitdb \(mitbih\)"):
        database_name("nosuch")
    with pytest.raises(ConfigError, match="cannot be scored on external recordings"):
        registry.get("svdb").load_external(None, "folder", None, None)
    assert registry.get("cinc2017").external is not None


def test_a_loaded_config_pickles_with_the_values_as_given():
    """The checked classes are built per set of registered datasets; a config (or its data
    section) still pickles, and comes back equal, with the same options left at defaults."""
    import pickle

    from ecgzoo.experiment import load_config

    demo = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
    cfg = load_config(demo, ["train.lr=0.01", "data.mitbih.split=inter"])
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and type(again) is type(cfg)
    assert again.train.model_fields_set == cfg.train.model_fields_set
    assert pickle.loads(pickle.dumps(cfg.data)) == cfg.data
