"""``data.mitbih.second_lead`` (issue 19, round J): training records also train through their
other lead; validation, test and what a model eats stay as they were. Real MIT-BIH records."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ecgzoo.datasets import mitbih
from ecgzoo.datasets.input_specs import beat_input
from ecgzoo.datasets.mitbih import SECOND_LEAD_OFFSET
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.examples.beats import aami_labels
from ecgzoo.readers.mitdb import MitdbReader

# DS1: 101 (MLII, V1), 124 (MLII, V4); DS2: 100 (MLII, V5)
RECORDS = ["101", "124", "100"]


def _options(**kw) -> MitbihOptions:
    return MitbihOptions(
        segmentation="centered", split="inter", fs=128.0, records=RECORDS,
        inter_validation="none", median_beat_channel=True, rr_context_set="rr_log_ratios", **kw,
    )  # fmt: skip


def _load(**kw):
    return mitbih.load_mitbih(_options(**kw), seed=1)


@pytest.fixture(scope="module")
def both(mitdb_dir):
    return _load(), _load(second_lead=True)


def test_training_records_gain_their_other_lead_and_nothing_else_changes(both, mitdb_dir):
    plain, doubled = both
    assert set(np.unique(plain.train.groups)) == {101, 124}
    assert set(np.unique(doubled.train.groups)) == {101, 124, 10101, 10124}
    assert doubled.meta["leads"][10101] == "V1" and doubled.meta["leads"][10124] == "V4"
    assert doubled.meta["leads"][101] == "MLII"
    # the MLII beats, the validation and the test part are the same arrays
    first = np.isin(doubled.train.groups, [101, 124])
    assert np.array_equal(doubled.train.x[first], plain.train.x)
    assert np.array_equal(doubled.train.features[first], plain.train.features)
    for part in ("val", "test"):
        a, b = getattr(plain, part), getattr(doubled, part)
        assert np.array_equal(a.x, b.x) and np.array_equal(a.groups, b.groups)
    assert 100 in set(np.unique(doubled.test.groups))
    assert not np.isin(doubled.train.groups, [100, 100 + SECOND_LEAD_OFFSET]).any()


def test_the_copy_is_the_other_lead_cut_as_the_model_would_cut_it(both, mitdb_dir):
    """The copy of record 101 is lead V1 prepared by the same InputSpec (same beats, same
    labels, same RR: the annotations are shared), not MLII again."""
    _, doubled = both
    copy = doubled.train.groups == 101 + SECOND_LEAD_OFFSET
    mlii = doubled.train.groups == 101
    assert copy.sum() == mlii.sum() > 1800
    assert np.array_equal(doubled.train.y[copy], doubled.train.y[mlii])
    assert np.array_equal(doubled.train.features[copy], doubled.train.features[mlii])
    assert not np.allclose(doubled.train.x[copy], doubled.train.x[mlii])
    reader = MitdbReader(mitdb_dir)
    rec = reader.read("101")
    bs, bsym, _, _ = reader.read_beats("101")
    peaks, _ = aami_labels(bs, bsym)
    spec = beat_input(_options())  # what a model trained on these beats eats
    got = spec.prepare(rec.signal, rec.fs, peaks, lead_names=rec.lead_names, lead="V1")
    assert np.array_equal(got.x, doubled.train.x[copy])


def test_second_lead_needs_the_inter_patient_split():
    with pytest.raises(ValidationError, match="second_lead: needs split: inter"):
        MitbihOptions(split="group", second_lead=True)
