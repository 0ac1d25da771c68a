"""The Kaggle "ECG Heartbeat Categorization" CSV format (``mitbih_train.csv``/``mitbih_test.csv``).

No header; each line is one beat: 187 values (125 Hz, scaled to [0, 1], zero-padded) then the
label ``0..4`` (N, S, V, F, Q) written as a float, all in ``%.18e`` (``0.000000000000000000e+00``).
:func:`ecgzoo.datasets.mitbih.prepare_beats` with ``segmentation="kachuee"`` makes the same beats
from the PhysioNet records.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecgzoo.datasets.arrays import ArraySplit, PreparedData
from ecgzoo.datasets.splits import stratified_holdout
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.examples.beats import CLASS_NAMES
from ecgzoo.paths import atomic_write

KAGGLE_LENGTH = 187
KAGGLE_FS = 125.0
N_COLUMNS = KAGGLE_LENGTH + 1
# Beats are scaled to [0, 1]; anything far outside is not a Kaggle beat and would overflow
# float32 arithmetic in training (1e308 becomes inf, then NaN metrics).
MAX_ABS_VALUE = 1e6


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise DataError(f"{path}: line {lineno}: not UTF-8 text (byte 0x{byte})") from None


def _diagnose(path: Path) -> DataError:
    """Scan the file line by line for the first bad line (slow path, only after a failure)."""
    try:
        text = _decode(path)
    except DataError as exc:
        return exc
    with io.StringIO(text, newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                return DataError(f"{path}: line {lineno}: empty line")
            if len(row) != N_COLUMNS:
                return DataError(
                    f"{path}: line {lineno}: expected {N_COLUMNS} columns "
                    f"({KAGGLE_LENGTH} values and a label), found {len(row)}"
                )
            for col, text in enumerate(row, start=1):
                try:
                    value = float(text)
                except ValueError:
                    return DataError(f"{path}: line {lineno}: column {col}: not a number {text!r}")
                if not np.isfinite(value):
                    return DataError(f"{path}: line {lineno}: column {col}: not finite {text!r}")
                if abs(value) > MAX_ABS_VALUE:
                    return DataError(
                        f"{path}: line {lineno}: column {col}: value {text!r} out of range "
                        f"(beats are scaled to [0, 1]; |value| must be <= {MAX_ABS_VALUE:g})"
                    )
            label = float(row[-1])
            if label not in range(len(CLASS_NAMES)):
                return DataError(
                    f"{path}: line {lineno}: unknown label {row[-1]!r} (expected 0..4)"
                )
    return DataError(f"{path}: not a Kaggle heartbeat CSV")


def read_kaggle_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(x float32 (n, 187), y int64 (n,))`` from a Kaggle heartbeat CSV.

    A missing file, a line with the wrong number of columns, a value that is not a number or
    a label outside 0..4 raise a one-line :class:`DataError` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, header=None, dtype=np.float64, engine="c", skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file") from None
    except (ValueError, pd.errors.ParserError):  # UnicodeDecodeError is a ValueError too
        raise _diagnose(path) from None
    values = frame.to_numpy()
    if values.ndim != 2 or values.shape[1] != N_COLUMNS or not np.all(np.isfinite(values)):
        raise _diagnose(path)
    if np.abs(values).max(initial=0.0) > MAX_ABS_VALUE:
        raise _diagnose(path)
    labels = values[:, -1]
    if not np.all(np.isin(labels, np.arange(len(CLASS_NAMES), dtype=np.float64))):
        raise _diagnose(path)
    return values[:, :-1].astype(np.float32), labels.astype(np.int64)


def write_kaggle_csv(path: str | Path, x: np.ndarray, y: np.ndarray) -> Path:
    """Write beats in the Kaggle format (``%.18e``), atomically (temporary file, then rename)."""
    path = Path(path)
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0, :]
    if x.ndim != 2 or x.shape[1] != KAGGLE_LENGTH:
        raise ValueError(f"x must be (n, {KAGGLE_LENGTH}), got {x.shape}")
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    if len(y) and (y.min() < 0 or y.max() >= len(CLASS_NAMES)):
        raise ValueError("labels must be 0..4")
    table = np.column_stack([x.astype(np.float64), y.astype(np.float64)])

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            np.savetxt(fh, table, fmt="%.18e", delimiter=",")

    return atomic_write(path, write)


def load_kaggle(
    train_path: str | Path,
    test_path: str | Path,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> PreparedData:
    """The Kaggle train/test CSVs as :class:`PreparedData` (x ``(n, 1, 187)``, 125 Hz).

    Validation is a stratified ``val_fraction`` of the training file. The CSVs carry no record
    ids, so every ``groups`` entry is ``-1`` (unknown): the Kaggle split is intra-patient.
    """
    x_train, y_train = read_kaggle_csv(train_path)
    x_test, y_test = read_kaggle_csv(test_path)
    fit, val = stratified_holdout(y_train, val_fraction, seed)

    def split(x: np.ndarray, y: np.ndarray) -> ArraySplit:
        return ArraySplit(x[:, None, :], y, np.full(len(y), -1, dtype=np.int64))

    data = PreparedData(
        train=split(x_train[fit], y_train[fit]),
        val=split(x_train[val], y_train[val]),
        test=split(x_test, y_test),
        class_names=list(CLASS_NAMES),
        sampling_rate=KAGGLE_FS,
    )
    counts = {
        name: {
            c: int(n)
            for c, n in zip(
                CLASS_NAMES,
                np.bincount(data.split(name).y, minlength=len(CLASS_NAMES)),
                strict=True,
            )
        }
        for name in ("train", "val", "test")
    }
    data.meta = {
        "dataset": "kaggle_csv",
        "train_path": str(train_path),
        "test_path": str(test_path),
        "split": "intra (Kaggle files; validation stratified from the training file)",
        "groups": "unknown (the Kaggle CSVs carry no record ids)",
        "counts": counts,
    }
    return data


def load_from_config(data: Any, seed: int = 0) -> PreparedData:
    """The ``kaggle_csv`` dataset of a data config (its ``kaggle_train`` / ``kaggle_test``)."""
    if not data.kaggle_train or not data.kaggle_test:
        raise ConfigError("data.kaggle_train and data.kaggle_test are needed for kaggle_csv")
    return load_kaggle(data.kaggle_train, data.kaggle_test, val_fraction=0.1, seed=seed)
