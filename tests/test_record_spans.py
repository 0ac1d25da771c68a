"""Record spans (``examples.spans``): a long recording's record statistics per 30-minute span."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecgzoo.errors import ConfigError
from ecgzoo.examples.spans import RECORD_SPAN_S, record_spans, span_mean_rr, span_slices


def test_record_spans_by_reference_values():
    fs = 100.0
    span = RECORD_SPAN_S * fs
    three_hours = np.arange(0, 3 * 3600 * fs + 1, fs)  # one beat a second for 3 h
    spans = record_spans(three_hours, span)
    assert spans.max() == 5 and np.all(np.diff(spans) >= 0)
    assert np.bincount(spans).tolist() == [1800] * 5 + [1801]  # equal spans, the last closed
    assert not record_spans(np.arange(0, 44 * 60 * fs, fs), span).any()  # < 1.5 spans: one
    assert record_spans(np.arange(0, 46 * 60 * fs, fs), span).max() == 1
    assert not record_spans(three_hours, None).any()
    assert [(s.start, s.stop) for s in span_slices(np.array([0, 0, 1, 1, 1, 2]))] == [
        (0, 2),
        (2, 5),
        (5, 6),
    ]
    with pytest.raises(ConfigError, match="record span"):
        record_spans(three_hours, 0.0)


def test_one_span_mean_rr_is_the_plain_mean_bit_for_bit():
    d = np.random.default_rng(0).uniform(0.4, 1.6, 2500)
    assert np.array_equal(span_mean_rr(d, np.zeros(2501, dtype=np.int64)), np.full(2501, d.mean()))
    two = np.repeat([0, 1], [1000, 1501])  # interval j belongs to beat j + 1's span
    got = span_mean_rr(d, two)
    assert got[0] == d[:999].mean() and got[-1] == d[999:].mean()


def test_every_training_record_is_one_span(mitdb_dir, svdb_dir):
    """Training computes record statistics per record: the span rule leaves every training
    record whole, so training and a long recording in use follow the same rule."""
    import wfdb

    checked = 0
    for folder in (mitdb_dir, svdb_dir):
        for name in (folder / "RECORDS").read_text().split():
            if not (folder / f"{name}.hea").is_file():
                continue  # SVDB: records kept outside the mirror
            fs = wfdb.rdheader(str(folder / name)).fs
            peaks = wfdb.rdann(str(folder / name), "atr").sample
            assert not record_spans(peaks, RECORD_SPAN_S * fs).any(), name
            checked += 1
    assert checked == 48 + 52


def test_a_long_recording_is_classified_as_its_records_were(mitdb_two):
    """Records 100 and 208 (30:06 each) joined into one hour: with spans, each half gets the
    classes it gets alone (the shipped model, reference peaks); with one median beat and mean RR
    for the whole hour (the behaviour before spans) about one beat in twenty changes."""
    from ecgzoo.apply.model import load_model
    from ecgzoo.examples.beats import aami_labels
    from ecgzoo.readers.mitdb import MitdbReader

    model = load_model("pretrained:mitbih-inter")
    signals, peaks, alone, alone_at = [], [], [], []
    offset = 0
    for name in ("100", "208"):
        rec = MitdbReader(mitdb_two).read(name)
        signal = rec.signal[rec.lead_names.index("MLII")]
        p, _ = aami_labels(rec.beat_samples, rec.beat_symbols)
        got = model.input.prepare(signal, rec.fs, p)
        alone.append(model.proba(got.x, got.features).argmax(1))
        alone_at.append(p[got.kept] + offset)
        signals.append(signal)
        peaks.append(p + offset)
        offset += len(signal)
    signal, peaks = np.concatenate(signals), np.concatenate(peaks)
    expected, at = np.concatenate(alone), np.concatenate(alone_at)

    def classes(spec):
        got = spec.prepare(signal, 360.0, peaks)
        joined = model.proba(got.x, got.features).argmax(1)
        both, mine, theirs = np.intersect1d(peaks[got.kept], at, return_indices=True)
        assert len(both) == len(at)  # every beat classified alone is classified joined
        return joined[mine], expected[theirs]

    spanned, want = classes(model.input)
    whole, _ = classes(dataclasses.replace(model.input, record_span_s=1e9))
    # measured: 11 of 5,224 beats differ with spans (borderline beats of 208, whose span
    # boundary falls a beat or so off the join), 255 with one median and mean RR for the hour
    assert np.mean(spanned == want) >= 0.995
    assert np.mean(whole == want) < 0.97
