"""Beat preparation converts only the lead it cuts (wfdb's ``channels``): the same arrays as
reading every lead."""

from __future__ import annotations

import numpy as np

from ecgzoo.datasets.beatset import record_beats
from ecgzoo.examples.beats import beat_settings
from ecgzoo.readers.mitdb import MitdbReader


class Kachuee:
    segmentation, pad_to = "kachuee", None


def test_one_lead_read_equals_that_row_of_all_leads(mitdb_two):
    reader = MitdbReader(mitdb_two)
    assert reader.lead_names("208") == ["MLII", "V1"]
    both = reader.read("208")
    one = reader.read("208", channels=[1])
    assert one.lead_names == ["V1"] and np.array_equal(one.signal[0], both.signal[1])
    assert np.array_equal(one.beat_samples, both.beat_samples)


def test_beats_from_one_lead_equal_beats_from_all_leads(mitdb_two, monkeypatch):
    settings = beat_settings(Kachuee())
    reader = MitdbReader(mitdb_two)
    one = record_beats(reader, "100", settings)
    monkeypatch.setattr(MitdbReader, "lead_names", lambda self, record: None)  # every lead
    every = record_beats(reader, "100", settings)
    assert one.keys() == every.keys() and one["lead"] == every["lead"] == "MLII"
    for key in one:
        assert np.array_equal(one[key], every[key]), key
