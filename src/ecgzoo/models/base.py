"""The model contract every zoo model follows, in one small base class.

``EcgModel(n_leads, n_samples, n_classes, n_features=0, fs=None)`` holds what the data fixes:
leads, samples per example, classes, side features (RR intervals ...) and, where the model
depends on it, the sampling rate. ``forward(x, features=None)`` takes ``(batch, n_leads,
n_samples)`` (models with ``fixed_length = False`` also take other lengths, e.g. random crops)
and returns logits ``(batch, n_classes)``; :meth:`EcgModel.check_input` refuses anything else
with one clear line.

Grad-CAM asks the model two things and has no per-model code: :meth:`EcgModel.gradcam_layer`
(default: the last convolution the forward pass runs, or the residual block holding it) and
:meth:`EcgModel.cam_view` (how a 2D layer's map relates to the input's time axis; default:
its last axis is time). The base class adds no parameters or buffers, so state-dict keys are
those of the model alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ecgzoo.errors import EcgzooError
from ecgzoo.models.blocks import check_shape

CONVS = (nn.Conv1d, nn.Conv2d)
RESIDUAL_ATTRS = ("shortcut", "downsample")


@dataclass
class CamView:
    """How a 2D Grad-CAM map relates to the input: the grid it is shown on (``grid``, of
    ``shape``) and ``to_time`` mapping ``(batch, *shape)`` maps to ``(batch, n_samples)``."""

    grid: str
    shape: tuple[int, int]
    to_time: Callable[[np.ndarray], np.ndarray]
    spectrogram: np.ndarray | None = None
    hop: int | None = None
    nperseg: int | None = None


class EcgModel(nn.Module):
    """Base class of the zoo models (see the module docstring for the contract)."""

    #: the registry name, used in error messages
    name: ClassVar[str] = "model"
    #: whether the model needs exactly ``n_samples`` samples (a dense layer on the whole input)
    fixed_length: ClassVar[bool] = False

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        fs: float | None = None,
    ) -> None:
        super().__init__()
        # numpy integers (shapes read from arrays) count as integers
        n_leads, n_samples, n_classes, n_features = (
            int(v) if isinstance(v, np.integer) else v
            for v in (n_leads, n_samples, n_classes, n_features)
        )
        check_shape(self.name, n_leads, n_samples, n_classes, n_features)
        self.n_leads = int(n_leads)
        self.n_samples = int(n_samples)
        self.n_classes = int(n_classes)
        self.n_features = int(n_features)
        self.fs = None if fs is None else float(fs)

    def check_input(self, x: torch.Tensor, features: torch.Tensor | None = None) -> None:
        """ValueError unless ``x`` is ``(batch, n_leads, samples)`` (``samples == n_samples``
        for fixed-length models) and ``features``, when the model takes them, ``(batch,
        n_features)``."""
        if torch.jit.is_tracing():  # ONNX export: shapes are fixed by the example input
            return
        want = f"(batch, {self.n_leads}, {self.n_samples if self.fixed_length else 'samples'})"
        if (
            x.dim() != 3
            or x.shape[1] != self.n_leads
            or (self.fixed_length and x.shape[2] != self.n_samples)
        ):
            raise ValueError(f"{self.name}: expected input {want}, got {tuple(x.shape)}")
        if self.n_features and features is not None:
            if features.dim() != 2 or features.shape != (x.shape[0], self.n_features):
                raise ValueError(
                    f"{self.name}: expected features ({x.shape[0]}, {self.n_features}), "
                    f"got {tuple(features.shape)}"
                )

    def gradcam_layer(self) -> nn.Module:
        """The layer Grad-CAM explains (see :func:`default_gradcam_layer`)."""
        return default_gradcam_layer(self)

    def cam_view(self, x: torch.Tensor, layer_shape: tuple[int, ...]) -> CamView:
        """How the map of a 2D Grad-CAM layer (output ``layer_shape``) relates to ``x``."""
        return image_view(int(x.shape[-1]), layer_shape)


# --------------------------------------------------------------------------- defaults


def model_name(model: nn.Module) -> str:
    """``model``'s registry name (its class name for a plain module)."""
    return model.name if isinstance(model, EcgModel) else type(model).__name__


def _probe_input(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    n_samples = int(getattr(model, "n_samples", 0))
    if n_samples < 1:
        raise EcgzooError(
            f"{model_name(model)}: cannot find its last convolution (the model has no "
            "n_samples attribute); define gradcam_layer() or pass layer="
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(2, int(getattr(model, "n_leads", 1)), n_samples, device=device)
    n_features = int(getattr(model, "n_features", 0) or 0)
    feats = torch.zeros(2, n_features, device=device) if n_features else None
    return x, feats


def _executed_convs(model: nn.Module) -> list[nn.Module]:
    """Convolutions in the order the forward pass runs them (one probe forward, no grad)."""
    order: list[nn.Module] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
        for m in model.modules()
        if isinstance(m, CONVS)
    ]
    was_training = model.training
    try:
        model.eval()
        x, feats = _probe_input(model)
        with torch.no_grad():
            model(x, feats)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return order


def default_gradcam_layer(model: nn.Module) -> nn.Module:
    """The last convolution the forward pass runs (found with hooks on a probe input, so the
    order of execution counts), or the residual block (a module with a ``shortcut`` or
    ``downsample``) holding it, so the map includes the skip connection; EcgzooError for a
    model without convolutions."""
    if not any(isinstance(m, CONVS) for m in model.modules()):
        raise EcgzooError(
            f"Grad-CAM needs a convolutional layer, and model {model_name(model)!r} has none "
            "(use a convolutional model such as resnet1d, cblstm, hadln, cnn2d or spectrogram_cnn)"
        )
    order = _executed_convs(model)
    if not order:  # convolutions exist but none ran: fall back on registration order
        order = [m for m in model.modules() if isinstance(m, CONVS)]
    last = order[-1]
    path = {id(m): n for n, m in model.named_modules()}[id(last)].split(".")
    for cut in range(len(path) - 1, 0, -1):  # the nearest residual block holding it, if any
        parent = model.get_submodule(".".join(path[:cut]))
        if any(isinstance(getattr(parent, a, None), nn.Module) for a in RESIDUAL_ATTRS):
            return parent
    return last


def image_view(n_samples: int, layer_shape: tuple[int, ...]) -> CamView:
    """A 2D map whose last axis is time (as in an image of frequency x time)."""
    h = int(layer_shape[-2])

    def to_time(maps: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(maps.mean(axis=1)))[:, None, :]
        return F.interpolate(t, size=n_samples, mode="linear", align_corners=False)[:, 0].numpy()

    return CamView("image", (h, n_samples), to_time)


def frames_to_time(frame_scores: np.ndarray, n_samples: int, hop: int, nperseg: int) -> np.ndarray:
    """``(batch, T)`` frame scores -> ``(batch, n_samples)``: each frame covers
    ``[j hop, j hop + nperseg)``; overlapping frames are averaged, uncovered samples (the tail
    shorter than a hop) take the nearest covered value."""
    b, n_frames = frame_scores.shape
    total = np.zeros((b, n_samples), dtype=np.float64)
    count = np.zeros(n_samples, dtype=np.float64)
    for j in range(n_frames):
        start = j * hop
        stop = min(start + nperseg, n_samples)
        if start >= n_samples:
            break
        total[:, start:stop] += frame_scores[:, j : j + 1]
        count[start:stop] += 1
    covered = np.flatnonzero(count > 0)
    out = np.zeros((b, n_samples), dtype=np.float32)
    if len(covered) == 0:
        return out
    out[:, covered] = total[:, covered] / count[covered]
    if covered[-1] < n_samples - 1:
        out[:, covered[-1] + 1 :] = out[:, covered[-1] : covered[-1] + 1]
    if covered[0] > 0:
        out[:, : covered[0]] = out[:, covered[0] : covered[0] + 1]
    return out
