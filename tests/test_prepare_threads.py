"""Beat preparation maps records over threads: the same arrays as one record at a time."""

from __future__ import annotations

import numpy as np


def test_beats_prepared_on_threads_equal_one_at_a_time(mitdb_two):
    """Beat preparation maps records over threads (``ordered_map(threads=True)``): the same
    arrays, in the same order, as preparing the records one after the other."""
    from ecgzoo.datasets.beatset import build_arrays
    from ecgzoo.examples.beats import beat_settings
    from ecgzoo.readers.mitdb import MitdbReader

    class Options:
        segmentation, pad_to = "kachuee", None

    settings = beat_settings(Options())
    reader = MitdbReader(mitdb_two)
    names = ["100", "208", "100"]
    one = build_arrays(reader, names, settings, workers=1)
    two = build_arrays(reader, names, settings, workers=2)
    assert one.keys() == two.keys()
    for key in one:
        assert one[key].dtype == two[key].dtype and np.array_equal(one[key], two[key]), key
