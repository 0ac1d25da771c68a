"""Grad-CAM for every ecgzoo model with a convolution, through captum.

Grad-CAM (Selvaraju et al. 2017) weighs the feature maps of one convolutional layer by the
spatially averaged gradient of the target logit and sums them over channels. The computation is
captum's :class:`~captum.attr.LayerGradCam`, upsampled with
:meth:`~captum.attr.LayerAttribution.interpolate`; no gradient is taken by hand here.

There is no per-model code here: every zoo model derives from
:class:`~ecgzoo.models.base.EcgModel`, which answers the two questions Grad-CAM asks.

Which layer (:func:`gradcam_layer`, i.e. ``model.gradcam_layer()``):

1. a model that knows its best layer says so (``spectrogram_cnn``: the EfficientNet's last
   convolution, ``_conv_head``);
2. otherwise (the base class's rule) the last ``nn.Conv1d`` / ``nn.Conv2d`` that runs in the
   forward pass (found with forward hooks on a probe input, so the order of execution counts,
   not the order of registration). When that convolution sits inside a residual block (a
   module with a ``shortcut`` or ``downsample`` attribute, such as
   :class:`~ecgzoo.models.blocks.ResidualBlock1d`), the whole block is used instead, so the map
   includes the skip connection and the block's final activation rather than one branch of it.
   For ``resnet1d`` and ``hadln`` that is the last residual block; for ``cblstm`` the last
   convolution before the BiLSTM; for ``cnn2d`` the last ``ConvBlock`` convolution;
3. a model without any convolution (``rnn``, ``fc``) raises :class:`~ecgzoo.errors.EcgzooError`;
4. an ensemble (:mod:`ecgzoo.models.ensemble`) names one layer per member
   (``gradcam_layers()``): each member's map is taken with the gradient of the ensemble's own
   output, and the maps are summed.

Where the map lives (:class:`GradCamResult`; for 2D layers ``model.cam_view()`` says):

* 1D layers: the map is interpolated (linear) to the input's ``n_samples``: ``(batch, n_samples)``.
* ``cnn2d``: the map on the 16 x 12 beat grid is interpolated (bilinear) to the grid, unfolded
  row by row and the model's padding / cropping / resampling undone: ``(batch, n_samples)``.
* spectrogram models (``spectrogram_cnn`` on raw input; the spectrogram comes from the model's
  own ``spectrogram`` module, its ``nperseg`` and ``hop`` place the frames): the map is
  interpolated (bilinear) to the spectrogram's ``(F, T)`` grid, ``(batch, F, T)``, and projected
  back to the time axis
  (``cam_time``, ``(batch, n_samples)``): each frame's mean over frequency is spread over the
  samples its STFT window covers and averaged where windows overlap, so the attribution on the
  zero padding can be measured on the signal. With ``input="spectrogram"`` (a precomputed
  ``(batch, F, T)`` input) the map is on that grid and ``cam_time`` is per frame ``(batch, T)``.
  Any other 2D layer is assumed to have time along its last axis.

Maps are ReLU'd and divided by their per-example maximum (an all-negative map stays all zeros);
the signed, unnormalised map is kept in ``raw``. The model runs in ``eval()`` mode (batch-norm
statistics frozen, dropout off) and its previous mode is restored afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from ecgzoo.errors import EcgzooError
from ecgzoo.models.base import CamView, default_gradcam_layer, image_view, model_name

__all__ = [
    "GradCamResult",
    "compute_gradcam",
    "gradcam",
    "gradcam_layer",
    "gradcam_layers",
    "normalise_maps",
    "padding_attribution",
]


@dataclass
class GradCamResult:
    """Grad-CAM maps for one batch.

    ``cam``: ReLU'd, per-example [0, 1] map on the input's grid: ``(batch, n_samples)`` for
    signal models, ``(batch, F, T)`` for spectrogram models. ``raw``: the same before ReLU and
    normalisation. ``cam_time``: the map on the time axis ``(batch, n_samples)``, normalised to
    [0, 1] (equal to ``cam`` for signal models). ``grid``: ``"time"``, ``"beat_grid"`` (cnn2d)
    or ``"spectrogram"``. ``layer``: the qualified name of the layer used. ``spectrogram``: the
    model's own log spectrogram ``(batch, F, T)`` for spectrogram models, else ``None``.
    """

    cam: np.ndarray
    raw: np.ndarray
    cam_time: np.ndarray
    grid: str
    layer: str
    spectrogram: np.ndarray | None = None
    hop: int | None = None
    nperseg: int | None = None


# --------------------------------------------------------------------------- layer choice


def gradcam_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM uses for ``model``: its ``gradcam_layer()`` (every
    :class:`~ecgzoo.models.base.EcgModel` has one), else the default rule of
    :func:`~ecgzoo.models.base.default_gradcam_layer`."""
    custom = getattr(model, "gradcam_layer", None)
    if callable(custom) and not isinstance(custom, nn.Module):
        layer = custom()
        if not isinstance(layer, nn.Module):
            raise EcgzooError(f"{model_name(model)}: gradcam_layer() did not return a module")
        return layer
    return default_gradcam_layer(model)


def gradcam_layers(model: nn.Module) -> list[nn.Module]:
    """Every layer whose maps make up ``model``'s Grad-CAM: an ensemble's members' layers
    (``gradcam_layers()``; the maps are summed), else the one :func:`gradcam_layer`."""
    several = getattr(model, "gradcam_layers", None)
    if callable(several):
        return list(several())
    return [gradcam_layer(model)]


def _module_names(model: nn.Module) -> dict[int, str]:
    return {id(m): name for name, m in model.named_modules()}


# --------------------------------------------------------------------------- grids


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """ReLU and divide every example (first axis) by its maximum; all-zero maps stay zero."""
    maps = np.maximum(np.asarray(maps, dtype=np.float32), 0.0)
    flat = maps.reshape(len(maps), -1)
    peak = flat.max(axis=1, initial=0.0)
    scale = np.where(peak > 0, peak, 1.0)
    return (flat / scale[:, None]).reshape(maps.shape).astype(np.float32)


def _view_for(model: nn.Module, x: torch.Tensor, layer_out_shape: tuple[int, ...]) -> CamView:
    """The model's own account of its 2D maps (``cam_view``), else: the last axis is time."""
    view = getattr(model, "cam_view", None)
    if callable(view):
        return view(x, layer_out_shape)
    return image_view(int(x.shape[-1]), layer_out_shape)


# --------------------------------------------------------------------------- Grad-CAM


def _as_tensor(x, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    return t.to(device=device, dtype=torch.float32)


def _targets(target, n: int) -> torch.Tensor:
    if isinstance(target, torch.Tensor):
        t = target.reshape(-1).long()
    elif isinstance(target, int | np.integer):
        t = torch.full((n,), int(target), dtype=torch.long)
    else:
        t = torch.as_tensor(np.asarray(target, dtype=np.int64)).reshape(-1)
    if t.numel() == 1 and n > 1:
        t = t.expand(n)
    if t.numel() != n:
        raise ValueError(f"target has {t.numel()} entries for a batch of {n}")
    return t.clone()


def _layer_output_shape(model: nn.Module, layer: nn.Module, x: torch.Tensor, feats) -> tuple:
    shapes: list[tuple[int, ...]] = []

    def hook(_m, _i, out):
        if not shapes:
            o = out[0] if isinstance(out, tuple | list) else out
            shapes.append(tuple(o.shape))

    handle = layer.register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x[:1], None if feats is None else feats[:1])
    finally:
        handle.remove()
    if not shapes:
        raise EcgzooError(
            f"{model_name(model)}: the Grad-CAM layer does not run in the forward pass"
        )
    return shapes[0]


def compute_gradcam(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    target: int | Sequence[int] | np.ndarray | torch.Tensor,
    layer: nn.Module | None = None,
    features: np.ndarray | torch.Tensor | None = None,
    batch_size: int = 16,
) -> GradCamResult:
    """Grad-CAM of ``target`` (one class for all, or one per example) for inputs ``x``.

    ``x``: ``(batch, n_leads, n_samples)``; ``features``: the model's side input
    ``(batch, n_features)`` (already standardised, as the model saw it in training), passed to
    ``forward`` through captum's ``additional_forward_args``. ``layer`` overrides
    :func:`gradcam_layers`; for an ensemble the members' maps, each taken with the gradient of
    the ensemble's output, are summed. See :class:`GradCamResult` for the shapes.
    """
    from captum.attr import LayerAttribution, LayerGradCam

    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    xt = _as_tensor(x, device)
    if xt.dim() != 3:
        raise ValueError(f"expected x of shape (batch, n_leads, n_samples), got {tuple(xt.shape)}")
    n, n_samples = int(xt.shape[0]), int(xt.shape[-1])
    tt = _targets(target, n)
    ft = None if features is None else _as_tensor(features, device)
    layers = gradcam_layers(model) if layer is None else [layer]
    names = _module_names(model)
    layer_name = ", ".join(names.get(id(m), type(m).__name__) or "<model>" for m in layers)

    was_training = model.training
    model.eval()
    # cuDNN cannot backpropagate through an RNN in eval mode: use the native kernels here.
    cudnn_off = (
        torch.backends.cudnn.flags(enabled=False)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    try:
        out_shape = _layer_output_shape(model, layers[0], xt, ft)
        if len(out_shape) not in (3, 4):
            raise EcgzooError(
                f"{model_name(model)}: Grad-CAM layer {layer_name!r} outputs shape "
                f"{out_shape}; a (batch, channels, time) or (batch, channels, H, W) map is needed"
            )
        view = _view_for(model, xt, out_shape) if len(out_shape) == 4 else None
        size = (n_samples,) if view is None else view.shape
        mode = "linear" if view is None else "bilinear"
        raw = np.zeros((n, *size), dtype=np.float32)
        with cudnn_off, torch.enable_grad():
            for one_layer in layers:
                gc = LayerGradCam(model, one_layer)
                for start in range(0, n, batch_size):
                    xb = xt[start : start + batch_size].detach().clone().requires_grad_(True)
                    fb = None if ft is None else ft[start : start + batch_size]
                    attr = gc.attribute(
                        xb,
                        target=tt[start : start + batch_size].to(device),
                        additional_forward_args=None if fb is None else (fb,),
                        relu_attributions=False,
                    )
                    up = LayerAttribution.interpolate(attr.detach(), size, interpolate_mode=mode)
                    raw[start : start + batch_size] += up[:, 0].float().cpu().numpy()
    finally:
        model.train(was_training)
    cam = normalise_maps(raw)
    if view is None:
        return GradCamResult(cam, raw, cam.copy(), "time", layer_name)
    cam_time = normalise_maps(view.to_time(np.maximum(raw, 0.0)))
    return GradCamResult(
        cam, raw, cam_time, view.grid, layer_name, view.spectrogram, view.hop, view.nperseg
    )


def gradcam(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    target: int | Sequence[int] | np.ndarray | torch.Tensor,
    layer: nn.Module | None = None,
    features: np.ndarray | torch.Tensor | None = None,
) -> np.ndarray:
    """Normalised Grad-CAM maps: ``(batch, n_samples)`` for signal models (the input's length),
    ``(batch, F, T)`` on the spectrogram grid for spectrogram models.

    Use :func:`compute_gradcam` for the raw maps, the time projection and the layer name.
    """
    return compute_gradcam(model, x, target, layer=layer, features=features).cam


# --------------------------------------------------------------------------- padding


def padding_attribution(cam_time: np.ndarray, lengths: np.ndarray | Sequence[int]) -> dict:
    """How much of each map falls on the zero padding at the end of the input.

    ``cam_time``: non-negative maps on the time axis ``(n, n_samples)`` (``cam_time`` of
    :func:`compute_gradcam`); ``lengths``: real (not padded) samples of each example ``(n,)``
    (``pad_or_trim``'s lengths). Per record: ``padding_fraction`` (attribution on samples
    ``>= length`` over the total), ``signal_fraction`` (``1 - padding_fraction``),
    ``padding_share`` (the padding's share of the input length) and ``padding_ratio``
    (``padding_fraction / padding_share``: above 1 the model looks at the padding more than a
    flat map would; ``None`` without padding). A map with no attribution at all gives ``None``
    fractions. ``mean`` averages each over the records where it is defined.
    """
    cam = np.maximum(np.asarray(cam_time, dtype=np.float64), 0.0)
    if cam.ndim != 2:
        raise ValueError(f"cam_time must be (n, n_samples), got shape {cam.shape}")
    n, n_samples = cam.shape
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if len(lengths) != n:
        raise ValueError(f"{len(lengths)} lengths for {n} maps")
    lengths = np.clip(lengths, 0, n_samples)
    pad_mask = np.arange(n_samples)[None, :] >= lengths[:, None]
    total = cam.sum(axis=1)
    on_pad = (cam * pad_mask).sum(axis=1)
    records = []
    for i in range(n):
        share = float((n_samples - lengths[i]) / n_samples)
        if total[i] > 0:
            frac = float(on_pad[i] / total[i])
            row = {"padding_fraction": frac, "signal_fraction": 1.0 - frac}
        else:
            row = {"padding_fraction": None, "signal_fraction": None}
        row["padding_share"] = share
        row["padding_ratio"] = (
            row["padding_fraction"] / share
            if share > 0 and row["padding_fraction"] is not None
            else None
        )
        row["length"] = int(lengths[i])
        row["n_samples"] = int(n_samples)
        records.append(row)

    def mean(key: str) -> float | None:
        vals = [r[key] for r in records if r[key] is not None]
        return float(np.mean(vals)) if vals else None

    keys = ("padding_fraction", "signal_fraction", "padding_share", "padding_ratio")
    return {"records": records, "mean": {k: mean(k) for k in keys}}
