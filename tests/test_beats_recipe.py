"""The inter-patient recipe of issue 19 as options of the beat task, on real MIT-BIH records:
Q out of training, capped class weights, DS1 folds / all DS1, log RR ratios, the median-beat
channel, position-keeping pooling, beat_cnn, random shifts and the fixed schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgzoo.datasets import mitbih
from ecgzoo.datasets.contextset import CONTEXT_SETS, features_of_set
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.datasets.splits import DS1 as DS1_NAMES
from ecgzoo.datasets.splits import DS2 as DS2_NAMES
from ecgzoo.examples.beat_context import with_median_channel
from ecgzoo.experiment import build_config
from ecgzoo.models.registry import build_model
from ecgzoo.train.datamodule import shift_batch
from ecgzoo.train.losses import inverse_frequency_weights, make_loss

# DS1: 101 (2 Q beats), 106, 109; DS2: 100, 105 (5 Q beats), 232
RECORDS = ["101", "106", "109", "100", "105", "232"]
Q = 4
DS1 = {int(r) for r in DS1_NAMES}
DS2 = {int(r) for r in DS2_NAMES}


def _load(**kw):
    options = MitbihOptions(segmentation="centered", split="inter", fs=128.0, records=RECORDS, **kw)
    return mitbih.load_mitbih(options, seed=1)


@pytest.fixture(scope="module")
def recipe_data(mitdb_dir):
    return _load(
        train_exclude_classes=["Q"],
        inter_validation="none",
        rr_context_set="rr_log_ratios",
        median_beat_channel=True,
    )


def test_weights_cap_and_absent_classes():
    y = np.array([0] * 1000 + [1] * 10 + [2] * 100 + [4] * 1)
    w = inverse_frequency_weights(y, 5).numpy()
    assert w[3] == 0 and w[4] > 200  # an absent class weighs nothing; one beat weighs a lot
    capped = inverse_frequency_weights(y, 5, cap=20.0).numpy()
    assert capped.max() == pytest.approx(20.0) and capped[0] == pytest.approx(w[0])
    loss = make_loss("weighted_ce", y, 5, cap=20.0)
    assert torch.allclose(loss.weight, torch.tensor(capped))


def test_q_left_out_of_training_only(recipe_data, mitdb_dir):
    data = recipe_data
    assert not np.any(data.train.y == Q)
    kept = _load(inter_validation="none", median_beat_channel=True)  # Q trained on
    assert np.sum(kept.train.y == Q) == 2  # record 101's two Q beats
    assert np.sum(data.test.y == Q) == 5  # still scored: record 105's five
    np.testing.assert_array_equal(data.test.y, kept.test.y)


def test_all_ds1_trains_and_no_ds2_record_reaches_training(recipe_data):
    data = recipe_data
    train_records = set(np.unique(data.train.groups).tolist())
    assert train_records == {101, 106, 109}
    assert train_records <= set(DS1) and not train_records & set(DS2)
    assert set(np.unique(data.test.groups).tolist()) == {100, 105, 232}
    assert data.meta["inter_validation"] == "none"


def test_record_wise_folds_over_ds1(mitdb_dir):
    seen = []
    for fold in (0, 1):
        data = _load(inter_validation="fold", val_fold=fold, n_val_folds=2)
        tr, va = set(np.unique(data.train.groups)), set(np.unique(data.val.groups))
        assert not tr & va and tr | va == {101, 106, 109}
        assert not (tr | va) & set(DS2)
        seen.append(va)
    assert seen[0] | seen[1] == {101, 106, 109} and not seen[0] & seen[1]


def test_log_rr_ratios_are_the_log_of_the_ratios(recipe_data):
    peaks = np.cumsum(np.r_[100, np.full(20, 300), 180, 420, np.full(20, 300)])
    log = features_of_set("rr_log_ratios", peaks, 360.0)
    raw = features_of_set("rr_ratios", peaks, 360.0)
    np.testing.assert_allclose(log, np.log(raw), rtol=1e-5, atol=1e-6)
    assert recipe_data.n_features == len(CONTEXT_SETS["rr_log_ratios"]) == 6
    assert recipe_data.meta["side_features"] == "rr_log_ratios"


def test_median_beat_channel_is_label_free(recipe_data):
    x = recipe_data.test.x
    assert x.shape[1] == 2
    rows = recipe_data.test.groups == 232
    beats = x[rows, 0]
    np.testing.assert_allclose(x[rows, 1], beats - np.median(beats, axis=0), atol=1e-5)
    # the channel depends on the beats only: the same beats in another order give the same rows
    perm = np.random.default_rng(0).permutation(len(beats))
    np.testing.assert_allclose(with_median_channel(beats[perm])[:, 1], x[rows, 1][perm], atol=1e-5)


def test_position_pooling_and_mlp_head_leave_defaults_unchanged():
    torch.manual_seed(0)
    plain = build_model("resnet1d", 1, 252, 5, 8, n_blocks=3, width=16, kernel=5, stem_stride=4)
    keys = set(plain.state_dict())
    assert not any("position_pool" in k for k in keys)
    assert sum(p.numel() for p in plain.parameters()) == 8701  # pretrained:mitbih-inter's
    pos = build_model(
        "resnet1d", 2, 90, 5, 6, n_blocks=2, width=8, stem_stride=1, pool_positions=4,
        head_hidden=16,
    )  # fmt: skip
    assert pos.head.mlp[0].in_features == 8 * 4 + 6 and pos.head.mlp[0].out_features == 16
    out = pos(torch.randn(3, 2, 90), torch.randn(3, 6))
    assert out.shape == (3, 5)
    assert pos(torch.randn(3, 2, 100), torch.randn(3, 6)).shape == (3, 5)  # any length


def test_beat_cnn_joins_rr_and_morphology():
    model = build_model("beat_cnn", 2, 90, 5, 6, hidden=32, positions=4)
    assert model.head.mlp[0].in_features == 64 * 4 + 6
    x, f = torch.randn(4, 2, 90), torch.randn(4, 6)
    model.eval()
    out = model(x, f)
    f2 = f.clone()
    f2[:, 0] += 3.0
    assert out.shape == (4, 5) and not torch.allclose(out, model(x, f2))


def test_shift_batch_moves_windows_within_the_range():
    x = torch.arange(20, dtype=torch.float32).repeat(500, 2, 1)  # (500, 2, 20)
    out = shift_batch(x, 3, torch.Generator().manual_seed(0))
    shift = out[:, 0, 10] - x[:, 0, 10]
    assert set(shift.long().tolist()) == {-3, -2, -1, 0, 1, 2, 3}
    assert torch.equal(out[:, 0], out[:, 1])  # both channels move together
    assert out.min() == 0 and out.max() == 19  # edges repeat, nothing wraps around
    assert torch.equal(shift_batch(x, 0, torch.Generator()), x)


def test_fixed_schedule_monitor_is_accepted():
    cfg = build_config({"train": {"monitor": "epoch", "monitor_mode": "max"}})
    assert cfg.train.monitor == "epoch"
    with pytest.raises(Exception, match="epoch"):
        build_config({"train": {"monitor": "epoch", "monitor_mode": "min"}})
