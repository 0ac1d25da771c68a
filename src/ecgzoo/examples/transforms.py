"""Named signal transforms: pure numpy / scipy / PyWavelets, vectorised over a batch.

Shapes: a *batch* is an array whose last axis is time, normally ``(n, n_leads, n_samples)``;
every transform keeps the leading axes and acts on the last one.

How 2D views fit the model contract (``x`` is ``(batch, n_leads, n_samples)``): the data stage
stays model-agnostic and by default hands out raw signals ``(n, 1, n_samples)``. A model that
wants an image (``SpectrogramCNN``) builds its log spectrogram inside ``forward`` with the same
definition as :func:`log_spectrogram` here, so it also works for Grad-CAM and export. The numpy
:func:`log_spectrogram` / :func:`scalogram` serve plots and explanations, and the
``data.cinc2017.transform: spectrogram|scalogram`` option, which stores the 2D view as
``(n, n_frequencies_or_scales, n_frames)``: frequency bins (or wavelet scales) take the place of
leads and frames the place of samples, so any 1D model accepts it unchanged (and
``SpectrogramCNN(input="spectrogram")`` reads it back as a one-channel image).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecgzoo.readers.records import resample  # one resampler for readers and examples

__all__ = [
    "pad_or_trim",
    "padding_mask",
    "random_crop",
    "multi_crop",
    "crop_offsets",
    "windows_at",
    "log_spectrogram",
    "spectrogram_frequencies",
    "scalogram",
    "default_scales",
    "resample",
    "normalise",
]


FILL_MODES = ("zero", "tile", "reflect")
_NP_PAD_MODE = {"tile": "wrap", "reflect": "symmetric"}


def pad_or_trim(
    signals: Sequence[np.ndarray] | np.ndarray, length: int, fill: str = "zero"
) -> tuple[np.ndarray, np.ndarray]:
    """Extend at the end or trim the end of every signal to ``length`` samples.

    ``signals``: a sequence of arrays whose last axis is time (1D, or ``(n_leads, t)``; all with
    the same leading shape), or one array ``(n, ..., t)``. ``fill``: what follows a shorter
    signal: ``zero`` (zero padding), ``tile`` (the signal repeated from its start) or
    ``reflect`` (mirrored back and forth, ``abc`` -> ``abccbaabc...``); an empty signal is
    zero-filled whatever the mode. Returns ``(x, lengths)``: ``x`` float32
    ``(n, ..., length)`` and ``lengths`` int64 ``(n,)``, the number of real (not filled)
    samples of each example, ``min(original length, length)``; :func:`padding_mask` turns it
    into a mask.
    """
    length = int(length)
    if length < 1:
        raise ValueError(f"length must be positive (got {length})")
    if fill not in FILL_MODES:
        raise ValueError(f"fill must be one of {', '.join(FILL_MODES)} (got {fill!r})")
    if isinstance(signals, np.ndarray):
        signals = list(signals)
    if len(signals) == 0:
        return np.zeros((0, length), dtype=np.float32), np.zeros(0, dtype=np.int64)
    lead_shape = np.shape(signals[0])[:-1]
    out = np.zeros((len(signals), *lead_shape, length), dtype=np.float32)
    lengths = np.empty(len(signals), dtype=np.int64)
    for i, sig in enumerate(signals):
        sig = np.asarray(sig)
        if sig.shape[:-1] != lead_shape:
            raise ValueError(
                f"signal {i} has leading shape {sig.shape[:-1]}, expected {lead_shape}"
            )
        n_real = min(sig.shape[-1], length)
        out[i, ..., :n_real] = sig[..., :n_real]
        lengths[i] = n_real
        if fill != "zero" and 0 < n_real < length:
            widths = [(0, 0)] * (sig.ndim - 1) + [(0, length - n_real)]
            out[i] = np.pad(sig[..., :n_real], widths, mode=_NP_PAD_MODE[fill])
    return out, lengths


def padding_mask(lengths: np.ndarray, length: int) -> np.ndarray:
    """Boolean ``(n, length)``: True where a sample is real signal, False where it is padding."""
    return np.arange(int(length))[None, :] < np.asarray(lengths)[:, None]


def _lengths_or_full(x: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    if lengths is None:
        return np.full(len(x), x.shape[-1], dtype=np.int64)
    return np.minimum(np.asarray(lengths, dtype=np.int64), x.shape[-1])


def _take_windows(x: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """``x`` ``(n, ..., t)``, ``offsets`` ``(n, k)`` -> ``(n, k, ..., length)``; zero beyond t."""
    t = x.shape[-1]
    if t < length:  # windows longer than the signal: pad first so indexing stays in range
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (length - t,), x.dtype)], axis=-1)
    idx = offsets[:, :, None] + np.arange(length)[None, None, :]  # (n, k, length)
    n, k = offsets.shape
    lead_shape = x.shape[1:-1]
    flat = x.reshape(n, -1, x.shape[-1])  # (n, c, t)
    out = np.take_along_axis(flat[:, None, :, :], idx[:, :, None, :], axis=-1)  # (n, k, c, L)
    return out.reshape(n, k, *lead_shape, length)


def windows_at(x: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """Windows of ``length`` samples starting at ``offsets`` ``(n, k)``: ``(n, k, ..., length)``
    (zero beyond the end of ``x``)."""
    return _take_windows(x, np.asarray(offsets, dtype=np.int64), int(length))


def random_crop(
    x: np.ndarray, length: int, rng: np.random.Generator, lengths: np.ndarray | None = None
) -> np.ndarray:
    """One random window of ``length`` samples per example: ``(n, ..., t)`` -> ``(n, ..., length)``.

    With ``lengths`` (real samples per example, from :func:`pad_or_trim`) the window is drawn
    inside the real signal where it is long enough; a shorter signal gives its start, zero-padded.
    """
    length = int(length)
    real = _lengths_or_full(x, lengths)
    high = np.maximum(real - length, 0) + 1
    offsets = (rng.random(len(x)) * high).astype(np.int64)[:, None]
    return _take_windows(x, offsets, length)[:, 0]


def crop_offsets(lengths: np.ndarray, length: int, n_crops: int) -> np.ndarray:
    """Evenly spaced window starts ``(n, n_crops)`` covering each signal from start to end."""
    span = np.maximum(np.asarray(lengths, dtype=np.int64) - int(length), 0)
    if n_crops == 1:
        return (span // 2)[:, None]
    frac = np.linspace(0.0, 1.0, int(n_crops))[None, :]
    return np.round(span[:, None] * frac).astype(np.int64)


def multi_crop(
    x: np.ndarray, length: int, n_crops: int, lengths: np.ndarray | None = None
) -> np.ndarray:
    """``n_crops`` evenly spaced windows per example, for test-time voting.

    ``(n, ..., t)`` -> ``(n, n_crops, ..., length)``; reshape to ``(n * n_crops, ..., length)``
    to predict, then average the ``n_crops`` outputs of each example.
    """
    if n_crops < 1:
        raise ValueError(f"n_crops must be positive (got {n_crops})")
    return _take_windows(x, crop_offsets(_lengths_or_full(x, lengths), length, n_crops), length)


def spectrogram_frequencies(fs: float, nperseg: int) -> np.ndarray:
    """Centre frequencies (Hz) of the rows of :func:`log_spectrogram`."""
    return np.fft.rfftfreq(int(nperseg), d=1.0 / float(fs))


def log_spectrogram(
    x: np.ndarray,
    fs: float,
    nperseg: int = 256,
    noverlap: int = 224,
    eps: float = 1e-6,
    fmax: float | None = None,
) -> np.ndarray:
    """Natural log of the STFT magnitude: ``(n, c, t)`` -> ``(n, c, F, T)``.

    Periodic Hann window of ``nperseg`` samples, hop ``nperseg - noverlap``, no padding and no
    detrending (``T = 1 + (t - nperseg) // hop``), magnitude scaled by ``1 / sum(window)`` (an
    amplitude spectrum in the signal's units); ``log(|S| + eps)``. ``fmax`` keeps the rows up to
    that frequency. ``SpectrogramCNN`` computes exactly this inside its forward pass.
    """
    from scipy import signal as sps  # imported where used: importing this module stays cheap

    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] < nperseg:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than nperseg={nperseg}")
    _, _, mag = sps.spectrogram(
        x,
        fs=fs,
        window="hann",
        nperseg=nperseg,
        noverlap=noverlap,
        detrend=False,
        scaling="spectrum",
        mode="magnitude",
        axis=-1,
    )
    if fmax is not None:
        mag = mag[..., : _n_bins(fs, nperseg, fmax), :]
    return np.log(mag + eps).astype(np.float32)


def _n_bins(fs: float, nperseg: int, fmax: float | None) -> int:
    freqs = spectrogram_frequencies(fs, nperseg)
    if fmax is None:
        return len(freqs)
    return max(1, int(np.sum(freqs <= fmax + 1e-9)))


def default_scales(
    fs: float, n_scales: int = 32, fmin: float = 0.5, fmax: float = 40.0, wavelet: str = "morl"
) -> np.ndarray:
    """Wavelet scales for geometrically spaced frequencies ``fmin`` .. ``fmax`` Hz (high first)."""
    import pywt

    freqs = np.geomspace(fmax, fmin, int(n_scales))
    return pywt.central_frequency(wavelet) * float(fs) / freqs


def scalogram(
    x: np.ndarray,
    fs: float,
    scales: np.ndarray | int = 32,
    wavelet: str = "morl",
    step: int | None = None,
) -> np.ndarray:
    """Continuous-wavelet magnitude ``|cwt|``, averaged over blocks of ``step`` samples.

    ``(n, c, t)`` -> ``(n, c, n_scales, t // step)``. ``scales`` is an array of scales or a count
    for :func:`default_scales` (0.5-40 Hz). ``step`` defaults to ``fs / 10`` (10 columns per
    second) to keep the result small.
    """
    x = np.asarray(x, dtype=np.float32)
    if np.isscalar(scales):
        scales = default_scales(fs, int(scales), wavelet=wavelet)
    scales = np.asarray(scales, dtype=np.float64)
    step = max(1, int(round(fs / 10.0)) if step is None else int(step))
    n_cols = x.shape[-1] // step
    if n_cols < 1:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than step={step}")
    import pywt

    coef, _ = pywt.cwt(x, scales, wavelet, sampling_period=1.0 / fs, method="fft", axis=-1)
    mag = np.abs(coef[..., : n_cols * step]).astype(np.float32)  # (S, n, c, t)
    pooled = mag.reshape(*mag.shape[:-1], n_cols, step).mean(axis=-1)
    return np.moveaxis(pooled, 0, -2)  # (n, c, S, T)


def normalise(x: np.ndarray, lengths: np.ndarray | None = None, eps: float = 1e-8) -> np.ndarray:
    """Per-record, per-lead z-score along time: ``(n, ..., t)`` -> same shape, float32.

    With ``lengths`` the mean and standard deviation come from the real samples only and the
    padding stays exactly zero.
    """
    x = np.asarray(x, dtype=np.float32)
    if lengths is None:
        mean = x.mean(axis=-1, keepdims=True)
        std = x.std(axis=-1, keepdims=True)
        return ((x - mean) / (std + eps)).astype(np.float32)
    mask = padding_mask(lengths, x.shape[-1]).reshape(len(x), *([1] * (x.ndim - 2)), x.shape[-1])
    count = np.maximum(mask.sum(axis=-1, keepdims=True), 1)
    mean = np.where(mask, x, 0).sum(axis=-1, keepdims=True) / count
    var = np.where(mask, (x - mean) ** 2, 0).sum(axis=-1, keepdims=True) / count
    return np.where(mask, (x - mean) / (np.sqrt(var) + eps), 0).astype(np.float32)
