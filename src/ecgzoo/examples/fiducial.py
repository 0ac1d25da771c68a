"""Which instant of a beat its window is centred on (the fiducial), and how to reproduce it.

Reference R-peak annotations (MIT-BIH, SVDB) and a QRS detector put the "R peak" at different
instants of the same beat: detected peaks sit a median +15.6 ms from the SVDB references, and a
model trained on reference-centred windows loses most of its S sensitivity when the windows move
by 2 samples (issue 19). Two remedies, both described here as JSON-able dictionaries so that a
model's input description (``model.json``) can carry them:

* :func:`align_peaks` (``align_fiducial: qrs_extremum``): move every peak, reference or detected,
  to the largest absolute value of the 5-15 Hz band-passed lead within +-50 ms. Training (on
  reference peaks) and ``annotate`` (on detected peaks) call the same function, so both cut
  windows around the same instant of the QRS.
* a random shift of each training beat by up to +-N samples (``train.shift_samples``; applied
  in ``train.datamodule.shift_batch``), so that the model does not rely on one exact fiducial.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The fiducials :func:`align_peaks` knows ("none": the peaks as given).
FIDUCIALS = ("none", "qrs_extremum")
BAND_HZ = (5.0, 15.0)
HALF_WINDOW_S = 0.05


def fiducial_description(fiducial: str) -> dict[str, Any] | None:
    """The JSON-able description of a fiducial (``None`` for ``"none"``): what the beat
    windows are centred on, enough to reproduce it (the key of cached beats includes it)."""
    if fiducial == "none":
        return None
    if fiducial != "qrs_extremum":
        raise ValueError(f"unknown fiducial {fiducial!r} (choose from {', '.join(FIDUCIALS)})")
    return {
        "fiducial": "qrs_extremum",
        "band_hz": list(BAND_HZ),
        "filter": "butter2-bandpass-sosfiltfilt",
        "half_window_s": HALF_WINDOW_S,
        "what": "argmax |band-passed lead| within +-half_window_s of the given peak",
    }


def shift_description(shift_samples: int, fs: float) -> dict[str, Any] | None:
    """The JSON-able description of the training shift augmentation (``None`` when off)."""
    if shift_samples <= 0:
        return None
    return {
        "augmentation": "random_shift",
        "max_samples": int(shift_samples),
        "max_ms": 1000.0 * shift_samples / float(fs),
        "edges": "repeat the first / last sample",
    }


def align_peaks(
    signal: np.ndarray, fs: float, peaks: np.ndarray, fiducial: str = "qrs_extremum"
) -> np.ndarray:
    """``peaks`` (ascending samples of the 1-D ``signal`` at ``fs``) moved to the ``fiducial``.

    ``qrs_extremum``: the sample of largest ``|bandpass(signal)|`` (2nd-order Butterworth
    5-15 Hz, zero phase) within +-50 ms of each peak, clipped to the signal. Pure: depends on
    the signal and the peaks only (never on labels). The result is int64 and keeps the order
    of the input (two peaks may land on one sample; callers keep both).
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    if fiducial == "none" or len(peaks) == 0:
        return peaks
    fiducial_description(fiducial)  # refuses an unknown name
    from scipy.signal import butter, sosfiltfilt  # here: importing this module stays cheap

    x = np.asarray(signal, dtype=np.float64)
    high = min(BAND_HZ[1], 0.45 * fs)
    sos = butter(2, [BAND_HZ[0], high], btype="bandpass", fs=fs, output="sos")
    env = np.abs(sosfiltfilt(sos, x)) if len(x) > 15 else np.abs(x)
    half = max(1, int(round(HALF_WINDOW_S * fs)))
    offsets = np.arange(-half, half + 1)
    idx = np.clip(peaks[:, None] + offsets[None, :], 0, len(x) - 1)
    return idx[np.arange(len(peaks)), np.argmax(env[idx], axis=1)].astype(np.int64)


def peaks_for_model(signal: np.ndarray, fs: float, peaks: np.ndarray, options: Any) -> np.ndarray:
    """The R ``peaks`` a beat model's windows are cut around: moved to the fiducial its beat
    ``options`` (``align_fiducial``) name, or as given. Training (``beats_from_lead``),
    ``evaluate --data`` and ``annotate`` all go through this one function."""
    return align_peaks(signal, fs, peaks, getattr(options, "align_fiducial", "none"))
