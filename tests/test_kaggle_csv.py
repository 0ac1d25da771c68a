"""The Kaggle heartbeat CSV format, written from and read back into real MIT-BIH beats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgzoo.datasets.kaggle_csv import load_kaggle, read_kaggle_csv, write_kaggle_csv
from ecgzoo.datasets.mitbih import build_beats
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.errors import DataError


@pytest.fixture(scope="module")
def beats(mitdb_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    a = build_beats(mitdb_dir, MitbihOptions(segmentation="kachuee", records=["208", "209"]))
    return a["x"], a["y"]


def test_round_trip(beats, tmp_path: Path) -> None:
    x, y = beats
    path = write_kaggle_csv(tmp_path / "mitbih_test.csv", x, y)
    assert [p.name for p in tmp_path.iterdir()] == ["mitbih_test.csv"]  # no temp file left
    first = path.read_text().splitlines()[0].split(",")
    assert len(first) == 188
    assert first[-1] == f"{float(y[0]):.18e}"
    assert all(len(v) == len("0.000000000000000000e+00") for v in first)
    x2, y2 = read_kaggle_csv(path)
    assert x2.dtype == np.float32 and y2.dtype == np.int64
    assert x2.shape == x.shape
    np.testing.assert_array_equal(x2, x)  # %.18e keeps every float32 exactly
    np.testing.assert_array_equal(y2, y)
    assert set(np.unique(y2)) >= {0, 1, 2, 3}


def test_load_kaggle(beats, tmp_path: Path) -> None:
    x, y = beats
    half = len(y) // 2
    train = write_kaggle_csv(tmp_path / "train.csv", x[:half], y[:half])
    test = write_kaggle_csv(tmp_path / "test.csv", x[half:], y[half:])
    data = load_kaggle(train, test, val_fraction=0.1, seed=0)
    assert data.n_leads == 1 and data.n_samples == 187 and data.sampling_rate == 125.0
    assert len(data.train) + len(data.val) == half
    assert len(data.val) == pytest.approx(0.1 * half, abs=1)
    assert len(data.test) == len(y) - half
    assert np.all(data.train.groups == -1)
    assert data.class_names == ["N", "S", "V", "F", "Q"]


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _good_line(label: float = 0.0) -> str:
    return ",".join(f"{v:.18e}" for v in [0.5] * 187 + [label])


@pytest.mark.parametrize(
    ("bad_line", "pattern"),
    [
        (",".join(["0.5"] * 187), "line 3: expected 188 columns"),  # label missing
        (",".join(["0.5"] * 189), "line 3: expected 188 columns"),
        (_good_line(7.0), "line 3: unknown label"),
        (_good_line(1.5), "line 3: unknown label"),
        (_good_line(0.0).replace("5.0", "abc", 1), "line 3: column 1: not a number"),
    ],
)
def test_bad_csv(tmp_path: Path, bad_line: str, pattern: str) -> None:
    path = _write_lines(tmp_path / "bad.csv", [_good_line(), _good_line(2.0), bad_line])
    with pytest.raises(DataError, match=pattern) as info:
        read_kaggle_csv(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_bad_csv_first_line_and_missing(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "short.csv", [",".join(["0.5"] * 10)] * 2)
    with pytest.raises(DataError, match="line 1: expected 188 columns"):
        read_kaggle_csv(path)
    with pytest.raises(DataError, match="nothing.csv: file not found"):
        read_kaggle_csv(tmp_path / "nothing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_kaggle_csv(tmp_path / "empty.csv")


def test_write_refuses_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_kaggle_csv(tmp_path / "x.csv", np.zeros((3, 100)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError):
        write_kaggle_csv(tmp_path / "x.csv", np.zeros((3, 187)), np.array([0, 1, 9]))
    assert not list(tmp_path.iterdir())
