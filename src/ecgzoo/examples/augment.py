"""Time warping, window warping and mixup: training augmentation for every model.

The CinC 2017 spectrogram study names time warping as its next step; window warping (Le Guennec
et al. 2016) and mixup (Zhang et al. 2018) are the usual companions. All three work on a batch
``(batch, leads, samples)`` (a precomputed spectrogram ``(batch, F, T)`` is warped along T), on
whatever device it lives on, and draw from ``gen`` (a ``torch.Generator`` on the CPU), or from
torch's global generator when ``gen`` is None: the engine seeds that per ``(seed, epoch)``, so a
resumed run warps exactly as an uninterrupted one. Warps keep the length and never touch the
label; mixup mixes two examples and their labels with the same weight (the loss of a mixed
batch is ``lam * loss(y) + (1 - lam) * loss(y[perm])``, which for cross-entropy equals the loss
of the mixed soft label).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["mixed_loss", "mixup", "resample_at", "time_warp", "window_warp"]


def _rand(shape: tuple[int, ...], gen: torch.Generator | None, device) -> torch.Tensor:
    return torch.rand(shape, generator=gen).to(device)


def _randn(shape: tuple[int, ...], gen: torch.Generator | None, device) -> torch.Tensor:
    return torch.randn(shape, generator=gen).to(device)


def resample_at(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """``x`` ``(batch, c, length)`` read at fractional positions ``pos`` ``(batch, m)`` by
    linear interpolation: ``(batch, c, m)``."""
    length = x.shape[-1]
    pos = pos.clamp(0, length - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp_max(length - 1)
    w = (pos - lo.to(pos.dtype)).unsqueeze(1).to(x.dtype)
    c = x.shape[1]
    left = x.gather(-1, lo.unsqueeze(1).expand(-1, c, -1))
    right = x.gather(-1, hi.unsqueeze(1).expand(-1, c, -1))
    return left + w * (right - left)


def time_warp(
    x: torch.Tensor, strength: float = 0.2, knots: int = 4, gen: torch.Generator | None = None
) -> torch.Tensor:
    """Smoothly speed up and slow down each example: a random speed curve (``knots + 2`` speeds
    ``1 + strength * N(0, 1)``, at least 0.1, linearly joined) is integrated into a monotone
    time map from the first to the last sample. Same shape; ``strength`` 0 returns ``x``."""
    if strength <= 0:
        return x
    n, length = x.shape[0], x.shape[-1]
    speeds = (1.0 + strength * _randn((n, knots + 2), gen, x.device)).clamp_min(0.1)
    curve = F.interpolate(speeds[:, None, :], size=length, mode="linear", align_corners=True)
    pos = torch.cumsum(curve[:, 0], dim=1)
    pos = (pos - pos[:, :1]) / (pos[:, -1:] - pos[:, :1]).clamp_min(1e-6) * (length - 1)
    return resample_at(x, pos)


def window_warp(
    x: torch.Tensor,
    ratio: float = 0.1,
    scales: tuple[float, float] = (0.5, 2.0),
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """Stretch or squeeze one random window (``ratio`` of the length) of each example by a
    factor drawn from ``scales``, then resample the whole example back to its length."""
    if ratio <= 0:
        return x
    n, length = x.shape[0], x.shape[-1]
    device = x.device
    width = max(2, round(ratio * length))
    start = (_rand((n, 1), gen, device) * (length - width + 1)).floor()
    pick = (_rand((n, 1), gen, device) < 0.5).float()
    scale = scales[0] * pick + scales[1] * (1 - pick)
    warped_len = length - width + width * scale  # (n, 1)
    u = torch.linspace(0, 1, length, device=device)[None, :] * (warped_len - 1)
    inside = start + (u - start) / scale
    after = u - width * scale + width
    pos = torch.where(u < start, u, torch.where(u < start + width * scale, inside, after))
    return resample_at(x, pos)


def mixup(
    x: torch.Tensor,
    alpha: float,
    features: torch.Tensor | None = None,
    gen: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, float]:
    """Mix each example with a random partner: ``lam * x + (1 - lam) * x[perm]`` (side
    features too), ``lam ~ Beta(alpha, alpha)``. Returns ``(x, features, perm, lam)``; mix the
    labels with the same ``perm`` and ``lam`` (:func:`mixed_loss`)."""
    perm = torch.randperm(len(x), generator=gen).to(x.device)
    seed = int(torch.randint(0, 2**62, (1,), generator=gen))
    lam = float(np.random.default_rng(seed).beta(alpha, alpha))
    mixed = lam * x + (1.0 - lam) * x[perm]
    if features is not None:
        features = lam * features + (1.0 - lam) * features[perm]
    return mixed, features, perm, lam


def mixed_loss(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    logits: torch.Tensor,
    y: torch.Tensor,
    perm: torch.Tensor,
    lam: float,
) -> torch.Tensor:
    """The mixup loss: the two labels of each mixed example weighted as the inputs were."""
    return lam * loss_fn(logits, y) + (1.0 - lam) * loss_fn(logits, y[perm])
