"""Grad-CAM overlays as PNG files.

Like :mod:`ecgzoo.report.plots`, nothing here imports matplotlib at import time or touches
pyplot: each function builds a ``Figure`` on an Agg canvas, writes it to a temporary file next
to the target and moves it into place with ``os.replace`` (a reader never sees half a PNG).

* :func:`plot_signal_cam`: the signal drawn as a line coloured by the heat map, over a faint
  band of the same map, with the map itself beneath; time in seconds; the zero padding at the
  end shaded and labelled with its length and the share of attribution it receives.
* :func:`plot_spectrogram_cam`: the model's log spectrogram with the heat map overlaid
  (frequency in Hz, time in seconds), and beneath it the signal coloured by the map projected
  back onto the time axis, padding shaded as above.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ecgzoo.report.figures import new_figure, save_figure

__all__ = ["plot_signal_cam", "plot_spectrogram_cam"]

DPI = 110
CMAP = "jet"
PAD_COLOUR = "0.55"


def _figure(width: float, height: float, rows: int, ratios: list[float]):
    # The Agg canvas is attached to this figure alone: no pyplot, no global backend switch.
    fig = new_figure(width, height, dpi=DPI)
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    return fig, axes


def _width_for(seconds: float) -> float:
    return float(np.clip(4.0 + 0.22 * seconds, 6.0, 16.0))


def _shade_padding(ax, length: int | None, n: int, fs: float, label: str | None) -> None:
    if length is None or length >= n:
        return
    ax.axvspan(length / fs, n / fs, color=PAD_COLOUR, alpha=0.35, lw=0, zorder=0.5)
    if label:
        ax.text(
            (length + n) / 2 / fs,
            0.97,
            label,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color="0.15",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6", "alpha": 0.85},
        )


#: What fills the input after a short recording, by the ``fill`` of the run's ``InputSpec``.
FILLER_NAMES = {"zero": "zero padding", "tile": "tiled repeat", "reflect": "mirrored repeat"}


def filler_name(fill: str | None) -> str:
    """``zero padding`` / ``tiled repeat`` / ``mirrored repeat`` for a run's ``fill``."""
    return FILLER_NAMES.get(fill or "zero", f"{fill} fill")


def _padding_label(
    length: int | None, n: int, fs: float, pad_fraction: float | None, fill: str | None = None
) -> str:
    if length is None or length >= n:
        return ""
    text = f"{filler_name(fill)} ({(n - length) / fs:.1f} s)"
    if pad_fraction is not None:
        text += f"\n{100 * pad_fraction:.0f}% of attribution"
    return text


def _coloured_signal(ax, t: np.ndarray, signal: np.ndarray, cam: np.ndarray):
    from matplotlib.collections import LineCollection

    pts = np.column_stack([t, signal])
    segs = np.stack([pts[:-1], pts[1:]], axis=1)
    lc = LineCollection(segs, cmap=CMAP, norm=_norm(), linewidths=1.1, zorder=2)
    lc.set_array(0.5 * (cam[:-1] + cam[1:]))
    ax.add_collection(lc)
    lo, hi = float(np.min(signal)), float(np.max(signal))
    margin = 0.06 * (hi - lo) if hi > lo else 1.0
    ax.set_xlim(t[0], t[-1] + (t[1] - t[0] if len(t) > 1 else 1.0))
    ax.set_ylim(lo - margin, hi + margin)
    # A faint band of the map behind the trace.
    ax.imshow(
        cam[None, :],
        aspect="auto",
        cmap=CMAP,
        norm=_norm(),
        alpha=0.18,
        extent=(t[0], t[-1], lo - margin, hi + margin),
        origin="lower",
        interpolation="nearest",
        zorder=0,
    )
    return lc


def _norm():
    from matplotlib.colors import Normalize

    return Normalize(0.0, 1.0)


def _map_axis(ax, t: np.ndarray, cam: np.ndarray) -> None:
    ax.fill_between(t, 0, cam, color="tab:red", alpha=0.35, lw=0)
    ax.plot(t, cam, color="tab:red", lw=0.8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("Grad-CAM")
    ax.set_xlabel("time (s)")


def plot_signal_cam(
    path: str | os.PathLike[str],
    signal: np.ndarray,
    cam: np.ndarray,
    fs: float,
    *,
    length: int | None = None,
    title: str = "",
    pad_fraction: float | None = None,
    ylabel: str = "amplitude",
    fill: str | None = None,
) -> Path:
    """PNG of a 1D signal ``(n_samples,)`` coloured by its Grad-CAM map ``(n_samples,)``.

    ``length``: real samples (the rest, zero padding or the run's ``fill``, is shaded and
    labelled);
    ``pad_fraction``: the share of attribution on the padding, written on the shaded part.
    """
    signal = np.asarray(signal, dtype=np.float64).reshape(-1)
    cam = np.clip(np.asarray(cam, dtype=np.float64).reshape(-1), 0.0, 1.0)
    if cam.shape != signal.shape:
        raise ValueError(f"map of {cam.shape} for a signal of {signal.shape}")
    n = len(signal)
    t = np.arange(n) / float(fs)
    fig, (ax, ax_map) = _figure(_width_for(n / fs), 4.2, 2, [3.0, 1.0])
    lc = _coloured_signal(ax, t, signal, cam)
    label = _padding_label(length, n, fs, pad_fraction, fill)
    _shade_padding(ax, length, n, fs, label)
    _shade_padding(ax_map, length, n, fs, None)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    _map_axis(ax_map, t, cam)
    fig.colorbar(lc, ax=[ax, ax_map], label="Grad-CAM (normalised)", pad=0.01, aspect=30)
    return save_figure(fig, path, dpi=DPI)


def plot_spectrogram_cam(
    path: str | os.PathLike[str],
    signal: np.ndarray,
    spectrogram: np.ndarray,
    cam: np.ndarray,
    cam_time: np.ndarray,
    fs: float,
    hop: int,
    nperseg: int,
    *,
    length: int | None = None,
    title: str = "",
    pad_fraction: float | None = None,
    ylabel: str = "amplitude",
    fill: str | None = None,
) -> Path:
    """PNG of a log spectrogram ``(F, T)`` with its Grad-CAM map ``(F, T)`` overlaid, above the
    signal ``(n_samples,)`` coloured by the map on the time axis ``cam_time`` ``(n_samples,)``.

    Row ``k`` of the spectrogram is ``k fs / nperseg`` Hz; frame ``j`` covers samples
    ``[j hop, j hop + nperseg)`` and is drawn at its centre.
    """
    signal = np.asarray(signal, dtype=np.float64).reshape(-1)
    spectrogram = np.asarray(spectrogram, dtype=np.float64)
    cam = np.clip(np.asarray(cam, dtype=np.float64), 0.0, 1.0)
    cam_time = np.clip(np.asarray(cam_time, dtype=np.float64).reshape(-1), 0.0, 1.0)
    if cam.shape != spectrogram.shape:
        raise ValueError(f"map of {cam.shape} for a spectrogram of {spectrogram.shape}")
    n = len(signal)
    f_bins, n_frames = spectrogram.shape
    df = fs / nperseg
    t0 = (nperseg / 2 - hop / 2) / fs
    t1 = t0 + n_frames * hop / fs
    extent = (t0, t1, -df / 2, (f_bins - 0.5) * df)
    fig, (ax_s, ax_t) = _figure(_width_for(n / fs), 6.0, 2, [2.2, 1.4])
    ax_s.imshow(
        spectrogram,
        aspect="auto",
        origin="lower",
        cmap="gray",
        extent=extent,
        interpolation="nearest",
    )
    ax_s.imshow(
        cam, aspect="auto", origin="lower", cmap=CMAP, norm=_norm(), alpha=0.45, extent=extent
    )
    ax_s.set_ylabel("frequency (Hz)")
    label = _padding_label(length, n, fs, pad_fraction, fill)
    if length is not None and length < n:
        ax_s.axvline(length / fs, color="white", ls="--", lw=1.0)
        ax_s.text(
            (length + n) / 2 / fs,
            0.97,
            filler_name(fill),
            transform=ax_s.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color="white",
        )
    if title:
        ax_s.set_title(title, fontsize=10)
    t = np.arange(n) / float(fs)
    _coloured_signal(ax_t, t, signal, cam_time)
    _shade_padding(ax_t, length, n, fs, label)
    ax_t.set_ylabel(ylabel)
    ax_t.set_xlabel("time (s)")
    ax_s.set_xlim(0, n / fs)
    from matplotlib.cm import ScalarMappable

    fig.colorbar(
        ScalarMappable(_norm(), CMAP),
        ax=[ax_s, ax_t],
        label="Grad-CAM (normalised)",
        pad=0.01,
        aspect=30,
    )
    return save_figure(fig, path, dpi=DPI)
