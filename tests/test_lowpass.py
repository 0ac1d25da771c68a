"""``data.mitbih.lowpass_hz``: beats band-passed in training and use alike (reference values)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.signal import butter, resample_poly, sosfiltfilt

from ecgzoo.datasets.input_specs import beat_input
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.errors import DataError
from ecgzoo.examples.beats import beat_settings, segment
from ecgzoo.examples.input_spec import InputSpec

CENTRED = {"segmentation": "centered", "fs": 128.0}


def _signal(fs: float = 360.0, seconds: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(int(fs * seconds)) / fs
    peaks = (np.arange(1, 6) * fs).astype(np.int64)
    signal = 0.2 * np.sin(2 * np.pi * 50 * t) + 0.05 * rng.standard_normal(len(t))
    for p in peaks:
        signal[p - 10 : p + 11] += np.hanning(21)
    return signal, peaks


def test_beats_are_the_band_passed_signal_cut() -> None:
    signal, peaks = _signal()
    options = MitbihOptions(**CENTRED, lowpass_hz=40.0)
    x, keep, _, _ = segment(signal, 360.0, peaks, beat_settings(options))
    sos = butter(2, [0.5, 40.0], btype="bandpass", fs=360.0, output="sos")
    expected = resample_poly(sosfiltfilt(sos, signal), 16, 45)  # 360 Hz -> 128 Hz
    r = np.rint(peaks[keep] * 128 / 360).astype(np.int64)
    windows = expected[(r - 32)[:, None] + np.arange(90)]
    np.testing.assert_allclose(x, windows.astype(np.float32), rtol=0, atol=1e-6)
    plain, _, _, _ = segment(signal, 360.0, peaks, beat_settings(MitbihOptions(**CENTRED)))
    # the 50 Hz hum passes the baseline high-pass alone and not the band-pass
    assert np.std(plain - x) > 0.05


def test_training_and_use_cut_alike_and_model_json_keeps_it() -> None:
    options = MitbihOptions(**CENTRED, lowpass_hz=40.0)
    spec = beat_input(options)
    assert spec.lowpass_hz == 40.0 and spec.beat_settings() == beat_settings(options)
    tree = spec.to_json()
    assert tree["lowpass_hz"] == 40.0 and InputSpec.from_json(tree) == spec
    assert "lowpass_hz" not in beat_input(MitbihOptions(**CENTRED)).to_json()  # older files
    assert "lowpass_hz" not in beat_settings(MitbihOptions(**CENTRED))  # cache keys stay


def test_bad_frequencies_are_one_line_errors() -> None:
    with pytest.raises(ValidationError, match="lowpass_hz: needs segmentation: centered"):
        MitbihOptions(lowpass_hz=40.0)  # kachuee
    with pytest.raises(ValidationError, match="half of fs"):
        MitbihOptions(**CENTRED, lowpass_hz=64.0)
    signal, peaks = _signal(fs=100.0)
    settings = beat_settings(MitbihOptions(segmentation="centered", fs=128.0, lowpass_hz=55.0))
    with pytest.raises(DataError, match="not below half the recording's rate") as exc:
        segment(signal, 100.0, peaks, settings)
    assert "\n" not in str(exc.value)
    with pytest.raises(DataError, match="lowpass_hz"):
        InputSpec.from_json({**beat_input(MitbihOptions(**CENTRED)).to_json(), "lowpass_hz": 70})
