"""The one wfdb-based reading routine every database reader uses.

``read_wfdb`` reads a WFDB record (``.hea`` + ``.dat`` of any WFDB format, or the ``.hea`` +
MATLAB v4 ``.mat`` of the 2017 and 2021 challenges, which wfdb reads as format 16 at a byte
offset) into a :class:`~ecgzoo.readers.records.Record`. Before wfdb touches the signal file, the
header is checked against the file itself, because records that lie are otherwise read as if
valid:

- a signal file the header names must exist;
- a negative gain, or a gain of 0 stated with units (``0/mV``), is refused; a bare ``0`` is
  WFDB's "uncalibrated" (real: SVDB record 820), read with WFDB's default 200 adu/mV;
- the signal file must hold exactly the samples the header declares: more (a header that
  declares fewer samples than the file holds), fewer (truncated), or a size that fits another
  format (``212`` declared on a 16-bit file) are refused;
- a ``.mat`` must start with a MATLAB v4 int16 matrix header of the declared shape;
- a record with no samples, or whose samples are all invalid (WFDB's invalid value, read as NaN)
  is refused. Shorter NaN stretches are kept as NaN in the record; the example stage decides
  (beats refuse a lead with NaN, windows set them to 0, see ``ecgzoo.examples``).

Signals are float64 in mV, exactly as wfdb computes them (``(digital - baseline) / gain``): the
MIT-BIH beat pipeline depends on these exact values, so nothing is rounded to float32 here.
Errors are :class:`DataError` naming the file; ``display`` maps a file name to what the message
shows (for example ``archive.zip:member`` for a record copied out of a zip).
"""

from __future__ import annotations

import contextlib
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.readers.records import Record

# bytes per sample of each WFDB storage format (212: two 12-bit samples in three bytes, ...)
_BYTES_PER_SAMPLE: dict[int, float] = {
    8: 1, 16: 2, 61: 2, 80: 1, 160: 2, 212: 1.5, 310: 4 / 3, 311: 4 / 3, 24: 3, 32: 4,
}  # fmt: skip
_MAT_INT16 = 30  # MATLAB v4 MOPT: little-endian (M=0), full matrix, int16 (P=3)

Display = Callable[[str], str]


@contextmanager
def quiet_wfdb() -> Iterator[None]:
    """Import and call wfdb without its pandas deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``, for one-line errors from library exceptions."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class FolderNames:
    """The default ``display``: a file's path in ``folder`` (picklable, for worker processes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def __call__(self, name: str) -> str:
        return str(self.folder / name)


def folder_display(folder: Path) -> Display:
    """The default ``display``: the file's path in ``folder``."""
    return FolderNames(folder)


def header_comments(hea: Path, display: Display | None = None) -> list[str]:
    """The ``#`` comment lines of a header, without the ``#`` (``Age: 81``, ``Dx: ...``)."""
    show = display or folder_display(hea.parent)
    try:
        text = hea.read_text(errors="replace")
    except FileNotFoundError:
        raise DataError(f"{show(hea.name)}: header file not found") from None
    except OSError as exc:
        raise DataError(f"{show(hea.name)}: cannot read header ({exc.strerror})") from None
    return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]


@dataclass
class Header:
    """The fields of a WFDB header the checks need (parsed here: wfdb's own parser is slow)."""

    fs: float | None
    sig_len: int
    file_name: list[str]
    fmt: list[int | None]
    byte_offset: list[int]
    gains: list[tuple[float, bool] | None]  # (gain as written, units stated) per signal
    comments: list[str]


_FMT_RE = re.compile(r"^(\d+)(?:x\d+)?(?::\d+)?(?:\+(\d+))?$")


def parse_header(text: str) -> Header:
    """A single-segment WFDB header; ``ValueError`` when malformed."""
    lines = [ln.strip() for ln in text.splitlines()]
    comments = [ln.lstrip("#").strip() for ln in lines if ln.startswith("#")]
    body = [ln.split() for ln in lines if ln and not ln.startswith("#")]
    if not body or len(body[0]) < 2:
        raise ValueError("no record line")
    record = body[0]
    if "/" in record[0]:
        raise ValueError("multi-segment records are not supported")
    n_sig = int(record[1])
    # no rate written: WFDB's default is 250 Hz, but a user's record that omits it is more
    # likely wrong than at 250 Hz: refused (None) rather than guessed
    fs = float(re.split(r"[/(]", record[2])[0]) if len(record) > 2 else None
    sig_len = int(record[3]) if len(record) > 3 else 0
    signals = body[1 : 1 + n_sig]
    if n_sig < 1 or len(signals) < n_sig:
        raise ValueError(f"declares {n_sig} signals but lists {len(signals)}")
    header = Header(fs, sig_len, [], [], [], [], comments)
    for fields in signals:
        match = _FMT_RE.match(fields[1]) if len(fields) > 1 else None
        if match is None:
            raise ValueError(f"bad signal line {' '.join(fields)[:60]!r}")
        header.file_name.append(fields[0])
        header.fmt.append(int(match.group(1)))
        header.byte_offset.append(int(match.group(2) or 0))
        gain = None
        if len(fields) > 2:
            with contextlib.suppress(ValueError):
                gain = (float(fields[2].split("/")[0].split("(")[0]), "/" in fields[2])
        header.gains.append(gain)
    return header


def _check_mat(path: Path, n_rows: int, n_cols: int, offset: int, show: Display) -> None:
    with open(path, "rb") as fh:
        head = fh.read(20)
    if len(head) < 20:
        raise DataError(f"{show(path.name)}: not a MATLAB v4 file (only {len(head)} bytes)")
    mopt, rows, cols, imag, namelen = struct.unpack("<5i", head)
    if mopt != _MAT_INT16 or imag != 0 or not 0 < namelen < 64:
        raise DataError(f"{show(path.name)}: not a MATLAB v4 int16 matrix file")
    if 20 + namelen != offset:
        raise DataError(
            f"{show(path.name)}: MATLAB header is {20 + namelen} bytes, the .hea says {offset}"
        )
    if (rows, cols) != (n_rows, n_cols):
        raise DataError(
            f"{show(path.name)}: matrix is {rows} x {cols}, the header declares "
            f"{n_rows} signals x {n_cols} samples"
        )


def _check_files(folder: Path, header: Header, show: Display) -> None:
    """Every signal file exists and holds exactly the declared samples."""
    n = int(header.sig_len or 0)
    per_file: dict[str, list[int]] = {}
    for i, name in enumerate(header.file_name):
        per_file.setdefault(name, []).append(i)
    for name, chans in per_file.items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"{show(name)}: file not found (named in the header)")
        fmts = {int(header.fmt[i]) for i in chans}
        offset = int(header.byte_offset[chans[0]] or 0)
        if len(fmts) != 1 or next(iter(fmts)) not in _BYTES_PER_SAMPLE:
            continue  # mixed or exotic formats: left to wfdb
        fmt = next(iter(fmts))
        if name.lower().endswith(".mat"):
            _check_mat(path, len(chans), n, offset, show)
        per_sample = _BYTES_PER_SAMPLE[fmt] * len(chans)
        expected = offset + int(np.ceil(per_sample * n))
        size = path.stat().st_size
        if size == expected:
            continue
        held = (size - offset) / per_sample
        if fmt == 212 and size - offset == 2 * len(chans) * n:
            raise DataError(
                f"{show(name)}: header says format 212 but the file size fits format 16"
            )
        if size > expected:
            raise DataError(
                f"{show(name)}: the header declares {n} samples but the file holds "
                f"{int(held)} (format {fmt})"
            )
        raise DataError(f"{show(name)}: truncated: {int(held)} of {n} samples (format {fmt})")


def check_header(
    base: Path,
    *,
    display: Display | None = None,
    database: str = "wfdb",
    expected_fs: tuple[float, ...] | None = None,
) -> Header:
    """The header of record ``base`` checked against its signal files (rate, gains, sizes:
    see the module docstring) without reading the signal; ``DataError`` naming the file.

    The one set of record checks: :func:`read_wfdb` runs it, and so does ``ecgzoo annotate``
    before it reads a long record in chunks."""
    base = Path(base)
    folder, name = base.parent, base.name
    show = display or folder_display(folder)
    hea = folder / f"{name}.hea"
    if not hea.is_file():
        raise DataError(f"{show(hea.name)}: header file not found")
    try:
        header = parse_header(hea.read_text(errors="replace"))
    except (ValueError, IndexError) as exc:
        raise DataError(f"{show(hea.name)}: cannot read header ({first_line(exc)})") from None
    except OSError as exc:
        raise DataError(f"{show(hea.name)}: cannot read header ({exc.strerror})") from None
    if header.fs is None or not np.isfinite(header.fs) or header.fs <= 0:
        raise DataError(f"{show(hea.name)}: no valid sampling rate in the header")
    if expected_fs is not None and not any(abs(header.fs - f) < 1e-6 for f in expected_fs):
        rates = " or ".join(f"{f:g}" for f in expected_fs)
        raise DataError(
            f"{show(hea.name)}: sampling rate {header.fs:g} Hz, expected {rates} Hz for {database}"
        )
    if not header.sig_len:
        raise DataError(f"{show(hea.name)}: empty record (0 samples)")
    for i, found in enumerate(header.gains):
        if found is None:
            continue
        gain, has_units = found
        # A bare 0 is WFDB's "uncalibrated" (SVDB 820 has it; wfdb then uses 200 adu/mV); a
        # 0 with units ("0/mV") claims a calibration that cannot be, and a negative gain too.
        if gain < 0 or (gain == 0 and has_units):
            raise DataError(
                f"{show(hea.name)}: signal {i + 1} has gain {gain:g}; "
                "a zero or negative gain cannot be converted to mV"
            )
    _check_files(folder, header, show)
    return header


def read_wfdb(
    base: Path,
    *,
    database: str = "wfdb",
    display: Display | None = None,
    expected_fs: tuple[float, ...] | None = None,
    channels: list[int] | None = None,
) -> Record:
    """Read the WFDB record ``base`` (``folder/NAME``, no extension), all leads (or the
    ``channels`` given: wfdb then converts only those to mV), into a Record.

    ``expected_fs``: the rates this database uses; a header at another rate is refused (the
    caller resamples later, in the example stage). Annotations, labels and demographics are
    the caller's to add. Raises ``DataError`` naming the file for everything in the module
    docstring.
    """
    base = Path(base)
    folder, name = base.parent, base.name
    show = display or folder_display(folder)
    header = check_header(base, display=show, database=database, expected_fs=expected_fs)
    with quiet_wfdb():
        import wfdb

        try:
            rec = wfdb.rdrecord(str(base), physical=True, channels=channels)
        except Exception as exc:
            raise DataError(
                f"{show(header.file_name[0])}: cannot read signal ({first_line(exc)})"
            ) from None
    signal = np.asarray(rec.p_signal, dtype=np.float64).T  # a view: rows are leads, no copy
    if signal.shape[1] != header.sig_len:
        raise DataError(
            f"{show(header.file_name[0])}: truncated: {signal.shape[1]} of {header.sig_len} samples"
        )
    finite = np.isfinite(signal)
    if not finite.any():
        raise DataError(f"{show(header.file_name[0])}: every sample is invalid (no signal)")
    for i, unit in enumerate(rec.units or []):
        if unit and unit.lower() not in ("mv", "millivolt", "millivolts"):
            raise DataError(
                f"{show(name + '.hea')}: lead {rec.sig_name[i]} is in {unit!r}, expected mV"
            )
    return Record(
        name=name,
        database=database,
        signal=signal,
        fs=float(header.fs),
        lead_names=[str(s) for s in rec.sig_name],
        comments=header.comments,
    )


def read_annotations(
    base: Path, extension: str = "atr", display: Display | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(samples, symbols, aux_notes)`` of ``base.<extension>``, in file order."""
    base = Path(base)
    show = display or folder_display(base.parent)
    path = base.parent / f"{base.name}.{extension}"
    if not path.is_file():
        raise DataError(f"{show(path.name)}: file not found")
    with quiet_wfdb():
        import wfdb

        try:
            ann = wfdb.rdann(str(base), extension, return_label_elements=["label_store"])
            samples = np.asarray(ann.sample, dtype=np.int64)
            symbols = np.asarray(_symbols(ann), dtype="U2")
            aux = np.asarray([a or "" for a in (ann.aux_note or [""] * len(samples))])
            if len(samples) != len(symbols) or len(aux) != len(samples):
                raise ValueError("sample and symbol counts differ")
        except Exception as exc:  # wfdb raises many types on a corrupt file
            raise DataError(
                f"{show(path.name)}: cannot read annotations ({first_line(exc)})"
            ) from None
    return samples, symbols, aux


def _symbols(ann) -> list:
    """The symbols of a ``label_store``-only wfdb Annotation, by wfdb's standard label table
    (a lookup: wfdb's own label_store-to-symbol conversion goes through pandas, a fifth of
    ``rdann``'s time); with custom labels in the file, or a code not in the table, by wfdb's
    own conversion: the same symbols either way."""
    from wfdb.io.annotation import ann_labels

    table = {int(label.label_store): label.symbol for label in ann_labels}
    codes = np.asarray(ann.label_store, dtype=np.int64).tolist()
    if ann.custom_labels is None and all(c in table for c in codes):
        return [table[c] for c in codes]
    ann.convert_label_attribute("label_store", "symbol")
    return ann.symbol


def list_folder(folder: Path, what: str = "WFDB") -> list[str]:
    """Record names of a folder: its ``RECORDS`` file, else every ``*.hea``, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: {what} database folder not found")
    listing = folder / "RECORDS"
    if listing.is_file():
        names = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
    else:
        names = sorted(p.stem for p in folder.glob("*.hea"))
    if not names:
        raise DataError(f"{folder}: no {what} records (no RECORDS file and no .hea files)")
    return names
