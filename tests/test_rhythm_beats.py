"""Training N beats of rhythm-labelled 2017 challenge recordings (``datasets.rhythm_beats``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from ecgzoo.datasets import cinc2017, rhythm_beats
from ecgzoo.datasets.input_specs import beat_input
from ecgzoo.datasets.mitbih import load_mitbih
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.errors import DataError
from ecgzoo.readers.cinc2017 import FS, load_recordings
from ecgzoo.train.losses import inverse_frequency_weights

RECIPE = {
    "segmentation": "centered",
    "split": "inter",
    "fs": 128.0,
    "rr_context_set": "rr_log_ratios",
    "median_beat_channel": True,
    "align_fiducial": "qrs_extremum",
    "train_exclude_classes": ["Q"],
    "inter_validation": "none",
}
N, Q = rhythm_beats.N_CLASS, rhythm_beats.Q_CLASS


def test_clean_beats_by_reference_values() -> None:
    # 100 samples apart at 100 Hz, beat 5 early by 40 (RR 60 then 140): beats 4, 5 and 6 touch
    # an RR outside 0.85-1.2 of the median (1.0 s); the first and last have one side unknown
    peaks = np.arange(12) * 100
    peaks[5] -= 40
    expected = np.ones(12, dtype=bool)
    expected[[0, 4, 5, 6, 11]] = False
    np.testing.assert_array_equal(rhythm_beats.clean_beats(peaks, 100.0), expected)
    assert not rhythm_beats.clean_beats(np.array([0, 100]), 100.0).any()


def test_typical_beats_by_reference_values() -> None:
    # one QRS shape (a narrow spike) at 12 peaks, 1 s apart at 100 Hz; beat 6 is wide and
    # biphasic (a ventricular shape): only it, and the first and last peak, are not typical
    fs, peaks = 100.0, np.arange(1, 13) * 100
    signal = np.zeros(1400)
    t = np.arange(-10, 11)
    for i, p in enumerate(peaks):
        shape = np.exp(-(t**2) / 4.0) if i != 6 else np.sin(t / 10.0 * np.pi) * np.exp(-(t**2) / 50)
        signal[p - 10 : p + 11] += shape
    expected = np.ones(12, dtype=bool)
    expected[[0, 6, 11]] = False
    np.testing.assert_array_equal(rhythm_beats.typical_beats(signal, fs, peaks), expected)


def test_record_numbers_stay_clear_of_the_beat_databases() -> None:
    assert rhythm_beats.record_number("A00001") == 200_001
    assert rhythm_beats.record_number("A08528") == 208_528
    with pytest.raises(DataError, match="'B1'"):
        rhythm_beats.record_number("B1")


def test_the_option_needs_q_left_out_of_training() -> None:
    without_q = {**RECIPE, "train_exclude_classes": []}
    with pytest.raises(ValidationError, match="rhythm_database: needs"):
        MitbihOptions(**without_q, rhythm_database="cinc2017")
    with pytest.raises(ValidationError, match="rhythm_database: needs"):
        MitbihOptions(**{**RECIPE, "split": "intra"}, rhythm_database="cinc2017")


def _normal_names(root: Path, n: int, rhythm: str = "N") -> list[str]:
    _, chosen, _ = rhythm_beats.rhythm_records(root, [rhythm])
    return sorted(chosen)[:n]


def _small_root(cinc2017_dir: Path, dest: Path, names: list[str], rhythm: str = "N") -> Path:
    """A challenge folder with only ``names`` (all of ``rhythm``) and a v3 reference of them."""
    records = dest / "training2017"
    records.mkdir(parents=True)
    for name in names:
        for suffix in (".hea", ".mat"):
            shutil.copy(cinc2017_dir / "training2017" / f"{name}{suffix}", records)
    (dest / "REFERENCE-v3.csv").write_text("".join(f"{n},{rhythm}\n" for n in names))
    return dest


def test_labels_choose_clean_beats_only_and_repeat(cinc2017_dir: Path) -> None:
    names = _normal_names(cinc2017_dir, 40)
    signals, _, ids = load_recordings(cinc2017_dir / "training2017", dict.fromkeys(names, "N"))
    used = 0
    for name, signal in zip(ids, signals, strict=True):
        lead = np.asarray(signal, dtype=np.float64)
        rid = rhythm_beats.record_number(name)
        found = rhythm_beats.beat_labels(lead, FS, rid, 10)
        if found is None:
            continue
        used += 1
        peaks, labels = found
        chosen = labels == N
        assert 1 <= chosen.sum() <= 10 and set(np.unique(labels)) <= {N, Q}
        assert rhythm_beats.clean_beats(peaks, FS)[chosen].all()
        again = rhythm_beats.beat_labels(lead, FS, rid, 10)
        np.testing.assert_array_equal(again[1], labels)  # a seeded choice per record
        # an inverted recording is refused: the R height is measured over the baseline
        assert rhythm_beats.upright(lead, FS, peaks)
        assert not rhythm_beats.upright(-lead, FS, peaks)
    assert used >= 25  # most normal-rhythm recordings pass (3,480 of 4,458 in the mirror)


def test_prepared_beats_are_cut_as_the_recipe_cuts(cinc2017_dir: Path, tmp_path: Path) -> None:
    names = _normal_names(cinc2017_dir, 12)
    root = _small_root(cinc2017_dir, tmp_path / "root", names)
    options = MitbihOptions(**RECIPE, rhythm_database="cinc2017")
    arrays = rhythm_beats.prepare_rhythm_beats(options, 5, root=root, cache_dir=tmp_path / "c")
    y, record = np.asarray(arrays["y"]), np.asarray(arrays["record"])
    assert np.asarray(arrays["x"]).shape[1] == beat_input(options).length  # 0.25 s + 0.45 s
    assert set(np.unique(y)) <= {N, Q} and (y == N).sum() <= 5 * len(arrays["records"])
    assert record.min() > rhythm_beats.RECORD_OFFSET
    assert set(np.unique(record)) == set(np.asarray(arrays["records"]).tolist())
    again = rhythm_beats.prepare_rhythm_beats(options, 5, root=root, cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(np.asarray(again["x"]), np.asarray(arrays["x"]))


def test_training_part_only(
    cinc2017_dir: Path, mitdb_two: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records 208 (DS1) train and 100 (DS2) tests; the CinC beats join training only, as N,
    and their Q-labelled context peaks never train."""
    root = _small_root(cinc2017_dir, tmp_path / "root", _normal_names(cinc2017_dir, 8))
    monkeypatch.setattr(cinc2017, "resolve_root", lambda _root: root)
    base = MitbihOptions(**RECIPE, records=["100", "208"])
    plain = load_mitbih(base, db_dir=mitdb_two, cache_dir=tmp_path / "c")
    joined = load_mitbih(
        base.model_copy(update={"rhythm_database": "cinc2017"}),
        db_dir=mitdb_two,
        cache_dir=tmp_path / "c",
    )
    added = joined.train.groups >= rhythm_beats.RECORD_OFFSET
    assert added.any() and (joined.train.y[added] == N).all()
    assert joined.meta["rhythm_beats"] == int(added.sum())
    np.testing.assert_array_equal(joined.train.x[~added], plain.train.x)
    np.testing.assert_array_equal(joined.test.x, plain.test.x)
    assert set(np.unique(joined.test.groups)) == {100}
    # the added N beats leave the class weights as the labelled beats set them
    assert plain.weight_y is None
    np.testing.assert_array_equal(joined.weight_y, plain.train.y)
    n_classes = len(plain.class_names)
    weights = inverse_frequency_weights(joined.weight_y, n_classes, 1.0, 20.0)
    np.testing.assert_array_equal(
        weights, inverse_frequency_weights(plain.train.y, n_classes, 1.0, 20.0)
    )
    shifted = inverse_frequency_weights(joined.train.y, n_classes, 1.0, 20.0)
    assert float(shifted[N]) < float(weights[N])  # what counting them would have done


def test_af_recordings_give_typical_beats(cinc2017_dir: Path, tmp_path: Path) -> None:
    names = _normal_names(cinc2017_dir, 30, rhythm="A")
    signals, _, ids = load_recordings(cinc2017_dir / "training2017", dict.fromkeys(names, "A"))
    used = 0
    for name, signal in zip(ids, signals, strict=True):
        lead = np.asarray(signal, dtype=np.float64)
        found = rhythm_beats.beat_labels(lead, FS, rhythm_beats.record_number(name), 30, "A")
        if found is None:
            continue
        used += 1
        peaks, labels = found
        assert rhythm_beats.typical_beats(lead, FS, peaks)[labels == N].all()
        assert 1 <= (labels == N).sum() <= 30
    assert used >= 15
    root = _small_root(cinc2017_dir, tmp_path / "root", names[:6], rhythm="A")
    options = MitbihOptions(**RECIPE, rhythm_database="cinc2017", rhythm_labels=["A"])
    arrays = rhythm_beats.prepare_rhythm_beats(options, 30, ["A"], root=root, cache_dir=tmp_path)
    assert 0 < (np.asarray(arrays["y"]) == N).sum() <= 30 * len(arrays["records"])
    with pytest.raises(DataError, match="no record labelled N"):
        rhythm_beats.prepare_rhythm_beats(options, 30, ["N"], root=root, cache_dir=tmp_path)


def test_scoring_drops_only_what_never_reaches_val_or_test() -> None:
    """``evaluate --split val|test`` prepares no training-only source, and keeps SVDB where a
    fold of it is the test part (dropping it there scored DS2 under the name "test split")."""
    fold = MitbihOptions(
        **RECIPE, extra_databases=["svdb"], extra_test_fold=2, rhythm_database="cinc2017"
    ).without_training_only()
    assert fold.extra_databases == ["svdb"] and fold.extra_test_fold == 2
    assert fold.rhythm_database is None
    plain = MitbihOptions(**RECIPE, extra_databases=["svdb"], second_lead=True)
    plain = plain.without_training_only()
    assert plain.extra_databases == [] and plain.rhythm_database is None
    assert not plain.second_lead
