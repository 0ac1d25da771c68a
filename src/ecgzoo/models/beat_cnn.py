"""A plain small CNN for single heartbeats, with an MLP head where RR context meets morphology.

The inter-patient diagnosis of issue 19 found that what generalises to unseen patients is a
*small* trunk that keeps position: a few ``conv -> batch norm -> ReLU -> max-pool(2)`` layers (no
strided stem), the last map average-pooled to a few positions (so the classifier still knows
where the P wave and the QRS sit in the window), then a hidden layer over that map *and* the side
features (RR context), so rhythm and shape are judged together.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ecgzoo.models.base import EcgModel
from ecgzoo.models.blocks import (
    ClassifierHead,
    PositionPool1d,
    check_dropout,
    check_int,
    make_activation,
)

NAME = "beat_cnn"


class BeatCNN(EcgModel):
    """``n_layers`` x (Conv1d -> BatchNorm -> activation -> MaxPool(2)) -> adaptive average pool
    to ``positions`` -> [side features joined] -> hidden layer -> classifier.

    Hyperparameters:
        n_layers: convolution layers (3).
        width: channels of the first layer; each later layer doubles it up to ``4 x width`` (16).
        kernel: kernel size of every convolution (5).
        positions: positions the last map is average-pooled to (4).
        hidden: units of the hidden layer of the head (64).
        dropout: before the final linear layer (0.2).
        activation: relu | gelu | leakyrelu | elu | silu | tanh (relu).
    """

    name = NAME
    fixed_length = False  # the adaptive pool takes any length

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        n_layers: int = 3,
        width: int = 16,
        kernel: int = 5,
        positions: int = 4,
        hidden: int = 64,
        dropout: float = 0.2,
        activation: str = "relu",
    ):
        super().__init__(n_leads, n_samples, n_classes, n_features)
        check_int(NAME, "n_layers", n_layers)
        check_int(NAME, "width", width)
        check_int(NAME, "kernel", kernel)
        check_int(NAME, "positions", positions)
        check_int(NAME, "hidden", hidden, minimum=0)
        dropout = check_dropout(NAME, "dropout", dropout)
        make_activation(activation, NAME)
        layers: list[nn.Module] = []
        c_in = n_leads
        for i in range(n_layers):
            c_out = width * min(2**i, 4)
            layers += [
                nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                nn.BatchNorm1d(c_out),
                make_activation(activation, NAME),
                nn.MaxPool1d(2, ceil_mode=True),
            ]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.pool = PositionPool1d(positions)  # exports to ONNX at any length
        self.head = ClassifierHead(
            c_in * positions, n_features, n_classes, hidden, activation, dropout, NAME
        )

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        return self.head(self.pool(self.body(x)).flatten(1), features)
