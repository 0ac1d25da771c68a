"""Named transforms: shapes, padding masks and content, on synthetic and real signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgzoo.datasets.cinc2017 import load_recordings
from ecgzoo.examples import transforms as T

FS = 300.0


@pytest.fixture(scope="module")
def real(cinc2017_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Four real recordings (one per class) padded/trimmed to 20 s: ``(4, 1, 6000)``."""
    ref = {"A00001": "N", "A00004": "A", "A00008": "O", "A00022": "~"}
    signals, _, _ = load_recordings(cinc2017_dir / "training2017", ref)
    x, lengths = T.pad_or_trim(signals, 6000)
    return x[:, None, :], lengths


def test_pad_or_trim_and_mask() -> None:
    signals = [np.ones(5), np.arange(12, dtype=float), np.full(10, 2.0)]
    x, lengths = T.pad_or_trim(signals, 10)
    assert x.shape == (3, 10) and x.dtype == np.float32
    assert lengths.tolist() == [5, 10, 10]
    np.testing.assert_array_equal(x[0], [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(x[1], np.arange(10))  # trimmed at the end
    mask = T.padding_mask(lengths, 10)
    assert mask.shape == (3, 10) and mask.dtype == bool
    assert mask[0].tolist() == [True] * 5 + [False] * 5 and mask[1:].all()
    assert np.all(x[~mask] == 0)
    leads, n = T.pad_or_trim([np.ones((2, 4)), np.ones((2, 7))], 6)
    assert leads.shape == (2, 2, 6) and n.tolist() == [4, 6]
    arr, n = T.pad_or_trim(np.ones((3, 1, 8)), 5)
    assert arr.shape == (3, 1, 5) and n.tolist() == [5, 5, 5]


def test_random_crop_stays_in_real_signal() -> None:
    x = np.zeros((50, 1, 100), np.float32)
    x[:, 0, :60] = np.arange(1, 61)  # real part 1..60, then padding
    crops = T.random_crop(x, 20, np.random.default_rng(0), lengths=np.full(50, 60))
    assert crops.shape == (50, 1, 20)
    assert np.all(crops > 0)  # never reaches into the padding
    assert np.all(np.diff(crops[:, 0], axis=1) == 1)  # contiguous windows
    assert len(np.unique(crops[:, 0, 0])) > 5  # offsets vary
    short = T.random_crop(x[:2, :, :10], 20, np.random.default_rng(0))
    assert short.shape == (2, 1, 20) and np.all(short[:, :, 10:] == 0)


def test_multi_crop_covers_start_and_end() -> None:
    x = np.arange(2 * 100, dtype=np.float32).reshape(2, 1, 100)
    crops = T.multi_crop(x, 30, 4, lengths=np.array([100, 50]))
    assert crops.shape == (2, 4, 1, 30)
    assert crops[0, 0, 0, 0] == 0 and crops[0, -1, 0, -1] == 99
    assert crops[1, 0, 0, 0] == 100 and crops[1, -1, 0, -1] == 100 + 49
    flat = crops.reshape(-1, 1, 30)
    assert flat.shape == (8, 1, 30)


def test_log_spectrogram_shape_and_peak() -> None:
    t = np.arange(3000) / FS
    x = np.sin(2 * np.pi * 10.0 * t)[None, None, :].repeat(2, axis=0).astype(np.float32)
    spec = T.log_spectrogram(x, FS, nperseg=256, noverlap=224)
    assert spec.shape == (2, 1, 129, 1 + (3000 - 256) // 32)
    freqs = T.spectrogram_frequencies(FS, 256)
    peak = freqs[np.argmax(spec[0, 0].mean(axis=1))]
    assert abs(peak - 10.0) < 300 / 256
    limited = T.log_spectrogram(x, FS, nperseg=256, noverlap=224, fmax=60.0)
    assert limited.shape[2] == int(np.sum(freqs <= 60.0))


def test_scalogram_shape_and_peak() -> None:
    t = np.arange(3000) / FS
    x = np.sin(2 * np.pi * 5.0 * t)[None, None, :].astype(np.float32)
    scal = T.scalogram(x, FS, 24, step=30)
    assert scal.shape == (1, 1, 24, 100)
    freqs = np.geomspace(40.0, 0.5, 24)
    peak = freqs[np.argmax(scal[0, 0, :, 20:80].mean(axis=1))]
    assert 3.5 < peak < 7.0


def test_real_views_not_constant(real) -> None:
    x, lengths = real
    assert lengths.tolist() == [6000, 6000, 6000, 6000]
    spec = T.log_spectrogram(x, FS, 256, 224, fmax=60.0)
    assert spec.shape[:2] == (4, 1) and np.isfinite(spec).all()
    for s in spec[:, 0]:
        assert s.std() > 0.5 and s.std(axis=1).mean() > 0.1  # varies in frequency and time
    scal = T.scalogram(x, FS, 32)
    assert scal.shape == (4, 1, 32, 200)
    for s in scal[:, 0]:
        assert s.std() > 1e-3 and s.std(axis=1).mean() > 1e-4


def test_resample_and_normalise(real) -> None:
    x, _ = real
    down = T.resample(x, 300, 250)
    assert down.shape == (4, 1, 5000)
    t = np.arange(3000) / FS
    sine = np.sin(2 * np.pi * 3.0 * t)
    up = T.resample(sine, 300, 360)
    assert up.shape == (3600,)
    np.testing.assert_allclose(
        up[100:-100], np.sin(2 * np.pi * 3.0 * np.arange(3600) / 360)[100:-100], atol=1e-2
    )
    z = T.normalise(x)
    np.testing.assert_allclose(z.mean(axis=-1), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=-1), 1, atol=1e-3)
    padded, lengths = T.pad_or_trim([np.arange(10.0) + 5, np.arange(4.0)], 8)
    zn = T.normalise(padded, lengths)
    assert np.all(zn[1, 4:] == 0)
    assert zn[1, :4].mean() == pytest.approx(0, abs=1e-6)
    assert zn[1, :4].std() == pytest.approx(1, abs=1e-4)
