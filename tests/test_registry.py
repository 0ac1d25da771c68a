"""The dataset registry: built-ins and a toy dataset registered from one module."""

from __future__ import annotations

import importlib

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
    from ecgzoo.config import build_config
    from ecgzoo.datasets import registry
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.metrics.names import epoch_metrics

    with pytest.raises(ConfigError, match="toy_windows"):
        build_config({"data": {"dataset": "toy_windows"}})
    toy = importlib.import_module("tests.toy_dataset.toy_windows")
    try:
        cfg = build_config({"data": {"dataset": "toy_windows"}, "train": {"monitor": "val_f1_V"}})
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
