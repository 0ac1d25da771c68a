"""Reading a user's recording, one lead at a time and in chunks: the seam to the data layer.

This is the small interface ``ecgzoo.apply`` needs from the data layer, built on its readers.

- :func:`open_source` opens a WFDB record (``NAME.hea`` or ``NAME``), a CSV file (one column per
  lead, optional header row of lead names) or a NumPy ``.npy`` file (``(n_samples,)`` or
  ``(n_leads, n_samples)``; CSV and NumPy need ``fs``) and returns a :class:`SignalSource`.
  EDF is not read (no maintained reader earned its place yet): it raises ``DataError``.
- :meth:`SignalSource.chunks` yields one lead in chunks (float64 only for one chunk at a time):
  a WFDB record is read with ``wfdb.rdrecord(sampfrom=, sampto=)``, so a 24-hour Holter is
  never held whole.

What a chunk becomes is the model's ``InputSpec`` (``ecgzoo.examples.input_spec``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.examples.signal_checks import check_rate
from ecgzoo.readers.wfdb_folder import read_signal_file
from ecgzoo.readers.wfdb_io import check_header

with warnings.catch_warnings():  # wfdb's import-time pandas deprecation warnings
    warnings.simplefilter("ignore")
    import wfdb

# Chunk length: Pan-Tompkins adapts its thresholds to the signal it is given, and on the 48
# MIT-BIH records shorter chunks lost beats (FN/FP 1,713/2,167 at 2 min, 1,343/1,667 at 10 min,
# 1,071/1,361 at 30 min); 30 minutes of one lead as float64 is 5 MiB at 360 Hz.
CHUNK_S = 1800.0


@dataclass
class SignalSource:
    """One recording, opened but not read: its path, rate, leads and length."""

    path: Path
    kind: str  # "wfdb", "csv" or "npy"
    fs: float
    lead_names: list[str]
    n_samples: int
    data: np.ndarray | None = None  # CSV / NumPy: the (n_leads, n_samples) float32 array

    @property
    def name(self) -> str:
        return self.path.stem if self.kind != "wfdb" else self.path.name

    @property
    def n_leads_available(self) -> int:
        return len(self.lead_names)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def lead_index(self, lead: str | None, preference: tuple[str, ...] = ()) -> int:
        """The lead named ``lead`` (case-insensitive) or numbered, else the first of the
        model's ``preference`` (its ``InputSpec.leads``) present, else lead 0; an unknown
        ``lead`` raises ``DataError``."""
        try:
            return InputSpec.lead_index_of(self.lead_names, preference, lead)
        except DataError as exc:
            raise DataError(f"{self.path}: {exc}") from None

    def read(self, lead: int, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` of lead ``lead`` as float64 mV; ``DataError`` names the
        file when it is unreadable, truncated or holds NaN."""
        if self.data is not None:
            out = np.asarray(self.data[lead, start:stop], dtype=np.float64)
        else:
            base = str(self.path)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rec = wfdb.rdrecord(
                        base, sampfrom=start, sampto=stop, channels=[lead], physical=True
                    )
                out = np.asarray(rec.p_signal[:, 0], dtype=np.float64)
            except Exception as exc:  # wfdb raises many types on a corrupt file
                raise DataError(f"{base}.dat: cannot read signal ({_first_line(exc)})") from None
            if len(out) != stop - start:
                raise DataError(
                    f"{base}.dat: truncated: samples {start}-{stop} requested, "
                    f"{len(out)} read (header says {self.n_samples})"
                )
        bad = ~np.isfinite(out)
        if bad.any():
            first = start + int(np.argmax(bad))
            raise DataError(
                f"{self.path}: lead {self.lead_names[lead]} has invalid (NaN) samples "
                f"near {first / self.fs:.1f} s"
            )
        return out

    def chunk_bounds(
        self, chunk_s: float = CHUNK_S, margin_s: float = 10.0
    ) -> Iterator[tuple[int, int, int, int]]:
        """``(start, stop, core_start, core_stop)`` of each chunk of ``chunk_s`` with ``margin_s``
        of context each side: beats are owned by the chunk when their peak lies in
        ``[core_start, core_stop)`` (the rest is margin)."""
        step = max(int(round(chunk_s * self.fs)), 1)
        margin = int(round(margin_s * self.fs))
        for core_start in range(0, self.n_samples, step):
            core_stop = min(core_start + step, self.n_samples)
            start, stop = max(core_start - margin, 0), min(core_stop + margin, self.n_samples)
            yield start, stop, core_start, core_stop


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def open_source(path: str | Path, fs: float | None = None) -> SignalSource:
    """Open a recording without reading its samples (CSV/NumPy are read: they are small).

    A WFDB record's header goes through the same checks as every database record
    (:func:`ecgzoo.readers.wfdb_io.check_header`: rate, gains, declared length against
    the file); CSV and NumPy files through the one plain-signal reader
    (:func:`ecgzoo.readers.wfdb_folder.read_signal_file`). The rate, stated or read, is
    checked by :func:`ecgzoo.examples.signal_checks.check_rate`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".edf", ".bdf"):
        raise DataError(f"{path}: EDF is not supported yet; convert it to WFDB (wfdb.edf2mit)")
    if suffix in (".csv", ".npy"):
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        if fs is None:
            raise DataError(f"{path}: the sampling rate is not in the file: pass --fs")
        rec = read_signal_file(path, check_rate(fs, str(path)))
        data = rec.signal
        if data.shape[0] > data.shape[1]:
            raise DataError(f"{path}: {data.shape[0]} leads x {data.shape[1]} samples: transposed?")
        return SignalSource(path, suffix[1:], rec.fs, rec.lead_names, data.shape[1], data)
    base = path.with_suffix("") if suffix in (".hea", ".dat") else path
    hea = Path(f"{base}.hea")
    if not hea.is_file():
        raise DataError(f"{hea}: file not found (expected a WFDB record, .csv or .npy)")
    header = check_header(base)
    if fs is not None and abs(float(header.fs) - float(fs)) > 1e-6:
        raise DataError(f"{hea}: header says {header.fs:g} Hz but --fs {fs} was given")
    rate = check_rate(header.fs, str(hea))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = list(wfdb.rdheader(str(base)).sig_name or [])
    except Exception as exc:
        raise DataError(f"{hea}: cannot read header ({_first_line(exc)})") from None
    if not names:
        raise DataError(f"{hea}: no signal declared (no leads or zero length)")
    return SignalSource(base, "wfdb", rate, names, int(header.sig_len))


def find_records(folder: str | Path) -> list[Path]:
    """Every WFDB record (by its ``.hea``), CSV and ``.npy`` file in ``folder``, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    found = [p.with_suffix("") for p in folder.glob("*.hea")]
    found += [p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".npy")]
    # the challenges' tables beside their records are not recordings
    found = [p for p in found if not p.name.startswith(".") and not p.name.startswith("REFERENCE")]
    if not found:
        raise DataError(f"{folder}: no records (.hea, .csv or .npy) in this folder")
    by_name: dict[str, Path] = {}
    for p in sorted(found):  # r100.hea and r100.csv would write the same r100.ecgzoo.* files
        name = p.stem if p.suffix.lower() in (".csv", ".npy") else p.name
        if name in by_name:
            raise DataError(
                f"{folder}: two records named {name!r} ({by_name[name].name}, {p.name}); "
                "rename one (their outputs would overwrite each other)"
            )
        by_name[name] = p
    return sorted(found)
