"""The inter-patient protocol of the tree model's context tables (which databases, which
records train and which test): data, not training, so ``train/`` names no database.

Training records are MIT-BIH DS1 (plus ``extra_databases``, such as SVDB); test records are
DS2, all of SVDB with ``test_database: svdb``, or one record-wise fold of SVDB with
``extra_test_fold`` (its other folds train). Paced records never train.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecgzoo.datasets.contextset import load_table, subset_table
from ecgzoo.datasets.splits import DS1, DS2, PACED, record_fold
from ecgzoo.errors import ConfigError, EcgzooError

#: Test figures also reported without a record (key -> the record's group): de Chazal's SVEB
#: convention leaves out MIT-BIH 232, which holds most of DS2's S beats.
REPORTED_WITHOUT = {"without_232": "mitdb/232"}


def protocol_records(options: Any) -> tuple[list[str], list[str] | None]:
    """``(training MIT-BIH records, test MIT-BIH records)``; test ``None`` means all of SVDB.

    DS2 records never appear in the first list (nor paced ones): training, the validation
    folds and the prior search all draw from it and from ``extra_databases`` only.
    """
    if options.split != "inter":
        raise ConfigError("data.mitbih.split: lightgbm models use the inter-patient protocol")
    wanted = set(options.records) if options.records else None

    def pick(names: tuple[str, ...]) -> list[str]:
        return [r for r in names if wanted is None or r in wanted]

    if options.test_database == "svdb":
        if "svdb" in options.extra_databases:
            raise ConfigError("data.mitbih.extra_databases: svdb is the test database here")
        train_names, test_names = sorted(pick(DS1 + DS2)), None
    else:
        train_names, test_names = pick(DS1), pick(DS2)
        if not test_names:
            raise ConfigError("data.mitbih.records: no DS2 record to test on")
    if not train_names:
        raise ConfigError("data.mitbih.records: no training record of the protocol")
    return train_names, test_names


def protocol_tables(options: Any) -> tuple[dict, dict]:
    """``(train_table, test_table)`` of the inter-patient protocol the options name."""
    train_names, test_names = protocol_records(options)
    # one cached table of every MIT-BIH record (or of the records a test names), then subsets
    mitdb = load_table("mitdb", sorted(options.records) if options.records else None)
    extra = {db: load_table(db) for db in options.extra_databases}
    if test_names is None:
        test = load_table("svdb")
    elif options.extra_test_fold is not None:  # one fold of SVDB tests, the rest trains
        test, extra["svdb"] = extra_fold_tables(extra["svdb"], options)
    else:
        test = subset_table(mitdb, [f"mitdb/{r}" for r in test_names])
    parts = [subset_table(mitdb, [f"mitdb/{r}" for r in train_names]), *extra.values()]
    train = {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
    trained = {str(g) for g in np.unique(train["group"])}
    shared = trained & {str(g) for g in np.unique(test["group"])}
    if shared or any(g.startswith("mitdb/") and g[6:] in PACED for g in trained):
        raise EcgzooError(f"protocol: test or paced records in training: {sorted(shared)}")
    return train, test


def extra_fold_tables(table: dict, options: Any) -> tuple[dict, dict]:
    """``(test, train)`` rows of an extra database's table for ``extra_test_fold``: the fold
    of ``splits.record_fold`` (the one the torch path uses) tests, the others train."""
    groups = [str(g) for g in np.unique(table["group"])]
    names = [g.split("/", 1)[1] for g in groups]
    held = record_fold(
        names, options.extra_n_folds, options.extra_test_fold, options.extra_fold_seed
    )
    held_groups = [g for g, n in zip(groups, names, strict=True) if n in held]
    return subset_table(table, held_groups), subset_table(
        table, [g for g in groups if g not in held_groups]
    )
