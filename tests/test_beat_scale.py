"""``data.mitbih.beat_scale: record`` (issue 19, round L): each beat divided by its record's
amplitude scale, the same in training and in use. Real MIT-BIH records."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ecgzoo.datasets import mitbih
from ecgzoo.datasets.input_specs import beat_input
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.errors import DataError
from ecgzoo.examples.beat_context import amplitude_scale
from ecgzoo.examples.beats import aami_labels
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.readers.mitdb import MitdbReader

RECORDS = ["101", "124", "100"]  # DS1: 101, 124; DS2: 100


def _options(**kw) -> MitbihOptions:
    return MitbihOptions(
        segmentation="centered", split="inter", fs=128.0, records=RECORDS,
        inter_validation="none", median_beat_channel=True, rr_context_set="rr_log_ratios", **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def both(mitdb_dir):
    return mitbih.load_mitbih(_options(), seed=1), mitbih.load_mitbih(
        _options(beat_scale="record"), seed=1
    )


def test_each_record_is_divided_by_its_own_amplitude(both):
    plain, scaled = both
    for part in ("train", "test"):
        a, b = getattr(plain, part), getattr(scaled, part)
        assert np.array_equal(a.groups, b.groups) and np.array_equal(a.y, b.y)
        for record in np.unique(a.groups):
            rows = a.groups == record
            scale = amplitude_scale(a.x[rows, 0])
            assert 0.3 < scale < 5.0  # mV: a real QRS peak-to-peak
            np.testing.assert_allclose(b.x[rows], a.x[rows] / scale, rtol=1e-5, atol=1e-6)
            # the record's usual beat now has a peak-to-peak of about one
            assert np.median(np.ptp(b.x[rows, 0], axis=1)) == pytest.approx(1.0, rel=1e-5)


def test_the_apply_path_scales_as_training_did(both, mitdb_dir):
    _, scaled = both
    spec = beat_input(_options(beat_scale="record"))
    assert spec.beat_scale == "record" and spec.to_json()["beat_scale"] == "record"
    assert InputSpec.from_json(spec.to_json()) == spec
    reader = MitdbReader(mitdb_dir)
    for record in ("124", "100"):
        rec = reader.read(record)
        bs, bsym, _, _ = reader.read_beats(record)
        peaks, _ = aami_labels(bs, bsym)
        got = spec.prepare(rec.signal, rec.fs, peaks, lead_names=rec.lead_names)
        part = scaled.test if record == "100" else scaled.train
        assert np.array_equal(got.x, part.x[part.groups == int(record)])


def test_off_by_default_and_absent_from_older_model_files():
    spec = beat_input(_options())
    assert spec.beat_scale == "none" and "beat_scale" not in spec.to_json()
    with pytest.raises(ValidationError, match="beat_scale: needs median_beat_channel"):
        MitbihOptions(segmentation="centered", split="inter", beat_scale="record")
    with pytest.raises(DataError, match="beat_scale"):
        spec.replace(beat_scale="patient")
