"""Layers and checks shared by the models.

* hyperparameter checks that raise :class:`~ecgzoo.errors.ConfigError` with a one-line message
  naming the model and the parameter (``"resnet1d: dropout must be in [0, 1), got -0.1"``);
* :func:`make_activation`: activation lookup by name;
* :class:`ResidualBlock1d`: the conv-BN-act-conv-BN + shortcut block of the 1D ResNets;
* :class:`AttentionPool1d`: additive (Bahdanau-style) attention pooling over time;
* :class:`PositionPool1d`: average pooling to a few positions that exports to ONNX at any length;
* :class:`SelfAttention`: multi-head self-attention with a residual connection and layer norm;
* :class:`ClassifierHead`: concatenates optional side features (RR intervals, ...) to the
  penultimate representation and maps it to logits;
* :func:`chunk_sequence`: folds ``chunk`` consecutive samples into one time step, so recurrent
  layers run over ``n_samples / chunk`` steps without discarding samples.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ecgzoo.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "leakyrelu": nn.LeakyReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


# --------------------------------------------------------------------------- checks


def check_int(model: str, name: str, value, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (bools are rejected: ``True`` is not a layer count)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{model}: {name} must be {what}, got {value!r}")
    return value


def check_dropout(model: str, name: str, value) -> float:
    """A dropout probability in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"{model}: {name} must be in [0, 1), got {value!r}")
    return float(value)


def check_choice(model: str, name: str, value, choices) -> str:
    if value not in choices:
        raise ConfigError(
            f"{model}: unknown {name} {value!r} (choose from {', '.join(map(str, choices))})"
        )
    return value


def check_bool(model: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{model}: {name} must be true or false, got {value!r}")
    return value


def check_shape(model: str, n_leads, n_samples, n_classes, n_features) -> None:
    """The four contract arguments every model receives."""
    check_int(model, "n_leads", n_leads)
    check_int(model, "n_samples", n_samples)
    check_int(model, "n_classes", n_classes)
    check_int(model, "n_features", n_features, minimum=0)


def check_divisible(model: str, name: str, value: int, heads_name: str, n_heads: int) -> None:
    if value % n_heads:
        raise ConfigError(
            f"{model}: {name} ({value}) must be divisible by {heads_name} ({n_heads})"
        )


def make_activation(name: str, model: str = "model") -> nn.Module:
    """A fresh activation module: relu, gelu, leakyrelu, elu, silu or tanh."""
    key = str(name).lower().replace("_", "")
    if key not in ACTIVATIONS:
        raise ConfigError(
            f"{model}: unknown activation {name!r} (choose from {', '.join(ACTIVATIONS)})"
        )
    return ACTIVATIONS[key]()


def auto_factor(n_samples: int, max_steps: int) -> int:
    """Smallest integer factor that brings ``n_samples`` down to at most ``max_steps``."""
    return max(1, math.ceil(n_samples / max_steps))


# --------------------------------------------------------------------------- layers


def chunk_sequence(x: torch.Tensor, chunk: int) -> torch.Tensor:
    """``(batch, leads, samples)`` -> ``(batch, ceil(samples / chunk), leads * chunk)``.

    The end is zero-padded to a multiple of ``chunk``; every sample is kept.
    """
    b, c, t = x.shape
    if chunk > 1:
        pad = (-t) % chunk
        if pad:
            x = F.pad(x, (0, pad))
        t = x.shape[2] // chunk
        # (b, c, t, chunk) -> (b, t, c, chunk) -> (b, t, c * chunk)
        return x.reshape(b, c, t, chunk).permute(0, 2, 1, 3).reshape(b, t, c * chunk)
    return x.transpose(1, 2)


class ResidualBlock1d(nn.Module):
    """Basic 1D residual block (He et al. 2016): conv-BN-act-dropout-conv-BN, plus a shortcut.

    The first convolution carries the stride; the shortcut is the identity, or a strided 1x1
    convolution with batch norm when the width or the length changes.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int = 1,
        activation: str = "relu",
        dropout: float = 0.0,
        model: str = "model",
    ):
        super().__init__()
        pad = kernel // 2
        self.even_kernel = kernel % 2 == 0
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel, stride, pad, bias=False)
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.act1 = make_activation(activation, model)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel, 1, pad, bias=False)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.act2 = make_activation(activation, model)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv1d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm1d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.drop(self.act1(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        # Even kernels make the branch longer than the shortcut: crop to match.
        short = self.shortcut(x)
        if self.even_kernel and out.shape[-1] != short.shape[-1]:
            n = min(out.shape[-1], short.shape[-1])
            out, short = out[..., :n], short[..., :n]
        return self.act2(out + short)


class AttentionPool1d(nn.Module):
    """Additive attention pooling (Bahdanau et al. 2015; Yang et al. 2016).

    ``(batch, time, dim)`` -> ``(batch, dim)``: scores ``v^T tanh(W h_t)``, softmax over time,
    weighted sum. The last weights are kept in ``self.weights`` for inspection.
    """

    def __init__(self, dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or dim
        self.proj = nn.Linear(dim, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.weights: torch.Tensor | None = None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.score(torch.tanh(self.proj(h))).squeeze(-1), dim=1)
        self.weights = w.detach()
        return torch.bmm(w.unsqueeze(1), h).squeeze(1)


def position_pool_matrix(length: int, positions: int) -> torch.Tensor:
    """``(length, positions)`` averaging matrix of ``adaptive_avg_pool1d``: column ``i`` averages
    samples ``floor(i * length / positions)`` to ``ceil((i + 1) * length / positions) - 1``
    (PyTorch's bins, overlapping where ``positions`` does not divide ``length``)."""
    w = torch.zeros(length, positions)
    for i in range(positions):
        start, end = (i * length) // positions, -(-(i + 1) * length // positions)
        w[start:end, i] = 1.0 / (end - start)
    return w


class PositionPool1d(nn.Module):
    """``nn.AdaptiveAvgPool1d(positions)`` (no parameters, same state dict) that also exports.

    The TorchScript ONNX exporter refuses ``adaptive_avg_pool1d`` when ``positions`` does not
    divide the map's length. While exporting, the pooling is a product with the fixed averaging
    matrix of the traced length (:func:`position_pool_matrix`; the exported graph's length is
    fixed anyway): the same bins, so the same outputs to float rounding. Training and every
    other forward keep PyTorch's own pooling, bit for bit.
    """

    def __init__(self, positions: int):
        super().__init__()
        self.positions = int(positions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.onnx.is_in_onnx_export():
            return F.adaptive_avg_pool1d(x, self.positions)
        w = position_pool_matrix(int(x.shape[-1]), self.positions).to(x.device, x.dtype)
        return torch.matmul(x, w)


class SelfAttention(nn.Module):
    """Multi-head self-attention over ``(batch, time, dim)`` with residual and layer norm."""

    def __init__(self, dim: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, n_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out, _ = self.attn(h, h, h, need_weights=False)
        return self.norm(h + out)


def pool_sequence(h: torch.Tensor, how: str, bidirectional: bool = False) -> torch.Tensor:
    """``(batch, time, dim)`` -> ``(batch, dim)`` by mean, max or last step.

    With ``bidirectional=True`` the second half of ``dim`` runs backwards in time, so ``last``
    takes its first step: both directions then contribute the state that has read everything.
    """
    if how == "mean":
        return h.mean(dim=1)
    if how == "max":
        return h.amax(dim=1)
    if bidirectional:
        half = h.shape[-1] // 2
        return torch.cat([h[:, -1, :half], h[:, 0, half:]], dim=1)
    return h[:, -1]


class ClassifierHead(nn.Module):
    """Side features + penultimate representation -> logits.

    With ``n_features > 0`` the side features pass through a batch norm (so RR intervals in
    samples or in seconds are on the same footing) and are concatenated to the representation;
    an optional hidden layer (``hidden > 0``) follows, then dropout and the final linear layer.
    With ``n_features == 0`` the ``features`` argument is ignored (it may be ``None``).
    """

    def __init__(
        self,
        in_dim: int,
        n_features: int,
        n_classes: int,
        hidden: int = 0,
        activation: str = "relu",
        dropout: float = 0.0,
        model: str = "model",
    ):
        super().__init__()
        self.n_features = n_features
        self.feature_norm = nn.BatchNorm1d(n_features) if n_features > 0 else None
        dim = in_dim + n_features
        layers: list[nn.Module] = []
        if hidden > 0:
            layers += [nn.Linear(dim, hidden), make_activation(activation, model)]
            dim = hidden
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(dim, n_classes))
        self.mlp = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        if self.feature_norm is not None:
            if features is None:
                raise ValueError(
                    f"model was built with n_features={self.n_features}: pass features "
                    f"of shape (batch, {self.n_features})"
                )
            if features.dim() != 2 or features.shape[1] != self.n_features:
                raise ValueError(
                    f"expected features (batch, {self.n_features}), got {tuple(features.shape)}"
                )
            features = features.to(z.dtype)
            norm = self.feature_norm
            if self.training and features.shape[0] == 1:
                # A batch of one (the last of an epoch) has no batch statistics: use the running
                # ones rather than fail.
                features = F.batch_norm(
                    features,
                    norm.running_mean,
                    norm.running_var,
                    norm.weight,
                    norm.bias,
                    training=False,
                    eps=norm.eps,
                )
            else:
                features = norm(features)
            z = torch.cat([z, features], dim=1)
        return self.mlp(z)
