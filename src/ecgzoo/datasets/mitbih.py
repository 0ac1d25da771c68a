"""MIT-BIH Arrhythmia Database as a beat dataset (AAMI EC57 classes).

Reading is ``readers.mitdb`` (one lead: MLII; records 102 and 104 have no MLII, so V5);
segmentation and RR features are ``examples.beats`` (``kachuee`` and ``centered``, documented
there); the shared beat pipeline is ``beatset``. This module names the cache key and the
MIT-BIH splits. Over the 48 records the annotations hold 109,494 AAMI beats (N 90,631, S 2,781,
V 7,236, F 803, Q 8,043); ``kachuee`` keeps 109,446 (the Kaggle CSVs' counts), ``centered``
(0.25 s + 0.45 s) 109,452.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.datasets import beatset, rhythm_beats, svdb
from ecgzoo.datasets.arrays import PreparedData
from ecgzoo.datasets.beatset import class_counts, split_class_counts
from ecgzoo.datasets.input_specs import beat_input
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.datasets.splits import (
    DS1,
    DS2,
    check_disjoint,
    inter_patient_split,
    record_fold,
    validation_by_group,
)
from ecgzoo.datasets.svdb_options import SvdbOptions
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.examples.beats import (
    AAMI_SYMBOLS,
    CLASS_NAMES,
    KACHUEE_FS,
    RR_FEATURE_NAMES,
    SYMBOL_TO_CLASS,
    aami_labels,
    choose_lead,
    rr_features,
)
from ecgzoo.readers.mitdb import FOLDER as MITDB_FOLDER
from ecgzoo.readers.mitdb import FS as MITDB_FS
from ecgzoo.readers.mitdb import MitdbReader
from ecgzoo.readers.mitdb import default_folder as default_db_dir

__all__ = [
    "AAMI_SYMBOLS",
    "CLASS_NAMES",
    "KACHUEE_FS",
    "MITDB_FOLDER",
    "MITDB_FS",
    "RR_FEATURE_NAMES",
    "SYMBOL_TO_CLASS",
    "build_beats",
    "class_counts",
    "count_beats",
    "default_db_dir",
    "list_records",
    "load_mitbih",
    "prepare_beats",
    "read_beat_annotations",
    "read_record",
    "rr_features",
    "split_class_counts",
]

PREP_VERSION = 1  # bump when the output of a segmentation changes
SECTION = "mitbih"


@dataclass
class BeatRecord:
    """One record's chosen lead and its AAMI beats (what :func:`read_record` returns)."""

    name: str
    lead: str
    fs: float
    signal: np.ndarray  # float64 (n_samples,), mV
    samples: np.ndarray  # int64 R-peak positions at fs, ascending
    labels: np.ndarray  # int64 AAMI class indices


def list_records(db_dir: Path) -> list[str]:
    """Record names of the database: its ``RECORDS`` file, else every ``*.hea``, sorted."""
    return MitdbReader(db_dir).list_records()


def read_beat_annotations(db_dir: Path, record: str) -> tuple[np.ndarray, np.ndarray]:
    """``(samples, labels)`` of the AAMI beats in ``<record>.atr`` (other annotations skipped)."""
    bs, bsym, _, _ = MitdbReader(db_dir).read_beats(str(record))
    return aami_labels(bs, bsym)


def read_record(db_dir: Path, record: str) -> BeatRecord:
    """One record's chosen lead (MLII, else V5, else the first) and its AAMI beats."""
    rec = MitdbReader(db_dir).read(str(record))
    channel = choose_lead(rec.lead_names)
    samples, labels = aami_labels(rec.beat_samples, rec.beat_symbols)
    return BeatRecord(
        rec.name, rec.lead_names[channel], rec.fs, rec.signal[channel], samples, labels
    )


def count_beats(db_dir: Path, records: list[str] | None = None) -> dict[str, dict[str, int]]:
    """AAMI beat counts per record (annotations only) plus an ``"all"`` row."""
    reader = MitdbReader(db_dir)
    return beatset.count_beats(reader, records if records is not None else reader.list_records())


def build_beats(
    db_dir: Path, options: MitbihOptions, workers: int | None = None
) -> dict[str, np.ndarray]:
    """Segment the records named by ``options`` without the cache (see :func:`prepare_beats`)."""
    reader = MitdbReader(db_dir)
    names = beatset.resolve_records(reader, options.records, SECTION)
    return beatset.build_arrays(reader, names, beat_input(options).beat_settings(), workers or 1)


def prepare_beats(
    db_dir: Path,
    options: MitbihOptions,
    cache_dir: Path | None = None,
    workers: int | None = None,
) -> dict[str, np.ndarray]:
    """Beats of the records named by ``options``, cached by every parameter that shapes them.

    Returns ``x`` float32 ``(n, n_samples)``, ``y`` int64 AAMI class, ``record`` int64 record
    number, ``sample`` int64 R-peak position at 360 Hz, ``rr`` float32 ``(n, 8)``
    (:data:`RR_FEATURE_NAMES`), ``truncated`` bool (kachuee: span cut at the record's end),
    ``records``/``leads`` (one per record, the lead used) and the dropped beats:
    ``dropped_record``, ``dropped_sample``, ``dropped_y``, ``dropped_reason``. Large arrays are
    memory-mapped from the cache. ``workers`` (default: the usable cores; see
    ``beatset.stream_beats``) does not change the result.
    """
    return beatset.prepare_database(
        "mitbih", "mitdb-1.0.0", PREP_VERSION, MitdbReader(db_dir), options, SECTION, cache_dir,
        workers,
    )  # fmt: skip


def inter_validation(
    record: np.ndarray, y: np.ndarray, options: MitbihOptions, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` indices into the DS1 beats for ``options.inter_validation``.

    ``holdout``: whole records chosen so that validation holds S and V beats (the default).
    ``fold``: the DS1 records in a ``seed``-ed random order, dealt into ``n_val_folds`` folds;
    fold ``val_fold`` validates (record-wise k-fold selection over DS1, never DS2).
    ``none``: every DS1 beat trains; the validation split is DS1 itself (in-sample: only
    for a fixed schedule, ``train.monitor: epoch``).
    """
    if options.inter_validation == "holdout":
        return validation_by_group(record, y, options.val_fraction, seed)
    everything = np.arange(len(record))
    if options.inter_validation == "none":
        return everything, everything
    records = np.random.default_rng(seed).permutation(np.unique(record))
    fold = records[options.val_fold :: options.n_val_folds]
    val = np.isin(record, fold)
    return everything[~val], everything[val]


def load_mitbih(
    options: MitbihOptions,
    seed: int = 0,
    db_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> PreparedData:
    """Train/val/test MIT-BIH beats as ``(n, 1, n_samples)`` float32.

    ``split="intra"``: stratified random by beat over all the selected records (paced ones
    included, like the Kaggle dataset): ``test_fraction`` for test, then ``val_fraction`` of
    the rest for validation. Beats of one patient are on both sides (optimistic scores).
    ``split="inter"``: de Chazal DS1 (training; whole records held out for validation, chosen
    so validation holds S and V beats) and DS2 (test); paced records are left out and
    ``test_fraction`` is not used; with ``test_database: svdb`` DS1 and DS2 both train and
    every SVDB record is the test split (MIT-BIH -> SVDB). ``split="group"``: whole records
    for test and validation.
    ``max_beats_per_class`` caps training beats per class (seeded random choice).
    """
    db_dir = default_db_dir() if db_dir is None else Path(db_dir)
    arrays = prepare_beats(db_dir, options, cache_dir=cache_dir)
    y, record = np.asarray(arrays["y"]), np.asarray(arrays["record"])
    if len(y) == 0:
        raise DataError(f"{db_dir}: no beats in records {options.records}")
    meta_split: dict[str, Any] = {"split": options.split}
    if options.split == "inter":
        if options.records is None:  # the protocol itself: every DS1 and DS2 record, or nothing
            present = {str(r) for r in np.unique(record)}
            absent = [r for r in (*DS1, *DS2) if r not in present]
            if absent:
                raise DataError(
                    f"{db_dir}: the inter-patient protocol needs all 44 DS1 and DS2 records; "
                    f"{', '.join(absent)} gave no beats (an incomplete copy? `ecgzoo data fetch "
                    "mitdb --verify`)"
                )
        ds1, ds2 = inter_patient_split(record)
        if len(ds1) == 0 or len(ds2) == 0:
            raise ConfigError(
                "mitbih.records: the inter-patient split needs records of both DS1 and DS2"
            )
        if options.test_database == "svdb":  # cross-database: every non-paced record trains
            ds1, ds2 = np.sort(np.concatenate([ds1, ds2])), np.zeros(0, dtype=np.int64)
        tr, va = inter_validation(record[ds1], y[ds1], options, seed)
        parts = (ds1[tr], ds1[va], ds2)
        meta_split["inter_validation"] = options.inter_validation
        meta_split["val_records"] = sorted(int(r) for r in np.unique(record[parts[1]]))
        meta_split["excluded_beats"] = int(len(y) - len(ds1) - len(ds2))
    else:
        parts = beatset.split_beats(y, record, options, seed, meta_split)
    # training-only records of other databases (SVDB): never validation or test
    arrays, parts = add_second_lead(arrays, parts, options, meta_split, db_dir, cache_dir)
    arrays, parts = add_training_databases(arrays, parts, options, meta_split, cache_dir)
    arrays, train = add_rhythm_beats(arrays, parts[0], options, meta_split, cache_dir)
    parts = (train, parts[1], parts[2])
    data = beatset.assemble(arrays, options, parts, meta_split, "mitbih", seed, SECTION)
    if options.rhythm_database is not None:  # they show more N, not a more frequent N
        labelled = np.asarray(data.train.groups) < rhythm_beats.RECORD_OFFSET
        data.weight_y = np.asarray(data.train.y)[labelled]
    return data


SECOND_LEAD_OFFSET = 10000  # record number of a training record's other-lead copy
Parts = tuple[np.ndarray, np.ndarray, np.ndarray]  # (train, val, test) beat indices


def join_arrays(
    arrays: dict[str, np.ndarray], extra: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``arrays`` followed by ``extra`` (key by key), and the indices of ``extra``'s beats."""
    joined = {k: np.concatenate([np.asarray(arrays[k]), np.asarray(extra[k])]) for k in arrays}
    return joined, len(arrays["y"]) + np.arange(len(extra["y"]), dtype=np.int64)


def add_second_lead(
    arrays: dict[str, np.ndarray],
    parts: Parts,
    options: MitbihOptions,
    meta: dict[str, Any],
    db_dir: Path,
    cache_dir: Path | None = None,
) -> tuple[dict[str, np.ndarray], Parts]:
    """``second_lead``: the training records' beats cut again from their other lead (V1 for
    most), joined to the training part as records ``number + SECOND_LEAD_OFFSET``; validation
    and test records never are."""
    if not options.second_lead:
        return arrays, parts
    trained = np.unique(np.asarray(arrays["record"])[parts[0]])
    names = [str(int(r)) for r in trained]
    second = beatset.prepare_database(
        "mitbih", "mitdb-1.0.0", PREP_VERSION, MitdbReader(db_dir),
        options.model_copy(update={"records": names}), SECTION, cache_dir, second=True,
    )  # fmt: skip
    second = dict(second)
    for key in ("record", "records", "dropped_record"):
        second[key] = np.asarray(second[key]) + SECOND_LEAD_OFFSET
    joined, added = join_arrays(arrays, second)
    meta["second_lead_records"] = [int(r) for r in second["records"]]
    return joined, (np.concatenate([parts[0], added]), parts[1], parts[2])


def add_training_databases(
    arrays: dict[str, np.ndarray],
    parts: Parts,
    options: MitbihOptions,
    meta: dict[str, Any],
    cache_dir: Path | None = None,
) -> tuple[dict[str, np.ndarray], Parts]:
    """Inter-patient: every record of ``options.extra_databases`` (SVDB) joins the training
    part only (never validation or test); with ``test_database: svdb`` every SVDB record is the
    test part instead (MIT-BIH -> SVDB: ``parts`` then holds no test beat). With
    ``extra_test_fold`` one record-wise fold of SVDB is the test part and DS2 is left out
    (patients of a database the model trains on, never seen). All are cut by this same
    pipeline with the same beat options.

    Record numbers stay distinct (MIT-BIH 100-234, SVDB 800-894), so per-record context
    (``rr_context``) and the leak check see two patients as two.
    """
    to_test = options.test_database == "svdb"
    if not options.extra_databases and not to_test:
        return arrays, parts
    if options.split != "inter":
        raise ConfigError(
            "data.mitbih.extra_databases / test_database: need split: inter "
            "(DS1 + SVDB -> DS2, or MIT-BIH -> SVDB)"
        )
    if to_test and "svdb" in options.extra_databases:
        raise ConfigError("data.mitbih.extra_databases: svdb is the test database here")
    # cut exactly as the MIT-BIH beats are (the fiducial too: SVDB beats were not aligned)
    keys = ("segmentation", "pad_to", "before_s", "after_s", "align_fiducial")
    shared = {k: getattr(options, k) for k in keys}
    extra = svdb.prepare_beats(
        svdb.default_db_dir(), SvdbOptions(fs=options.fs, split="group", **shared), cache_dir
    )
    clash = set(np.asarray(arrays["records"]).tolist()) & set(np.asarray(extra["records"]).tolist())
    if clash:
        raise DataError(f"extra_databases: record numbers {sorted(clash)} appear twice")
    joined, added = join_arrays(arrays, extra)
    names = [f"svdb/{int(r)}" for r in extra["records"]]
    if to_test:
        meta["test_records"] = names
        check_disjoint(joined["record"], train=np.union1d(parts[0], parts[1]), test=added)
        return joined, (parts[0], parts[1], added)
    if options.extra_test_fold is not None:  # unseen patients of the extra database: no DS2
        held = record_fold(
            [str(int(r)) for r in extra["records"]],
            options.extra_n_folds,
            options.extra_test_fold,
            options.extra_fold_seed,
        )
        tested = np.isin(np.asarray(extra["record"]).astype(str), held)
        meta["test_records"] = [f"svdb/{r}" for r in held]
        meta["extra_training_records"] = [n for n in names if n not in meta["test_records"]]
        check_disjoint(joined["record"], train=np.union1d(parts[0], parts[1]), test=added[tested])
        return joined, (np.concatenate([parts[0], added[~tested]]), parts[1], added[tested])
    meta["extra_training_records"] = names
    return joined, (np.concatenate([parts[0], added]), parts[1], parts[2])


def add_rhythm_beats(
    arrays: dict[str, np.ndarray],
    train: np.ndarray,
    options: MitbihOptions,
    meta: dict[str, Any],
    cache_dir: Path | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``rhythm_database``: the beats of ``datasets.rhythm_beats`` join the training indices
    ``train`` (the chosen ones as N, the other peaks as Q, which training leaves out); the
    validation and test parts are never given to it."""
    if options.rhythm_database is None:
        return arrays, train
    extra = rhythm_beats.prepare_rhythm_beats(
        options, options.rhythm_beats_per_record, options.rhythm_labels, cache_dir=cache_dir
    )
    joined, added = join_arrays(arrays, extra)
    meta["rhythm_records"] = int(len(extra["records"]))
    meta["rhythm_beats"] = int(np.sum(np.asarray(extra["y"]) == rhythm_beats.N_CLASS))
    return joined, np.concatenate([train, added])
