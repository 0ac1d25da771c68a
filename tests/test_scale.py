"""Receptive field, MACs and parameters of resnet1d scales (no training)."""

from __future__ import annotations

import pytest

from ecgzoo.errors import ConfigError
from ecgzoo.models.registry import build_model, count_parameters
from ecgzoo.models.scale import count_macs, receptive_field, resnet_params, scale_profile


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # stem k3 s1: 3; block 0 (stride 1) two k3 convs: 5, 7; block 1 (stride 2): conv1 k3 -> 9
        # then jump 2, conv2 k3 -> 9 + 2 * 2 = 13.
        ({"n_blocks": 2, "width": 8, "kernel": 3, "stem_stride": 1, "stem_kernel": 3}, 13),
        # stem k8 s4: 8, jump 4; maxpool 2: 8 + 1 * 4 = 12, jump 8; block 0 k5 x2: 12 + 4 * 8 * 2
        # = 76; block 1 stride 2: conv1 76 + 32 = 108, jump 16, conv2 108 + 64 = 172; block 2
        # stride 2: 172 + 64 = 236, jump 32, + 128 = 364.
        (
            {
                "n_blocks": 3,
                "width": 4,
                "kernel": 5,
                "stem_stride": 4,
                "stem_kernel": 8,
                "stem_pool": 2,
            },
            364,
        ),
        # no blocks: the stem alone
        ({"n_blocks": 0, "width": 4, "kernel": 9, "stem_stride": 1}, 9),
        # downsampling every second block: blocks 0, 1 stride 1, block 2 stride 2 (k7):
        # stem 7; four convs +6 each -> 31; block 2 conv1 37 (jump 2), conv2 37 + 12 = 49.
        ({"n_blocks": 3, "width": 4, "kernel": 7, "stem_stride": 1, "downsample_every": 2}, 49),
    ],
)
def test_receptive_field_hand_computed(params, expected):
    model = build_model("resnet1d", 1, 1000, 3, **params)
    assert receptive_field(model) == expected


def test_macs_hand_computed_and_profile():
    model = build_model(
        "resnet1d", 1, 187, 5, n_blocks=2, width=8, kernel=3, stem_stride=1, stem_kernel=3
    )
    # stem 8*1*3*187; block 0: 2 * 8*8*3*187; block 1 (length 94): 2 * 8*8*3*94 + 1x1 shortcut
    # 8*8*94; classifier 8*5.
    expected = 8 * 3 * 187 + 2 * 64 * 3 * 187 + 2 * 64 * 3 * 94 + 64 * 94 + 8 * 5
    assert count_macs(model, 1, 187) == expected
    gap = scale_profile(1, 187, 5, 360.0, resnet_params(2, 8, 3, "gap"))
    flat = scale_profile(1, 187, 5, 360.0, resnet_params(2, 8, 3, "flatten"))
    assert gap["rf_samples"] == flat["rf_samples"]
    assert gap["rf_seconds"] == pytest.approx(gap["rf_samples"] / 360.0)
    assert flat["params"] > gap["params"]  # the classifier sees width x length features
    built = build_model("resnet1d", 1, 187, 5, **resnet_params(2, 8, 3))
    assert gap["params"] == count_parameters(built)
    with pytest.raises(ConfigError, match="pooling"):
        resnet_params(2, 8, 3, "max")
