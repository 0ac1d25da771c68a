"""A model's class probabilities over an array of examples, batched.

The one prediction loop under ``evaluate`` (a split's scores), ``voting`` (crops of longer
recordings) and every user of a trained model; it sits below both so that neither imports the
other.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

__all__ = ["predict_proba", "real_lengths"]


def predict_proba(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    features: torch.Tensor | None = None,
    batch_size: int = 2048,
    device: torch.device | None = None,
    multilabel: bool = False,
) -> np.ndarray:
    """Class probabilities ``(n, n_classes)``, batched, under ``torch.inference_mode``: a
    softmax over the classes, or one sigmoid per label for a ``multilabel`` model."""
    device = device or next(model.parameters()).device
    xt = torch.as_tensor(x)
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(xt), batch_size):
            xb = xt[start : start + batch_size].to(device, non_blocking=True)
            fb = None if features is None else features[start : start + batch_size].to(device)
            logits = model(xb, fb).float()
            out.append((torch.sigmoid(logits) if multilabel else torch.softmax(logits, 1)).cpu())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(out).numpy()


def real_lengths(x: np.ndarray) -> np.ndarray:
    """Samples up to the last non-zero value of each example (zero padding sits at the end)."""
    nonzero = np.any(x != 0, axis=tuple(range(1, x.ndim - 1))) if x.ndim > 2 else x != 0
    last = x.shape[-1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, x.shape[-1])
