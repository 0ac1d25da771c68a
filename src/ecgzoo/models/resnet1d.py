"""1D residual network, scalable in depth, width and kernel size.

Reproduces the 1D ResNet family used for ECG classification (He et al. 2016, "Deep residual
learning for image recognition", adapted to 1D signals as in Hannun et al. 2019, "Cardiologist-
level arrhythmia detection and classification in ambulatory electrocardiograms using a deep
neural network", Nat. Med. 25, and Kachuee et al. 2018, "ECG heartbeat classification: a deep
transferable representation"): a convolutional stem, ``n_blocks`` basic residual blocks with batch
norm and strided downsampling, global average pooling (or flattening) and a linear classifier.

The three scaling axes, depth ``n_blocks`` (D), width ``width`` (C) and kernel ``kernel`` (K), are
independent: every block has the same width and kernel, so a D x C x K sweep changes one thing at
a time. The cost per example is roughly ``2 C^2 K`` multiply-adds per block per output sample, so
``stem_stride`` (which divides every later length) is the main speed knob.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ecgzoo.errors import ConfigError
from ecgzoo.models.base import EcgModel
from ecgzoo.models.blocks import (
    ClassifierHead,
    PositionPool1d,
    ResidualBlock1d,
    check_bool,
    check_dropout,
    check_int,
    make_activation,
)

NAME = "resnet1d"

#: Recommended fast configuration for MIT-BIH beats (see ``benchmarks/inference_speed.py``).
FAST = {"n_blocks": 3, "width": 16, "kernel": 5, "stem_stride": 4}


def _conv_len(n: int, kernel: int, stride: int) -> int:
    return (n + 2 * (kernel // 2) - kernel) // stride + 1


class ResNet1D(EcgModel):
    """Stem conv -> ``n_blocks`` residual blocks -> global average pool / flatten -> classifier.

    Hyperparameters:
        n_blocks: residual blocks, D (5).
        width: channels of the stem and of every block, C (64).
        kernel: kernel size of every block convolution, K (7).
        stem_stride: stride of the stem convolution; 0 picks 1 for inputs up to 1024 samples and
            otherwise the smallest power of two that leaves at most 1024 samples (32 for 18,000
            samples) (0). 2 or 4 make beat models several times faster.
        stem_kernel: kernel of the stem convolution; 0 uses ``max(kernel, stem_stride)`` so that
            a strided stem still sees every sample (0).
        stem_pool: max-pooling size and stride after the stem; 1 means none (1).
        stride: stride of the downsampling blocks (2); 1 keeps the length throughout.
        downsample_every: block ``i > 0`` downsamples when ``i % downsample_every == 0``; 1 means
            every block but the first, 0 never (1). With the defaults, a 187-sample beat goes
            187 -> 94 -> 47 -> 24 -> 12 through the 5 blocks.
        global_pool: average over time before the classifier; false flattens the last feature
            map (``width x length`` inputs to the classifier) (true).
        dropout: inside every residual block and before the classifier (0.1).
        activation: relu | gelu | leakyrelu | elu | silu | tanh (relu).
        pool_positions: 0 keeps ``global_pool``; k > 0 average-pools the last map to k
            positions and flattens them (``width x k`` inputs), so the classifier still knows
            *where* in the window the P wave and the QRS sit (issue 19) (0).
        head_hidden: a hidden layer of this many units after the side features are joined, so
            that RR context and morphology interact (an MLP head); 0: linear (0).
    """

    name = NAME

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        n_blocks: int = 5,
        width: int = 64,
        kernel: int = 7,
        stem_stride: int = 0,
        stem_kernel: int = 0,
        stem_pool: int = 1,
        stride: int = 2,
        downsample_every: int = 1,
        global_pool: bool = True,
        dropout: float = 0.1,
        activation: str = "relu",
        pool_positions: int = 0,
        head_hidden: int = 0,
    ):
        super().__init__(n_leads, n_samples, n_classes, n_features)
        check_int(NAME, "n_blocks", n_blocks, minimum=0)
        check_int(NAME, "width", width)
        check_int(NAME, "kernel", kernel)
        check_int(NAME, "stem_stride", stem_stride, minimum=0)
        check_int(NAME, "stem_kernel", stem_kernel, minimum=0)
        check_int(NAME, "stem_pool", stem_pool)
        check_int(NAME, "stride", stride)
        check_int(NAME, "downsample_every", downsample_every, minimum=0)
        check_bool(NAME, "global_pool", global_pool)
        check_int(NAME, "pool_positions", pool_positions, minimum=0)
        check_int(NAME, "head_hidden", head_hidden, minimum=0)
        dropout = check_dropout(NAME, "dropout", dropout)
        make_activation(activation, NAME)

        if stem_stride == 0:
            stem_stride = 1 if n_samples <= 1024 else 2 ** math.ceil(math.log2(n_samples / 1024))
        stem_kernel = stem_kernel or max(kernel, stem_stride)
        self.stem_stride, self.stem_kernel = stem_stride, stem_kernel
        stem: list[nn.Module] = [
            nn.Conv1d(n_leads, width, stem_kernel, stem_stride, stem_kernel // 2, bias=False),
            nn.BatchNorm1d(width),
            make_activation(activation, NAME),
        ]
        length = _conv_len(n_samples, stem_kernel, stem_stride)
        if stem_pool > 1:
            stem.append(nn.MaxPool1d(stem_pool))
            length //= stem_pool
        if length < 1:
            raise ConfigError(
                f"{NAME}: stem_stride ({stem_stride}) and stem_pool ({stem_pool}) leave nothing "
                f"of {n_samples} samples"
            )
        self.stem = nn.Sequential(*stem)

        blocks = []
        for i in range(n_blocks):
            s = stride if downsample_every and i > 0 and i % downsample_every == 0 else 1
            blocks.append(ResidualBlock1d(width, width, kernel, s, activation, dropout, NAME))
            length = _conv_len(length, 1, s)  # the shortcut's length (the branch is cropped)
        self.blocks = nn.Sequential(*blocks)
        self.global_pool = global_pool
        self.position_pool = PositionPool1d(pool_positions) if pool_positions else None
        # flattening puts a dense layer on the whole map: inputs must have n_samples samples
        self.fixed_length = not global_pool and not pool_positions
        self.out_length = length
        in_dim = width if global_pool else width * length
        if pool_positions:
            in_dim = width * pool_positions
        self.head = ClassifierHead(
            in_dim,
            n_features,
            n_classes,
            hidden=head_hidden,
            activation=activation,
            dropout=dropout,
            model=NAME,
        )

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        z = self.blocks(self.stem(x))
        if self.position_pool is not None:
            z = self.position_pool(z).flatten(1)
        else:
            z = z.mean(dim=-1) if self.global_pool else z.flatten(1)
        return self.head(z, features)
