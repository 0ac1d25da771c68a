"""The one record type every database reader returns, and the reader interface.

A *reader* knows one database's files (``mitdb``, ``svdb``, ``cinc2017``, ``cinc2021``, a user's
folder of WFDB records, ...). It lists record names and reads one record into a :class:`Record`.
Everything after that (beats, windows, multi-label recordings, splits) works on ``Record``
alone, so a new database plugs in by writing a reader and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class Record:
    """One recording as read from disk.

    ``signal``: float ``(n_leads, n_samples)`` in mV (float64 as wfdb computes it, so prepared
    arrays stay bit-identical; the example stage casts to float32); ``fs``: rate in Hz;
    ``lead_names``: one name per row of ``signal``.
    ``beat_samples`` / ``beat_symbols``: reference beat annotations (sample index at ``fs``,
    WFDB symbol such as ``N``, ``A``, ``V``), ascending; empty when the database has none.
    ``rhythm_samples`` / ``rhythm_labels``: rhythm changes (WFDB ``+`` annotations' aux note,
    for example ``(AFIB``), each in force until the next one; empty when none.
    ``labels``: record-level labels (CinC 2017 class, SNOMED CT codes of a 2021 record).
    ``patient``: the group id for leakage-free splits (the record name where nothing better
    is known).
    """

    name: str
    database: str
    signal: np.ndarray
    fs: float
    lead_names: list[str]
    beat_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    beat_symbols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U1"))
    rhythm_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rhythm_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U1"))
    labels: list[str] = field(default_factory=list)
    age: float | None = None
    sex: str | None = None
    patient: str = ""
    comments: list[str] = field(default_factory=list)  # header ``#`` lines, without the ``#``

    def __post_init__(self) -> None:
        if not self.patient:
            self.patient = self.name

    @property
    def n_leads(self) -> int:
        return int(self.signal.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def lead_index(self, preference: tuple[str, ...] | list[str]) -> int:
        """Index of the first lead in ``preference`` this record has (case-insensitive), else 0."""
        lowered = [n.lower() for n in self.lead_names]
        for name in preference:
            if name.lower() in lowered:
                return lowered.index(name.lower())
        return 0


@runtime_checkable
class DatabaseReader(Protocol):
    """What every database reader provides."""

    name: str

    def list_records(self) -> list[str]:
        """Record names in the database's own order."""
        ...

    def read(self, record: str) -> Record:
        """Read one record; a missing or malformed file raises ``DataError`` naming it."""
        ...


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``): readers
    use it to deliver a record at a requested rate, the example builders to reach a model's."""
    if float(fs_in) == float(fs_out):
        return np.asarray(x)
    import scipy.signal as sps  # here: reading WFDB files needs no scipy.signal (0.7 s import)

    ratio = Fraction(float(fs_out) / float(fs_in)).limit_denominator(1000)
    out = sps.resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator, -1)
    return out.astype(np.float32)
