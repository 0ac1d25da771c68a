"""Fixed-length recordings (windows): resample, normalise, pad or trim, optional time-frequency.

Works on any list of 1-D signals with options that carry ``fs``, ``length_s``, ``normalise``,
``transform`` (``raw``, ``spectrogram``, ``scalogram``) and the transform's parameters
(``nperseg``, ``noverlap``, ``fmax``, ``n_scales``, ``scalogram_step``), for example
``Cinc2017Options``. With ``L = round(length_s * fs)``:

- ``raw`` -> ``(n, 1, L)`` signals (z-scored over the real part when ``normalise``), trimmed at
  the end or extended at the end as ``fill`` says (``zero`` padding, the default; ``tile``: the
  recording repeated; ``reflect``: mirrored), so that with ``tile``/``reflect`` no input holds
  a run of padding zeros;
- ``spectrogram`` -> ``(n, F, T)`` log STFT magnitude, frequency rows as channels;
- ``scalogram`` -> ``(n, n_scales, L // scalogram_step)`` Morlet ``|cwt|``.

The real length of each example (positions along x's last axis that are signal, not padding or
fill) is returned beside ``x``: the training loop and crop voting keep their windows within it
when it is at least a window long (a shorter recording gives one window from its start, which
then runs into the fill).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecgzoo.errors import ConfigError
from ecgzoo.examples import transforms

SPECTROGRAM_BATCH = 256  # examples per STFT call (results do not depend on it)
SCALOGRAM_BATCH = 64


def hop(options: Any, section: str = "data.cinc2017") -> int:
    """STFT hop in samples; ``ConfigError`` when ``noverlap`` is not below ``nperseg``."""
    if options.noverlap >= options.nperseg:
        raise ConfigError(
            f"{section}.noverlap: must be smaller than nperseg ({options.nperseg}), "
            f"got {options.noverlap}"
        )
    return options.nperseg - options.noverlap


def scalogram_step(options: Any) -> int:
    """Signal samples per scalogram column (default: 10 columns per second)."""
    return options.scalogram_step or max(1, int(round(float(options.fs) / 10.0)))


def axis_rate(options: Any) -> float:
    """Positions per second along the last axis of ``x`` for these options."""
    fs = float(options.fs)
    if options.transform == "spectrogram":
        return fs / hop(options)
    if options.transform == "scalogram":
        return fs / scalogram_step(options)
    return fs


def n_samples_for(options: Any) -> int:
    """Signal length in samples after pad/trim."""
    return max(1, int(round(options.length_s * float(options.fs))))


def axis_lengths(options: Any, lengths: np.ndarray) -> np.ndarray:
    """Real positions along x's last axis, from real signal samples."""
    lengths = np.asarray(lengths)
    if options.transform == "spectrogram":
        frames = (lengths - options.nperseg) // hop(options) + 1
        return np.clip(frames, 0, None).astype(np.int64)
    if options.transform == "scalogram":
        return (lengths // scalogram_step(options)).astype(np.int64)
    return lengths.astype(np.int64)


def prepare_windows(
    signals: list[np.ndarray], options: Any, fs_in: float, section: str = "data.cinc2017"
) -> tuple[np.ndarray, np.ndarray]:
    """Resample, normalise, pad/trim and transform 1-D float32 signals at ``fs_in``.

    Returns ``(x, lengths along x's last axis)``.
    """
    fs = float(options.fs)
    if fs != fs_in:
        signals = [transforms.resample(s, fs_in, fs) for s in signals]
    if options.normalise:
        signals = [transforms.normalise(s[None, :])[0] for s in signals]
    length = n_samples_for(options)
    x, lengths = transforms.pad_or_trim(signals, length, getattr(options, "fill", "zero"))
    x = x[:, None, :]  # (n, 1, L)
    if options.transform == "raw":
        return x, lengths
    if options.transform == "spectrogram":
        hop(options, section)
        if length < options.nperseg:
            raise ConfigError(
                f"{section}.length_s: {length} samples are fewer than nperseg={options.nperseg}"
            )
        n = SPECTROGRAM_BATCH
        chunks = [
            transforms.log_spectrogram(
                x[i : i + n], fs, options.nperseg, options.noverlap, fmax=options.fmax
            )[:, 0]
            for i in range(0, len(x), n)
        ]
    else:
        step = scalogram_step(options)
        if length < step:
            raise ConfigError(f"{section}.scalogram_step: {step} exceeds the {length} samples")
        n = SCALOGRAM_BATCH
        chunks = [
            transforms.scalogram(x[i : i + n], fs, options.n_scales, step=step)[:, 0]
            for i in range(0, len(x), n)
        ]
    return np.concatenate(chunks).astype(np.float32), axis_lengths(options, lengths)
