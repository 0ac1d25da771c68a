"""Grad-CAM for every ecgzoo model with a convolution, through captum.

Grad-CAM (Selvaraju et al. 2017) weighs the feature maps of one convolutional layer by the
spatially averaged gradient of the target logit and sums them over channels. The computation is
captum's :class:`~captum.attr.LayerGradCam`, upsampled with
:meth:`~captum.attr.LayerAttribution.interpolate`; no gradient is taken by hand here.

Which layer (:func:`gradcam_layer`):

1. ``model.gradcam_layer()``, else ``model.feature_layer()``, when the model defines one (the
   model knows its best layer: ``spectrogram_cnn``'s ``feature_layer()`` is the EfficientNet's
   last convolution, ``_conv_head``);
2. otherwise the last ``nn.Conv1d`` / ``nn.Conv2d`` that runs in the forward pass (found with
   forward hooks on a probe input, so the order of execution counts, not the order of
   registration). When that convolution sits inside a residual block (a module with a
   ``shortcut`` or ``downsample`` attribute, such as :class:`~ecgzoo.models.blocks.
   ResidualBlock1d`), the whole block is used instead, so the map includes the skip connection
   and the block's final activation rather than one branch of it. For ``resnet1d`` and
   ``hadln`` that is the last residual block; for ``cblstm`` the last convolution before the
   BiLSTM; for ``cnn2d`` the last ``ConvBlock`` convolution;
3. a model without any convolution (``rnn``, ``fc``) raises :class:`~ecgzoo.errors.EcgzooError`.

Where the map lives (:class:`GradCamResult`):

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
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ecgzoo.errors import EcgzooError

__all__ = [
    "GradCamResult",
    "compute_gradcam",
    "gradcam",
    "gradcam_layer",
    "normalise_maps",
    "padding_attribution",
]

_CONVS = (nn.Conv1d, nn.Conv2d)
_RESIDUAL_ATTRS = ("shortcut", "downsample")


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


def _model_name(model: nn.Module) -> str:
    """The registry name of ``model`` (its module's ``NAME``), else its class name."""
    module = sys.modules.get(type(model).__module__)
    return str(getattr(module, "NAME", None) or type(model).__name__)


def _module_names(model: nn.Module) -> dict[int, str]:
    return {id(m): name for name, m in model.named_modules()}


def _probe_input(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    n_leads = int(getattr(model, "n_leads", 1))
    n_samples = int(getattr(model, "n_samples", 0))
    if n_samples < 1:
        raise EcgzooError(
            f"{_model_name(model)}: cannot find its last convolution (the model has no "
            "n_samples attribute); define gradcam_layer() or pass layer="
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(2, n_leads, n_samples, device=device)
    n_features = int(getattr(model, "n_features", 0) or 0)
    feats = torch.zeros(2, n_features, device=device) if n_features else None
    return x, feats


def _executed_convs(model: nn.Module) -> list[nn.Module]:
    """Convolutions in the order the forward pass runs them (one probe forward, no grad)."""
    order: list[nn.Module] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
        for m in model.modules()
        if isinstance(m, _CONVS)
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


def gradcam_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM uses for ``model`` (see the module docstring for the rules)."""
    for method in ("gradcam_layer", "feature_layer"):
        custom = getattr(model, method, None)
        if callable(custom) and not isinstance(custom, nn.Module):
            layer = custom()
            if not isinstance(layer, nn.Module):
                raise EcgzooError(f"{_model_name(model)}: {method}() did not return a module")
            return layer
    if not any(isinstance(m, _CONVS) for m in model.modules()):
        raise EcgzooError(
            f"Grad-CAM needs a convolutional layer, and model {_model_name(model)!r} has none "
            "(use a convolutional model such as resnet1d, cblstm, hadln, cnn2d or spectrogram_cnn)"
        )
    order = _executed_convs(model)
    if not order:  # convolutions exist but none ran: fall back on registration order
        order = [m for m in model.modules() if isinstance(m, _CONVS)]
    last = order[-1]
    names = _module_names(model)
    path = names[id(last)].split(".")
    # The nearest residual block holding the convolution, if any.
    for cut in range(len(path) - 1, 0, -1):
        parent = model.get_submodule(".".join(path[:cut]))
        if any(isinstance(getattr(parent, a, None), nn.Module) for a in _RESIDUAL_ATTRS):
            return parent
    return last


# --------------------------------------------------------------------------- grids


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """ReLU and divide every example (first axis) by its maximum; all-zero maps stay zero."""
    maps = np.maximum(np.asarray(maps, dtype=np.float32), 0.0)
    flat = maps.reshape(len(maps), -1)
    peak = flat.max(axis=1, initial=0.0)
    scale = np.where(peak > 0, peak, 1.0)
    return (flat / scale[:, None]).reshape(maps.shape).astype(np.float32)


def _frames_to_time(frame_scores: np.ndarray, n_samples: int, hop: int, nperseg: int) -> np.ndarray:
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


@dataclass
class _View:
    """How a 2D layer's map relates to the input: its grid and the way back to time."""

    grid: str
    shape: tuple[int, int]
    to_time: Callable[[np.ndarray], np.ndarray]
    spectrogram: np.ndarray | None = None
    hop: int | None = None
    nperseg: int | None = None


def _cnn2d_view(model: nn.Module, n_samples: int) -> _View:
    from ecgzoo.models import cnn2d

    grid = cnn2d.GRID

    def to_time(maps: np.ndarray) -> np.ndarray:
        flat = maps.reshape(len(maps), grid)  # row-major: the inverse of to_grid's reshape
        if n_samples == grid:
            return flat
        if model.reshape == "resample":
            t = torch.from_numpy(np.ascontiguousarray(flat))[:, None, :]
            return F.interpolate(t, size=n_samples, mode="linear", align_corners=False)[
                :, 0
            ].numpy()
        if n_samples < grid:  # padded at the end: drop the padding
            return flat[:, :n_samples]
        out = np.zeros((len(maps), n_samples), dtype=np.float32)  # centre crop: outside is 0
        start = (n_samples - grid) // 2
        out[:, start : start + grid] = flat
        return out

    return _View("beat_grid", (cnn2d.HEIGHT, cnn2d.WIDTH), to_time)


def _spectrogram_settings(model: nn.Module) -> tuple[int, int] | None:
    """``(nperseg, hop)`` of a model that builds an STFT spectrogram from the raw signal: read
    from the model or from its spectrogram module (``model.spectrogram``)."""
    for owner in (model, getattr(model, "spectrogram", None)):
        if owner is None:
            continue
        nperseg = getattr(owner, "nperseg", None)
        hop = getattr(owner, "hop", None)
        if hop is None and nperseg is not None and getattr(owner, "noverlap", None) is not None:
            hop = int(nperseg) - int(owner.noverlap)
        if nperseg is not None and hop is not None:
            return int(nperseg), int(hop)
    return None


def _model_spectrogram(model: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """The model's own log spectrogram ``(batch, F, T)`` of ``x``, when it exposes one."""
    for name in ("spectrogram", "compute_spectrogram", "log_spectrogram"):
        fn = getattr(model, name, None)
        if callable(fn):  # a method or a module (SpectrogramCNN.spectrogram)
            with torch.no_grad():
                spec = fn(x)
            spec = spec.detach().float().cpu()
            while spec.dim() > 3:
                spec = spec.mean(dim=1)  # (batch, channels, F, T) -> (batch, F, T)
            return spec
    return None


def _view_for(model: nn.Module, x: torch.Tensor, layer_out_shape: tuple[int, ...]) -> _View:
    n_samples = int(x.shape[-1])
    if hasattr(model, "to_grid"):  # cnn2d: the beat folded into 16 x 12
        return _cnn2d_view(model, n_samples)
    if getattr(model, "input", None) == "spectrogram":  # x is already (batch, F, T)
        f_bins = int(x.shape[1])

        def frames(maps: np.ndarray) -> np.ndarray:
            return maps.mean(axis=1)

        image = x.detach().float().cpu().numpy()
        return _View("spectrogram", (f_bins, n_samples), frames, image, None, None)
    spec = _model_spectrogram(model, x)
    settings = _spectrogram_settings(model)
    if spec is not None and spec.shape[-1] > 1:
        f_bins, n_frames = int(spec.shape[-2]), int(spec.shape[-1])
        if settings is None:  # infer the hop from the frame count, assuming nperseg = 2 (F - 1)
            nperseg = max(2, 2 * (f_bins - 1))
            hop = max(1, (n_samples - nperseg) // max(n_frames - 1, 1))
        else:
            nperseg, hop = settings

        def to_time(maps: np.ndarray) -> np.ndarray:
            return _frames_to_time(maps.mean(axis=1), n_samples, hop, nperseg)

        return _View("spectrogram", (f_bins, n_frames), to_time, spec.numpy(), hop, nperseg)
    # Unknown 2D layer: assume its last axis is time (as in an image of frequency x time).
    h = int(layer_out_shape[-2])

    def to_time_generic(maps: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(maps.mean(axis=1)))[:, None, :]
        return F.interpolate(t, size=n_samples, mode="linear", align_corners=False)[:, 0].numpy()

    return _View("image", (h, n_samples), to_time_generic)


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
            f"{_model_name(model)}: the Grad-CAM layer does not run in the forward pass"
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
    :func:`gradcam_layer`. See :class:`GradCamResult` for the shapes.
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
    layer = gradcam_layer(model) if layer is None else layer
    names = _module_names(model)
    layer_name = names.get(id(layer), type(layer).__name__) or "<model>"

    was_training = model.training
    model.eval()
    # cuDNN cannot backpropagate through an RNN in eval mode: use the native kernels here.
    cudnn_off = (
        torch.backends.cudnn.flags(enabled=False)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    try:
        out_shape = _layer_output_shape(model, layer, xt, ft)
        if len(out_shape) not in (3, 4):
            raise EcgzooError(
                f"{_model_name(model)}: Grad-CAM layer {layer_name!r} outputs shape "
                f"{out_shape}; a (batch, channels, time) or (batch, channels, H, W) map is needed"
            )
        view = _view_for(model, xt, out_shape) if len(out_shape) == 4 else None
        size = (n_samples,) if view is None else view.shape
        mode = "linear" if view is None else "bilinear"
        gc = LayerGradCam(model, layer)
        raws = []
        with cudnn_off, torch.enable_grad():
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
                raws.append(up[:, 0].float().cpu())
    finally:
        model.train(was_training)
    raw = torch.cat(raws).numpy() if raws else np.zeros((0, *size), dtype=np.float32)
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
