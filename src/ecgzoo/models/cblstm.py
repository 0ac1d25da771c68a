"""Convolutional + bidirectional LSTM classifier (CBLSTM).

Reproduces the CNN-BiLSTM family of ECG classifiers (for example Oh et al. 2018, "Automated
diagnosis of arrhythmia using combination of CNN and LSTM techniques with variable length heart
beats", Comput. Biol. Med. 102; Petmezas et al. 2021, "Automated atrial fibrillation detection
using a hybrid CNN-LSTM network on imbalanced ECG datasets", Biomed. Signal Process. Control 63):
convolution, batch norm, ReLU and max pooling extract local morphology and shorten the sequence,
a bidirectional LSTM models its temporal context, and a linear layer classifies.

The HADLN study's Conv-BiLSTM baseline is a *single* convolution feeding the BiLSTM, with no
pooling: ``n_conv=1, pool=1`` builds exactly that (``configs/studies/hadln/cblstm.yaml``); the
default (``n_conv=0``) picks at least two pooled stages, which suits long rhythms.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ecgzoo.errors import ConfigError
from ecgzoo.models.base import EcgModel
from ecgzoo.models.blocks import (
    AttentionPool1d,
    ClassifierHead,
    check_choice,
    check_dropout,
    check_int,
    make_activation,
    pool_sequence,
)

NAME = "cblstm"
POOLINGS = ("mean", "max", "last", "attention")


class CBLSTM(EcgModel):
    """``n_conv`` x (Conv1d -> BN -> ReLU -> MaxPool) -> BiLSTM -> pooling -> classifier.

    Hyperparameters:
        n_conv: convolution stages; 0 picks the fewest (at least 2) whose pooling leaves at most
            ``max_steps`` LSTM steps: 2 for beats (187 -> 46 steps), 8 for a 60 s rhythm at
            300 Hz (18,000 -> 70 steps) (0).
        channels: filters of every convolution (32).
        kernel: convolution kernel size (7).
        pool: max-pooling size and stride of every stage; 1 builds no pooling layer (2).
        hidden: LSTM units per direction (64).
        n_layers: stacked BiLSTM layers (1).
        dropout: between LSTM layers and before the classifier (0.2).
        activation: activation after batch norm (relu).
        pooling: mean | max | last (final hidden states of both directions) | attention over the
            LSTM outputs (last).
        max_steps: bound used by ``n_conv=0`` (128).
    """

    name = NAME

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        n_conv: int = 0,
        channels: int = 32,
        kernel: int = 7,
        pool: int = 2,
        hidden: int = 64,
        n_layers: int = 1,
        dropout: float = 0.2,
        activation: str = "relu",
        pooling: str = "last",
        max_steps: int = 128,
    ):
        super().__init__(n_leads, n_samples, n_classes, n_features)
        check_int(NAME, "n_conv", n_conv, minimum=0)
        check_int(NAME, "channels", channels)
        check_int(NAME, "kernel", kernel)
        check_int(NAME, "pool", pool)
        check_int(NAME, "hidden", hidden)
        check_int(NAME, "n_layers", n_layers)
        check_int(NAME, "max_steps", max_steps)
        dropout = check_dropout(NAME, "dropout", dropout)
        self.pooling = check_choice(NAME, "pooling", pooling, POOLINGS)
        make_activation(activation, NAME)
        if n_conv == 0:
            ratio = n_samples / max_steps
            n_conv = max(2, math.ceil(math.log(ratio, pool))) if ratio > 1 and pool > 1 else 2
        length = n_samples
        for _ in range(n_conv):
            length //= pool
        if length < 1:
            raise ConfigError(
                f"{NAME}: n_conv ({n_conv}) pools {n_samples} samples away; use fewer stages"
            )
        self.n_conv = n_conv

        layers: list[nn.Module] = []
        c = n_leads
        for _ in range(n_conv):
            layers += [
                nn.Conv1d(c, channels, kernel, padding=kernel // 2, bias=False),
                nn.BatchNorm1d(channels),
                make_activation(activation, NAME),
            ]
            if pool > 1:
                layers.append(nn.MaxPool1d(pool))
            c = channels
        self.conv = nn.Sequential(*layers)
        self.lstm = nn.LSTM(
            channels,
            hidden,
            num_layers=n_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if n_layers > 1 else 0.0,
        )
        self.pool = AttentionPool1d(2 * hidden) if pooling == "attention" else None
        self.head = ClassifierHead(2 * hidden, n_features, n_classes, dropout=dropout, model=NAME)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        h, (h_n, _) = self.lstm(self.conv(x).transpose(1, 2))
        if self.pooling == "last":
            z = torch.cat([h_n[-2], h_n[-1]], dim=1)  # last layer, forward and backward
        elif self.pool is not None:
            z = self.pool(h)
        else:
            z = pool_sequence(h, self.pooling)
        return self.head(z, features)
