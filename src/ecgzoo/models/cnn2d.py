"""Compact 2D CNN on the beat folded into a 16 x 12 image.

Reproduces the CNN of the CNN-versus-RNN comparison on MIT-BIH heartbeats: each beat is
zero-padded to 192 samples and reshaped to a 16 x 12 grid; ConvBlocks (3 x 3 convolution with
padding 1, batch norm, activation) with 2 x 2 max pooling are followed by a dense head. The study's
compact network (one ConvBlock, 64 hidden units, LeakyReLU) is the default here: 12 channels give
~37k parameters.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ecgzoo.errors import ConfigError
from ecgzoo.models.base import CamView, EcgModel
from ecgzoo.models.blocks import (
    ClassifierHead,
    SelfAttention,
    check_bool,
    check_choice,
    check_divisible,
    check_dropout,
    check_int,
    make_activation,
)

NAME = "cnn2d"
HEIGHT, WIDTH = 16, 12
GRID = HEIGHT * WIDTH  # 192
RESHAPES = ("pad", "trim", "resample")


class ConvBlock(nn.Module):
    """3 x 3 convolution (padding 1) -> batch norm (optional) -> activation."""

    def __init__(self, c_in: int, c_out: int, activation: str, batch_norm: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)
        self.norm = nn.BatchNorm2d(c_out) if batch_norm else nn.Identity()
        self.act = make_activation(activation, NAME)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class CNN2D(EcgModel):
    """ConvBlocks on the beat reshaped to 16 x 12 (per lead: leads are the input channels).

    Hyperparameters:
        n_blocks: ConvBlocks (1). A 2 x 2 max pooling follows every second block, and the last
            block when ``n_blocks`` is odd, so one block pools once (16 x 12 -> 8 x 6), two blocks
            pool once, three or four blocks pool twice (-> 4 x 3). At most 6 blocks (3 poolings:
            2 x 1 is the smallest grid that still pools).
        channels: feature maps of every ConvBlock (12).
        batch_norm: normalise after each convolution (true).
        hidden: units of the dense layer of the head; 0 drops it (64).
        activation: relu | gelu | leakyrelu | elu | silu | tanh (leakyrelu), in blocks and head.
        dropout: before the final linear layer (0.0).
        attention: multi-head self-attention over the spatial positions after the last pooling
            (residual + layer norm) (false).
        n_heads: attention heads; ``channels`` must be divisible by it (4).
        reshape: how an input other than 192 samples becomes 192: ``pad`` zero-pads at the end
            and refuses longer inputs; ``trim`` zero-pads shorter and centre-crops longer ones
            (beat windows are centred on the R peak); ``resample`` linearly interpolates to 192
            (any length, so rhythm input runs, though the model is meant for beats) (pad).

    Side features are concatenated to the flattened feature maps, before the dense head.
    """

    name = NAME

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        n_blocks: int = 1,
        channels: int = 12,
        batch_norm: bool = True,
        hidden: int = 64,
        activation: str = "leakyrelu",
        dropout: float = 0.0,
        attention: bool = False,
        n_heads: int = 4,
        reshape: str = "pad",
    ):
        super().__init__(n_leads, n_samples, n_classes, n_features)
        check_int(NAME, "n_blocks", n_blocks)
        if n_blocks > 6:
            raise ConfigError(
                f"{NAME}: n_blocks must be at most 6 on a 16 x 12 grid, got {n_blocks}"
            )
        check_int(NAME, "channels", channels)
        check_int(NAME, "hidden", hidden, minimum=0)
        check_int(NAME, "n_heads", n_heads)
        check_bool(NAME, "attention", attention)
        check_bool(NAME, "batch_norm", batch_norm)
        dropout = check_dropout(NAME, "dropout", dropout)
        self.reshape = check_choice(NAME, "reshape", reshape, RESHAPES)
        if reshape == "pad" and n_samples > GRID:
            raise ConfigError(
                f"{NAME}: n_samples ({n_samples}) exceeds the 16 x 12 = {GRID} grid; "
                "set reshape to 'trim' (centre crop) or 'resample'"
            )
        if attention:
            check_divisible(NAME, "channels", channels, "n_heads", n_heads)
        make_activation(activation, NAME)  # validate before building

        layers: list[nn.Module] = []
        h, w, c = HEIGHT, WIDTH, n_leads
        for i in range(n_blocks):
            layers.append(ConvBlock(c, channels, activation, batch_norm))
            c = channels
            if i % 2 == 1 or i == n_blocks - 1:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
        self.features = nn.Sequential(*layers)
        self.attention = SelfAttention(channels, n_heads) if attention else None
        self.head = ClassifierHead(
            channels * h * w, n_features, n_classes, hidden, activation, dropout, NAME
        )

    def to_grid(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, leads, samples)`` -> ``(batch, leads, 16, 12)``."""
        t = x.shape[-1]
        if t != GRID:
            if self.reshape == "resample":
                x = F.interpolate(x, size=GRID, mode="linear", align_corners=False)
            elif t < GRID:
                x = F.pad(x, (0, GRID - t))
            elif self.reshape == "trim":
                start = (t - GRID) // 2
                x = x[..., start : start + GRID]
            else:
                raise ValueError(f"{NAME}: input of {t} samples exceeds {GRID} with reshape='pad'")
        return x.reshape(x.shape[0], x.shape[1], HEIGHT, WIDTH)

    def cam_view(self, x: torch.Tensor, layer_shape: tuple[int, ...]) -> CamView:
        """Grad-CAM maps live on the 16 x 12 beat grid; back on the time axis they are unfolded
        row by row and :meth:`to_grid`'s padding, cropping or resampling is undone."""
        n_samples = int(x.shape[-1])

        def to_time(maps: np.ndarray) -> np.ndarray:
            flat = maps.reshape(len(maps), GRID)  # row-major: the inverse of to_grid's reshape
            if n_samples == GRID:
                return flat
            if self.reshape == "resample":
                t = torch.from_numpy(np.ascontiguousarray(flat))[:, None, :]
                up = F.interpolate(t, size=n_samples, mode="linear", align_corners=False)
                return up[:, 0].numpy()
            if n_samples < GRID:  # padded at the end: drop the padding
                return flat[:, :n_samples]
            out = np.zeros((len(maps), n_samples), dtype=np.float32)  # centre crop: 0 outside
            start = (n_samples - GRID) // 2
            out[:, start : start + GRID] = flat
            return out

        return CamView("beat_grid", (HEIGHT, WIDTH), to_time)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        z = self.features(self.to_grid(x))
        if self.attention is not None:
            b, c, h, w = z.shape
            seq = self.attention(z.flatten(2).transpose(1, 2))  # (b, h*w, c)
            z = seq.transpose(1, 2).reshape(b, c, h, w)
        return self.head(z.flatten(1), features)
