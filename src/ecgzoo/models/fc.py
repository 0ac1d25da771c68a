"""Fully connected baseline.

Reproduces the fully connected (FC) baseline that the HADLN study (Jiang et al. 2021, "HADLN:
Hybrid attention-based deep learning network for automated arrhythmia classification", Front.
Physiol. 12:683025) sets beside its Conv-BiLSTM and HADLN on MIT-BIH heartbeats (weighted focal
loss; see ``configs/studies/hadln/``): the beat is flattened and passed through two fully
connected 1000-unit ReLU layers (with optional dropout) and a linear classifier. (The
CNN-versus-RNN study compares only the 2D CNN and the GRU/LSTM.)
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ecgzoo.models.base import EcgModel
from ecgzoo.models.blocks import (
    ClassifierHead,
    auto_factor,
    check_dropout,
    check_int,
    make_activation,
)

NAME = "fc"


class FC(EcgModel):
    """Flatten -> ``n_layers`` x (Linear(``hidden``) -> activation -> dropout) -> classifier.

    Hyperparameters:
        hidden: units per layer (1000).
        n_layers: hidden layers (2).
        dropout: after every hidden layer (0.0).
        activation: relu | gelu | leakyrelu | elu | silu | tanh (relu).
        max_inputs: long inputs are average-pooled by the smallest integer factor that leaves at
            most this many samples per lead, so that a 60 s rhythm (18,000 samples) does not need
            an 18M-weight first layer; beats (<= 1024 samples) are used as they are (1024).

    Side features are concatenated to the last hidden layer's output.
    """

    name = NAME
    fixed_length = True  # a dense layer on the whole (pooled) input

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        hidden: int = 1000,
        n_layers: int = 2,
        dropout: float = 0.0,
        activation: str = "relu",
        max_inputs: int = 1024,
    ):
        super().__init__(n_leads, n_samples, n_classes, n_features)
        check_int(NAME, "hidden", hidden)
        check_int(NAME, "n_layers", n_layers)
        check_int(NAME, "max_inputs", max_inputs)
        dropout = check_dropout(NAME, "dropout", dropout)
        self.input_pool = auto_factor(n_samples, max_inputs)
        dim = n_leads * (n_samples // self.input_pool if self.input_pool > 1 else n_samples)
        layers: list[nn.Module] = []
        for _ in range(n_layers):
            layers += [nn.Linear(dim, hidden), make_activation(activation, NAME)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            dim = hidden
        self.body = nn.Sequential(*layers)
        self.head = ClassifierHead(dim, n_features, n_classes, model=NAME)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        if self.input_pool > 1:
            x = F.avg_pool1d(x, self.input_pool)
        return self.head(self.body(x.flatten(1)), features)
