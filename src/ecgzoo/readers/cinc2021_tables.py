"""The official scoring tables of the PhysioNet/CinC Challenge 2021, read once for everyone.

``weights.csv`` (the reward matrix over the 26 scored classes; codes joined by ``|`` are one
class), ``weights_abbreviations.csv`` (their short names) and ``dx_mapping_scored.csv`` /
``dx_mapping_unscored.csv`` (every SNOMED CT code with its description). The reader of the 2021
records uses them to refuse unknown codes and to encode labels; ``ecgzoo.metrics.challenge2021``
uses the same object to score. The score's arithmetic (the modified confusion matrix and its
normalisation, defined in ``ecgzoo.metrics.challenge2021``) lives here with the reward matrix it
weighs, so that this reader never imports the metrics layer above it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.paths import shared_mirror

#: SNOMED CT code of sinus rhythm, the class of the "inactive" reference classifier.
SINUS_RHYTHM = "426783006"
SCORING_SUBDIR = Path("challenge-2021") / "scoring"


@dataclass(frozen=True)
class ChallengeScoring:
    """The scored classes of the 2021 challenge and its reward matrix.

    ``names[j]`` is the class as written in ``weights.csv`` (``"713427006|59118001"``),
    ``codes[j]`` the set of its equivalent codes, ``abbreviations[j]`` its short name
    (``"CRBBB|RBBB"``), ``weights`` the reward matrix (labels by outputs). ``descriptions``
    maps every known code (scored and unscored) to its description and ``scored_codes`` lists
    the codes that map onto a scored class.
    """

    names: list[str]
    codes: list[frozenset[str]]
    abbreviations: list[str]
    weights: np.ndarray
    descriptions: dict[str, str] = field(default_factory=dict)
    unscored_codes: frozenset[str] = frozenset()

    @property
    def n_classes(self) -> int:
        return len(self.names)

    @property
    def known(self) -> frozenset[str]:
        """Every code of the tables, scored or not: a ``# Dx:`` code outside it is a typo."""
        return frozenset().union(*self.codes, self.descriptions)

    def index_of(self) -> dict[str, int]:
        """SNOMED CT code -> scored class index, for the scored codes."""
        return {code: j for j, codes in enumerate(self.codes) for code in codes}

    @property
    def sinus_index(self) -> int:
        """Index of the class containing sinus rhythm (the reference "always normal" output)."""
        for j, codes in enumerate(self.codes):
            if SINUS_RHYTHM in codes:
                return j
        raise DataError(f"the scored classes lack sinus rhythm ({SINUS_RHYTHM})")

    def class_of(self, code: str) -> int | None:
        """Index of the scored class holding ``code``, or None for an unscored code."""
        code = code.strip()
        for j, codes in enumerate(self.codes):
            if code in codes:
                return j
        return None

    def encode(self, dx_codes: Iterable[str]) -> np.ndarray:
        """A record's Dx codes -> a boolean vector over the scored classes (unscored dropped)."""
        y = np.zeros(self.n_classes, dtype=bool)
        for code in dx_codes:
            j = self.class_of(code)
            if j is not None:
                y[j] = True
        return y

    def encode_many(self, records: Sequence[Iterable[str]]) -> np.ndarray:
        """``(n_records, n_classes)`` boolean labels for a list of Dx code lists."""
        if not records:
            return np.zeros((0, self.n_classes), dtype=bool)
        return np.stack([self.encode(codes) for codes in records])

    def score(self, labels: np.ndarray, outputs: np.ndarray) -> float:
        """The normalised challenge score of binary ``outputs`` against ``labels``."""
        return challenge_score(labels, outputs, self.weights, self.sinus_index)


def _as_bool(array: np.ndarray, name: str, n_classes: int | None = None) -> np.ndarray:
    a = np.asarray(array)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected (n_records, n_classes), got shape {a.shape}")
    if n_classes is not None and a.shape[1] != n_classes:
        raise ValueError(f"{name}: expected {n_classes} classes, got {a.shape[1]}")
    return a.astype(bool)


def modified_confusion_matrix(labels: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """The challenge's multi-label confusion matrix ``A`` (rows labels, columns outputs)."""
    y = _as_bool(labels, "labels")
    p = _as_bool(outputs, "outputs", y.shape[1])
    if len(y) != len(p):
        raise ValueError(f"labels has {len(y)} records but outputs has {len(p)}")
    norm = np.maximum((y | p).sum(axis=1), 1).astype(np.float64)
    return (y / norm[:, None]).T @ p.astype(np.float64)


def challenge_score(
    labels: np.ndarray, outputs: np.ndarray, weights: np.ndarray, sinus_index: int
) -> float:
    """Normalised 2021 challenge score: always-sinus-rhythm scores 0, the labels themselves 1."""
    y = _as_bool(labels, "labels", weights.shape[0])
    p = _as_bool(outputs, "outputs", weights.shape[0])
    observed = np.nansum(weights * modified_confusion_matrix(y, p))
    correct = np.nansum(weights * modified_confusion_matrix(y, y))
    inactive_out = np.zeros_like(y)
    inactive_out[:, sinus_index] = True
    inactive = np.nansum(weights * modified_confusion_matrix(y, inactive_out))
    if correct == inactive:
        return 0.0
    return float((observed - inactive) / (correct - inactive))


def scoring_dir(path: str | Path | None = None) -> Path:
    """The folder holding ``weights.csv``: ``path``, else ``<mirror>/challenge-2021/scoring``."""
    if path is None:
        mirror = shared_mirror()
        if mirror is None:
            raise DataError(
                "the 2021 scoring tables: set ECGZOO_PHYSIONET_MIRROR to the PhysioNet mirror "
                "(or pass the scoring folder)"
            )
        path = mirror / SCORING_SUBDIR
    folder = Path(path)
    if not (folder / "weights.csv").is_file():
        raise DataError(f"{folder / 'weights.csv'}: not found (the 2021 challenge reward matrix)")
    return folder


def _read_rows(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="") as fh:
            return [[cell.strip() for cell in row] for row in csv.reader(fh) if row]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def _load_matrix(path: Path) -> tuple[list[str], np.ndarray]:
    """A square CSV table with class names in its first row and column."""
    rows = _read_rows(path)
    if len(rows) < 2:
        raise DataError(f"{path}: empty table")
    header = rows[0][1:]
    if [r[0] for r in rows[1:]] != header or any(len(r) != len(header) + 1 for r in rows[1:]):
        raise DataError(f"{path}: not a square table with matching row and column names")
    try:
        values = np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: non-numeric weight ({exc})") from None
    return header, values


def _load_dx_table(path: Path) -> dict[str, str]:
    """``dx_mapping_*.csv``: SNOMED CT code -> description."""
    if not path.is_file():
        return {}
    rows = _read_rows(path)
    head = rows[0]
    if "SNOMEDCTCode" not in head or "Dx" not in head:
        raise DataError(f"{path}: expected columns Dx and SNOMEDCTCode")
    code_col, dx_col = head.index("SNOMEDCTCode"), head.index("Dx")
    return {r[code_col]: r[dx_col] for r in rows[1:] if len(r) > code_col}


def load_scoring(path: str | Path | None = None) -> ChallengeScoring:
    """Read ``weights.csv`` (and, when present, the abbreviation and Dx mapping tables)."""
    folder = scoring_dir(path)
    names, weights = _load_matrix(folder / "weights.csv")
    codes = [frozenset(c.strip() for c in name.split("|")) for name in names]
    abbreviations = list(names)
    abbr_file = folder / "weights_abbreviations.csv"
    if abbr_file.is_file():
        abbr, abbr_weights = _load_matrix(abbr_file)
        if len(abbr) == len(names) and np.array_equal(abbr_weights, weights):
            abbreviations = abbr
    scored = _load_dx_table(folder / "dx_mapping_scored.csv")
    unscored = _load_dx_table(folder / "dx_mapping_unscored.csv")
    return ChallengeScoring(
        names=names,
        codes=codes,
        abbreviations=abbreviations,
        weights=weights,
        descriptions={**unscored, **scored},
        unscored_codes=frozenset(unscored),
    )
