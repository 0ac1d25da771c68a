"""Recurrent classifier: GRU or LSTM with multi-head self-attention over the outputs.

Reproduces the RNN of the CNN-versus-RNN comparison on MIT-BIH heartbeats: a stacked GRU reads
the beat sample by sample, multi-head attention runs over its output sequence, the sequence is
pooled and classified. The study's tuned GRU is the default: hidden 168, 2 layers, dropout 0.425,
attention dropout 0.358.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ecgzoo.models.base import EcgModel
from ecgzoo.models.blocks import (
    AttentionPool1d,
    ClassifierHead,
    SelfAttention,
    auto_factor,
    check_bool,
    check_choice,
    check_divisible,
    check_dropout,
    check_int,
    chunk_sequence,
    pool_sequence,
)

NAME = "rnn"
CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
POOLINGS = ("mean", "max", "last", "attention")


class RNN(EcgModel):
    """Chunking -> GRU/LSTM -> multi-head self-attention -> pooling -> classifier.

    Hyperparameters:
        cell: gru | lstm (gru).
        hidden: units per direction (168).
        n_layers: stacked recurrent layers (2).
        dropout: between recurrent layers and before the classifier (0.425).
        bidirectional: run the recurrent layers both ways (false).
        attention: multi-head self-attention over the recurrent outputs, with a residual
            connection and layer norm (true).
        n_heads: attention heads; ``hidden`` must be divisible by it (4).
        attention_dropout: dropout on the attention weights (0.358).
        pooling: mean | max | last (bidirectional: last forward and first backward step) |
            attention (additive attention pooling) over time (mean).
        chunk: samples folded into one time step (input chunking: the recurrent layers see
            ``n_samples / chunk`` steps of ``n_leads * chunk`` values; no sample is dropped).
            0 picks the smallest chunk giving at most ``max_steps`` steps (0).
        max_steps: bound used by ``chunk=0`` (256): beats run sample by sample, as in the study,
            and a 60 s rhythm at 300 Hz (18,000 samples) in 254 steps of 71 samples.
    """

    name = NAME

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        cell: str = "gru",
        hidden: int = 168,
        n_layers: int = 2,
        dropout: float = 0.425,
        bidirectional: bool = False,
        attention: bool = True,
        n_heads: int = 4,
        attention_dropout: float = 0.358,
        pooling: str = "mean",
        chunk: int = 0,
        max_steps: int = 256,
    ):
        super().__init__(n_leads, n_samples, n_classes, n_features)
        check_choice(NAME, "cell", cell, tuple(CELLS))
        check_int(NAME, "hidden", hidden)
        check_int(NAME, "n_layers", n_layers)
        check_int(NAME, "n_heads", n_heads)
        check_int(NAME, "chunk", chunk, minimum=0)
        check_int(NAME, "max_steps", max_steps)
        check_bool(NAME, "bidirectional", bidirectional)
        check_bool(NAME, "attention", attention)
        dropout = check_dropout(NAME, "dropout", dropout)
        attention_dropout = check_dropout(NAME, "attention_dropout", attention_dropout)
        self.pooling = check_choice(NAME, "pooling", pooling, POOLINGS)
        if attention:
            check_divisible(NAME, "hidden", hidden, "n_heads", n_heads)
        self.chunk = chunk or auto_factor(n_samples, max_steps)

        self.rnn = CELLS[cell](
            n_leads * self.chunk,
            hidden,
            num_layers=n_layers,
            batch_first=True,
            dropout=dropout if n_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        dim = hidden * (2 if bidirectional else 1)
        self.attention = SelfAttention(dim, n_heads, attention_dropout) if attention else None
        self.pool = AttentionPool1d(dim) if pooling == "attention" else None
        self.head = ClassifierHead(dim, n_features, n_classes, dropout=dropout, model=NAME)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        h, _ = self.rnn(chunk_sequence(x, self.chunk))
        if self.attention is not None:
            h = self.attention(h)
        if self.pool is not None:
            z = self.pool(h)
        else:
            z = pool_sequence(h, self.pooling, self.rnn.bidirectional)
        return self.head(z, features)
