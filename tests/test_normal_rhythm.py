"""Normal-rhythm training beats from the 2017 challenge (``datasets.normal_rhythm``), real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from ecgzoo.datasets import cinc2017, normal_rhythm
from ecgzoo.datasets.input_specs import beat_input
from ecgzoo.datasets.mitbih import load_mitbih
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.errors import DataError
from ecgzoo.readers.cinc2017 import FS, load_recordings

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
N, Q = normal_rhythm.N_CLASS, normal_rhythm.Q_CLASS


def test_clean_beats_by_reference_values() -> None:
    # 100 samples apart at 100 Hz, beat 5 early by 40 (RR 60 then 140): beats 4, 5 and 6 touch
    # an RR outside 0.85-1.2 of the median (1.0 s); the first and last have one side unknown
    peaks = np.arange(12) * 100
    peaks[5] -= 40
    expected = np.ones(12, dtype=bool)
    expected[[0, 4, 5, 6, 11]] = False
    np.testing.assert_array_equal(normal_rhythm.clean_beats(peaks, 100.0), expected)
    assert not normal_rhythm.clean_beats(np.array([0, 100]), 100.0).any()


def test_record_numbers_stay_clear_of_the_beat_databases() -> None:
    assert normal_rhythm.record_number("A00001") == 200_001
    assert normal_rhythm.record_number("A08528") == 208_528
    with pytest.raises(DataError, match="'B1'"):
        normal_rhythm.record_number("B1")


def test_the_option_needs_q_left_out_of_training() -> None:
    without_q = {**RECIPE, "train_exclude_classes": []}
    with pytest.raises(ValidationError, match="normal_rhythm_database: needs"):
        MitbihOptions(**without_q, normal_rhythm_database="cinc2017")
    with pytest.raises(ValidationError, match="normal_rhythm_database: needs"):
        MitbihOptions(**{**RECIPE, "split": "intra"}, normal_rhythm_database="cinc2017")


def _normal_names(root: Path, n: int) -> list[str]:
    _, normal, _ = normal_rhythm.normal_records(root)
    return sorted(normal)[:n]


def _small_root(cinc2017_dir: Path, dest: Path, names: list[str]) -> Path:
    """A challenge folder with only ``names`` (all normal rhythm) and a v3 reference of them."""
    records = dest / "training2017"
    records.mkdir(parents=True)
    for name in names:
        for suffix in (".hea", ".mat"):
            shutil.copy(cinc2017_dir / "training2017" / f"{name}{suffix}", records)
    (dest / "REFERENCE-v3.csv").write_text("".join(f"{n},N\n" for n in names))
    return dest


def test_labels_choose_clean_beats_only_and_repeat(cinc2017_dir: Path) -> None:
    names = _normal_names(cinc2017_dir, 40)
    signals, _, ids = load_recordings(cinc2017_dir / "training2017", dict.fromkeys(names, "N"))
    used = 0
    for name, signal in zip(ids, signals, strict=True):
        lead = np.asarray(signal, dtype=np.float64)
        rid = normal_rhythm.record_number(name)
        found = normal_rhythm.beat_labels(lead, FS, rid, 10)
        if found is None:
            continue
        used += 1
        peaks, labels = found
        chosen = labels == N
        assert 1 <= chosen.sum() <= 10 and set(np.unique(labels)) <= {N, Q}
        assert normal_rhythm.clean_beats(peaks, FS)[chosen].all()
        again = normal_rhythm.beat_labels(lead, FS, rid, 10)
        np.testing.assert_array_equal(again[1], labels)  # a seeded choice per record
        # an inverted recording is refused: the R height is measured over the baseline
        assert normal_rhythm.upright(lead, FS, peaks)
        assert not normal_rhythm.upright(-lead, FS, peaks)
    assert used >= 25  # most normal-rhythm recordings pass (3,480 of 4,458 in the mirror)


def test_prepared_beats_are_cut_as_the_recipe_cuts(cinc2017_dir: Path, tmp_path: Path) -> None:
    names = _normal_names(cinc2017_dir, 12)
    root = _small_root(cinc2017_dir, tmp_path / "root", names)
    options = MitbihOptions(**RECIPE, normal_rhythm_database="cinc2017")
    arrays = normal_rhythm.prepare_normal_beats(options, 5, root=root, cache_dir=tmp_path / "c")
    y, record = np.asarray(arrays["y"]), np.asarray(arrays["record"])
    assert np.asarray(arrays["x"]).shape[1] == beat_input(options).length  # 0.25 s + 0.45 s
    assert set(np.unique(y)) <= {N, Q} and (y == N).sum() <= 5 * len(arrays["records"])
    assert record.min() > normal_rhythm.RECORD_OFFSET
    assert set(np.unique(record)) == set(np.asarray(arrays["records"]).tolist())
    again = normal_rhythm.prepare_normal_beats(options, 5, root=root, cache_dir=tmp_path / "c")
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
        base.model_copy(update={"normal_rhythm_database": "cinc2017"}),
        db_dir=mitdb_two,
        cache_dir=tmp_path / "c",
    )
    added = joined.train.groups >= normal_rhythm.RECORD_OFFSET
    assert added.any() and (joined.train.y[added] == N).all()
    assert joined.meta["normal_rhythm_beats"] == int(added.sum())
    np.testing.assert_array_equal(joined.train.x[~added], plain.train.x)
    np.testing.assert_array_equal(joined.test.x, plain.test.x)
    assert set(np.unique(joined.test.groups)) == {100}
