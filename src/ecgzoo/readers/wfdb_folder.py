"""Any folder of WFDB records (with or without ``.atr`` annotations), and plain signal files.

``WfdbFolderReader`` is the reader of ``mitdb`` and ``svdb`` too (they are WFDB folders with
reference beat annotations at a known rate); ``read_signal_file`` reads a CSV or NumPy signal
a user has, at a sampling rate they state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.readers.records import Record
from ecgzoo.readers.wfdb_io import (
    folder_display,
    list_folder,
    quiet_wfdb,
    read_annotations,
    read_wfdb,
)

# WFDB beat annotation codes (wfdb's ann_label_table, is-beat rows): everything else in an
# annotation file is a rhythm change, noise, a comment or a non-beat event.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
RHYTHM_SYMBOL = "+"


class WfdbFolderReader:
    """Records of one folder of WFDB files; beats and rhythms from ``<record>.<annotator>``.

    ``annotator=None`` reads no annotations; otherwise an absent annotation file is allowed
    unless ``require_annotations``. ``expected_fs`` refuses headers at another rate.
    """

    name = "wfdb-folder"

    def __init__(
        self,
        folder: str | Path,
        *,
        annotator: str | None = "atr",
        require_annotations: bool = False,
        expected_fs: tuple[float, ...] | None = None,
        database: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.annotator = annotator
        self.require_annotations = require_annotations
        self.expected_fs = expected_fs
        if database is not None:
            self.name = database

    def list_records(self) -> list[str]:
        """Names from the folder's ``RECORDS``, else every ``*.hea`` (sorted)."""
        return list_folder(self.folder, self.name)

    def annotation_path(self, record: str) -> Path | None:
        """The annotation file of ``record`` (``None`` when this reader reads none)."""
        if self.annotator is None:
            return None
        return self.folder / f"{record}.{self.annotator}"

    def read_beats(self, record: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(beat_samples, beat_symbols, rhythm_samples, rhythm_labels)`` from the annotations.

        Beats are sorted by sample (stable) when the file is not; a missing annotation file
        gives empty arrays unless annotations are required.
        """
        path = self.annotation_path(str(record))
        empty = np.zeros(0, dtype=np.int64)
        if path is None or (not path.is_file() and not self.require_annotations):
            return empty, np.zeros(0, dtype="<U1"), empty, np.zeros(0, dtype="<U1")
        samples, symbols, aux = read_annotations(
            self.folder / str(record), str(self.annotator), folder_display(self.folder)
        )
        beat = np.isin(symbols, list(BEAT_SYMBOLS))
        bs, bsym = samples[beat], symbols[beat].astype("<U1")
        if len(bs) > 1 and np.any(np.diff(bs) < 0):
            order = np.argsort(bs, kind="stable")
            bs, bsym = bs[order], bsym[order]
        rhythm = (symbols == RHYTHM_SYMBOL) & (aux != "")
        labels = np.char.rstrip(aux[rhythm].astype(str), "\x00")
        return bs, bsym, samples[rhythm], labels

    def lead_names(self, record: str) -> list[str] | None:
        """The lead names in ``record``'s header (wfdb's header reader; None when it cannot be
        read: :meth:`read` then says why)."""
        with quiet_wfdb():
            import wfdb

            try:
                return [str(s) for s in wfdb.rdheader(str(self.folder / str(record))).sig_name]
            except Exception:  # wfdb raises many types; read() gives the one-line error
                return None

    def read(self, record: str, channels: list[int] | None = None) -> Record:
        """Signal (all leads, or ``channels``, mV) and annotations of one record; ``DataError``
        naming the file.

        Annotations are kept as written, even past the signal's end (SVDB 860 has one): the
        example stage drops such beats (reason ``outside_signal``).
        """
        rec = read_wfdb(
            self.folder / str(record),
            database=self.name,
            expected_fs=self.expected_fs,
            channels=channels,
        )
        bs, bsym, rs, rl = self.read_beats(str(record))
        rec.beat_samples, rec.beat_symbols = bs, bsym
        rec.rhythm_samples, rec.rhythm_labels = rs, rl
        return rec


class AnnotatedDatabase(WfdbFolderReader):
    """A PhysioNet database of WFDB records with reference beat annotations (``.atr``), at one
    rate, fetched into ``<fetch(catalog)>/<folder_name>``; subclasses set the class fields."""

    catalog: str = ""
    version: str = "1.0.0"
    folder_name: str = ""
    fs: float = 0.0

    def __init__(self, folder: str | Path | None = None) -> None:
        super().__init__(
            self.default_folder() if folder is None else folder,
            annotator="atr",
            require_annotations=True,
            expected_fs=(self.fs,),
            database=self.catalog,
        )

    @classmethod
    def default_folder(cls) -> Path:
        """The fetched (or mirrored) folder, via :func:`ecgzoo.fetch.physionet.fetch`."""
        from ecgzoo.fetch.physionet import fetch

        return Path(fetch(cls.catalog, cls.version)) / cls.folder_name


def read_signal_file(path: str | Path, fs: float, lead_names: list[str] | None = None) -> Record:
    """A plain signal in mV: ``.npy`` (``(n_samples,)`` or ``(n_leads, n_samples)``) or ``.csv``
    (one column per lead, an optional header line of lead names), at the stated rate ``fs``.
    """
    path = Path(path)
    if fs is None or not np.isfinite(fs) or fs <= 0:
        raise DataError(f"{path}: a positive sampling rate is needed for a plain signal file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    names = lead_names
    try:
        if path.suffix.lower() == ".npy":
            data = np.load(path, allow_pickle=False)
            if np.iscomplexobj(data) or not np.issubdtype(data.dtype, np.number):
                # casting would drop an imaginary part (or parse text) without a word
                raise DataError(f"{path}: expected real numbers, the array holds {data.dtype}")
            data = np.atleast_2d(np.asarray(data, dtype=np.float64))
        elif path.suffix.lower() in (".csv", ".txt"):
            text = path.read_text(errors="strict").splitlines()
            first = text[0].split(",") if text else []
            has_header = bool(first) and not _is_number(first[0])
            if has_header and names is None:
                names = [f.strip() for f in first]
            body = text[1:] if has_header else text
            if not any(line.strip() for line in body):  # loadtxt would warn, then return []
                raise DataError(f"{path}: no samples (empty file or a header alone)")
            rows = np.loadtxt(body, delimiter=",", ndmin=2)
            data = np.asarray(rows, dtype=np.float64).T
        else:
            raise DataError(f"{path}: unknown signal file type (use .npy or .csv)")
    except DataError:
        raise
    except UnicodeDecodeError as exc:  # before ValueError, of which it is a kind
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read signal ({str(exc).splitlines()[0]})") from None
    if data.ndim != 2 or data.size == 0:
        raise DataError(f"{path}: empty or not a 1-D / 2-D signal")
    if not np.isfinite(data).any():
        raise DataError(f"{path}: every sample is invalid (NaN or infinite: no signal)")
    names = names or [f"lead{i}" for i in range(data.shape[0])]
    if len(names) != data.shape[0]:
        raise DataError(f"{path}: {data.shape[0]} leads but {len(names)} lead names")
    return Record(path.stem, "signal-file", np.ascontiguousarray(data), float(fs), list(names))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
