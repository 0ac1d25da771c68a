"""Hybrid attention-based deep learning network (HADLN).

Reproduces the architecture idea of Jiang et al. 2021, "HADLN: Hybrid attention-based deep
learning network for automated arrhythmia classification", Front. Physiol. 12:683025: a residual
1D CNN (ResNet) and a bidirectional LSTM extract morphological and temporal features, and an
attention layer weighs them before the classifier. Here the two branches run in parallel on the
input: the ResNet branch uses strided convolutions with kernel 17, the BiLSTM branch reads the
input folded into chunks (a downsampled sequence, no sample dropped); both outputs are projected
to the same width, concatenated along time and pooled by attention. Layer sizes are ours, chosen
to be compact on beats and tractable on 60 s rhythms.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ecgzoo.models.base import EcgModel
from ecgzoo.models.blocks import (
    AttentionPool1d,
    ClassifierHead,
    ResidualBlock1d,
    SelfAttention,
    auto_factor,
    check_choice,
    check_divisible,
    check_dropout,
    check_int,
    chunk_sequence,
    make_activation,
)

NAME = "hadln"
ATTENTIONS = ("additive", "multihead")


class HADLN(EcgModel):
    """Parallel ResNet and BiLSTM branches -> concatenation along time -> attention -> classifier.

    Hyperparameters:
        channels: width of the ResNet branch and of the joint sequence (32).
        n_blocks: residual blocks of the ResNet branch, each with stride 2 (3).
        kernel: convolution kernel size (17).
        stem_stride: stride of the first convolution; 0 picks 2 for beats, or more for long
            inputs so that the ResNet branch ends with at most ``max_steps`` steps (the stem
            kernel grows to cover the stride) (0).
        lstm_hidden: BiLSTM units per direction (32).
        lstm_chunk: samples per BiLSTM step; 0 picks the smallest chunk giving at most
            ``max_steps`` steps (beats: 3 -> 63 steps; 18,000 samples: 282 -> 64 steps) (0).
        attention: ``additive`` attention pooling, or ``multihead`` self-attention (residual +
            layer norm) followed by mean pooling (additive).
        n_heads: heads of the multi-head attention; ``channels`` must be divisible by it (4).
        dropout: in the residual blocks and before the classifier (0.1).
        activation: of the ResNet branch (relu).
        max_steps: bound used by the automatic choices above (64).
    """

    name = NAME

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        channels: int = 32,
        n_blocks: int = 3,
        kernel: int = 17,
        stem_stride: int = 0,
        lstm_hidden: int = 32,
        lstm_chunk: int = 0,
        attention: str = "additive",
        n_heads: int = 4,
        dropout: float = 0.1,
        activation: str = "relu",
        max_steps: int = 64,
    ):
        super().__init__(n_leads, n_samples, n_classes, n_features)
        check_int(NAME, "channels", channels)
        check_int(NAME, "n_blocks", n_blocks, minimum=0)
        check_int(NAME, "kernel", kernel)
        check_int(NAME, "stem_stride", stem_stride, minimum=0)
        check_int(NAME, "lstm_hidden", lstm_hidden)
        check_int(NAME, "lstm_chunk", lstm_chunk, minimum=0)
        check_int(NAME, "n_heads", n_heads)
        check_int(NAME, "max_steps", max_steps)
        dropout = check_dropout(NAME, "dropout", dropout)
        self.attention_kind = check_choice(NAME, "attention", attention, ATTENTIONS)
        if attention == "multihead":
            check_divisible(NAME, "channels", channels, "n_heads", n_heads)
        make_activation(activation, NAME)

        self.stem_stride = stem_stride or max(2, auto_factor(n_samples, max_steps * 2**n_blocks))
        stem_kernel = max(kernel, self.stem_stride)
        self.cnn = nn.Sequential(
            nn.Conv1d(
                n_leads, channels, stem_kernel, self.stem_stride, stem_kernel // 2, bias=False
            ),
            nn.BatchNorm1d(channels),
            make_activation(activation, NAME),
            *[
                ResidualBlock1d(channels, channels, kernel, 2, activation, dropout, NAME)
                for _ in range(n_blocks)
            ],
        )
        self.lstm_chunk = lstm_chunk or auto_factor(n_samples, max_steps)
        self.lstm = nn.LSTM(
            n_leads * self.lstm_chunk, lstm_hidden, batch_first=True, bidirectional=True
        )
        self.lstm_proj = nn.Linear(2 * lstm_hidden, channels)
        if attention == "additive":
            self.attention: nn.Module = AttentionPool1d(channels)
        else:
            self.attention = SelfAttention(channels, n_heads)
        self.head = ClassifierHead(channels, n_features, n_classes, dropout=dropout, model=NAME)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        morph = self.cnn(x).transpose(1, 2)  # (batch, t1, channels)
        temporal, _ = self.lstm(chunk_sequence(x, self.lstm_chunk))
        seq = torch.cat([morph, self.lstm_proj(temporal)], dim=1)  # (batch, t1 + t2, channels)
        if self.attention_kind == "additive":
            z = self.attention(seq)
        else:
            z = self.attention(seq).mean(dim=1)
        return self.head(z, features)
