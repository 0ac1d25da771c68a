import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgzoo.errors import ConfigError
from ecgzoo.train.losses import FocalLoss, inverse_frequency_weights, make_loss


def test_focal_equals_cross_entropy_at_gamma_zero_with_unit_weights():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 5, generator=gen)
    target = torch.randint(0, 5, (64,), generator=gen)
    ce = F.cross_entropy(logits, target)
    assert torch.allclose(FocalLoss(gamma=0.0)(logits, target), ce, atol=1e-6)
    assert torch.allclose(FocalLoss(gamma=0.0, weight=torch.ones(5))(logits, target), ce, atol=1e-6)


def test_weighted_focal_at_gamma_zero_equals_weighted_cross_entropy():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(50, 4, generator=gen)
    target = torch.randint(0, 4, (50,), generator=gen)
    w = torch.tensor([0.5, 2.0, 1.0, 3.0])
    expected = F.cross_entropy(logits, target, weight=w)
    assert torch.allclose(FocalLoss(0.0, w)(logits, target), expected, atol=1e-6)


def test_focal_down_weights_easy_examples():
    logits = torch.tensor([[6.0, 0.0], [0.2, 0.0]])
    target = torch.tensor([0, 0])
    per_example_ce = F.cross_entropy(logits, target, reduction="none")
    focal = [float(FocalLoss(2.0)(logits[i : i + 1], target[i : i + 1])) for i in range(2)]
    # the confident example loses far more of its loss than the uncertain one
    assert focal[0] / float(per_example_ce[0]) < 0.01 < focal[1] / float(per_example_ce[1])


def test_inverse_frequency_weights():
    y = np.array([0] * 90 + [1] * 10)
    w = inverse_frequency_weights(y, 3)
    assert w.tolist() == pytest.approx([100 / (2 * 90), 100 / (2 * 10), 0.0])


def test_unknown_loss_and_negative_gamma():
    with pytest.raises(ConfigError, match="train.loss"):
        make_loss("hinge", np.array([0, 1]), 2)
    with pytest.raises(ConfigError, match="focal_gamma"):
        FocalLoss(-1.0)


def test_label_smoothing_by_reference_and_only_with_cross_entropy():
    from ecgzoo.experiment import build_config

    y = np.array([0] * 6 + [1] * 2)
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.3, -0.2], [0.0, 1.0, 2.0]])
    target = torch.tensor([0, 1, 1])
    loss = make_loss("weighted_ce", y, 3, smoothing=0.1)
    w = inverse_frequency_weights(y, 3)  # 8 / (2 * 6), 8 / (2 * 2), class 2 absent: 0
    # each example: 0.9 * -log p_y + 0.1 * the mean of -log p_c over the 3 classes, weighted by
    # its own class's weight (not torch's per-class weighting of the smoothing term)
    log_p = F.log_softmax(logits, dim=1)
    per = -0.9 * log_p[[0, 1, 2], target] - 0.1 * log_p.mean(dim=1)
    expected = (w[target] * per).sum() / w[target].sum()
    assert torch.allclose(loss(logits, target), expected, atol=1e-6)
    # without smoothing it is the plain weighted cross-entropy
    plain = make_loss("weighted_ce", y, 3)
    assert torch.allclose(plain(logits, target), F.cross_entropy(logits, target, weight=w))
    assert make_loss("ce", y, 3).label_smoothing == 0.0
    with pytest.raises(ConfigError, match="label_smoothing"):
        build_config(
            {"data": {"dataset": "mitbih"}}, ["train.label_smoothing=0.1", "train.loss=focal"]
        )


def test_a_power_per_class_softens_that_class_only():
    y = np.array([0] * 80 + [1] * 15 + [2] * 5)
    full = inverse_frequency_weights(y, 3, 1.0).numpy()
    mixed = inverse_frequency_weights(y, 3, np.array([1.0, 1.0, 0.5])).numpy()
    assert mixed[:2] == pytest.approx(full[:2])
    assert mixed[2] == pytest.approx((100 / (3 * 5)) ** 0.5)


def test_class_weight_power_of_is_checked_where_it_is_read():
    from ecgzoo.experiment import build_config
    from ecgzoo.train.tasks import SingleLabelTask, class_powers

    def train_config(*overrides):
        return build_config({"data": {"dataset": "mitbih"}}, list(overrides)).train

    tc = train_config("train.loss=weighted_ce", "train.class_weight_power_of={V: 0.5}")
    assert tc.class_weight_power_of == {"V": 0.5}
    assert class_powers(tc, ["N", "S", "V", "F"]).tolist() == [1.0, 1.0, 0.5, 1.0]
    y = np.array([0] * 90 + [1] * 4 + [2] * 4 + [3] * 2)
    loss = SingleLabelTask(tc, y, ["N", "S", "V", "F"]).loss
    expected = inverse_frequency_weights(y, 4, np.array([1.0, 1.0, 0.5, 1.0]))
    assert torch.allclose(loss.weight, expected)
    with pytest.raises(ConfigError, match=r"class_weight_power_of: X not among the classes"):
        class_powers(
            train_config("train.loss=weighted_ce", "train.class_weight_power_of={X: 1}"), ["N", "V"]
        )
    for bad, message in (
        (["train.loss=weighted_ce", "train.class_weight_power_of={V: 2}"], "not in \\[0, 1\\]"),
        (["train.loss=ce", "train.class_weight_power_of={V: 0.5}"], "needs weighted_ce or focal"),
    ):
        with pytest.raises(ConfigError, match=message):
            train_config(*bad)
