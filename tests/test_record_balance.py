"""``train.record_balance_power``: each record's share of a class softened, by reference values;
the engine draws by it on real MIT-BIH beats; multi-label datasets refuse it in one line."""

from __future__ import annotations

import numpy as np
import pytest

from ecgzoo.errors import ConfigError
from ecgzoo.experiment import build_config
from ecgzoo.train.datamodule import EpochBatches, record_balance_weights


def test_weights_by_reference_values() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    groups = np.array([7, 7, 7, 9, 7, 3, 3])  # class 0: record 7 has 3, record 9 has 1
    w = record_balance_weights(y, groups, 0.5).numpy()
    # class 0: raw 3 ** -0.5 (x3) and 1, scaled to the class total 4
    scale = 4 / (3 * 3**-0.5 + 1)
    np.testing.assert_allclose(w[:4], [scale * 3**-0.5] * 3 + [scale], rtol=1e-12)
    assert w[:3].sum() / w[3] == pytest.approx(3**0.5)  # record shares count ** (1 - power)
    # class 1: record 7 one beat, record 3 two: at power 1 both records alike
    w1 = record_balance_weights(y, groups, 1.0).numpy()
    np.testing.assert_allclose(w1[4:], [1.5, 0.75, 0.75])
    np.testing.assert_allclose(record_balance_weights(y, groups, 0.0).numpy(), np.ones(7))
    for weights in (w, w1):  # every class keeps its total
        np.testing.assert_allclose(np.bincount(y, weights=weights), np.bincount(y))


def test_epoch_draws_follow_the_record_shares() -> None:
    y = np.zeros(2000, dtype=np.int64)
    groups = np.r_[np.zeros(1800), np.ones(200)]  # one record holds 90 % of the class
    sampler = EpochBatches(2000, 500, seed=0, sample_weights=record_balance_weights(y, groups, 1))
    sampler.set_epoch(0)
    drawn = np.concatenate([request.index for request in sampler])
    assert len(drawn) == 2000
    share = float((groups[drawn] == 1).mean())
    assert share == pytest.approx(0.5, abs=0.04)  # power 1: both records alike, not 10 %


def test_multilabel_datasets_refuse_it() -> None:
    with pytest.raises(ConfigError, match="train.record_balance_power"):
        build_config(
            {"data": {"dataset": "ptbxl"}, "train": {"loss": "bce", "monitor": "val_macro_auroc"}},
            ["train.record_balance_power=0.5"],
        )
    with pytest.raises(ConfigError, match="train.record_balance_power"):
        build_config({}, ["train.record_balance_power=1.5"])
    assert build_config({}, ["train.record_balance_power=0.5"]).train.record_balance_power == 0.5
