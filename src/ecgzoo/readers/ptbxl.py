"""PTB-XL 1.0.3 (Wagner et al., Scientific Data 7:154, 2020): 12-lead, 10 s, SCP-ECG statements.

The release is ``ptbxl_database.csv`` (one row per ECG: ``ecg_id``, ``patient_id``, ``age``,
``sex``, ``scp_codes`` as a Python dict literal ``{statement: likelihood}``, ``strat_fold``
1-10, ``filename_lr`` / ``filename_hr``), ``scp_statements.csv`` (the 71 statements and their
hierarchy: ``diagnostic`` / ``form`` / ``rhythm`` flags, ``diagnostic_class`` (5 superclasses)
and ``diagnostic_subclass`` (23 subclasses)) and the WFDB records at 100 Hz (``records100/``,
``_lr``) and 500 Hz (``records500/``, ``_hr``).

Labels per task follow the benchmark code of Strodthoff et al. (IEEE JBHI 25:1519, 2021,
``utils.compute_label_aggregations``): ``all`` every statement, ``diagnostic`` the diagnostic
statements, ``subdiagnostic`` / ``superdiagnostic`` their subclasses / superclasses, ``form``
and ``rhythm`` the statements so flagged. The benchmark counts a statement whatever its
likelihood (PTB-XL gives form and rhythm statements likelihood 0 by convention, so a threshold
would erase them); ``min_likelihood`` > 0 drops diagnostic statements below it, as the PTB-XL
paper's example does for confident labels.

Every row is checked when the reader opens: an SCP code missing from ``scp_statements.csv``, a
likelihood outside 0-100, a fold outside 1-10 or an unreadable ``scp_codes`` field is one
``DataError`` line naming the file, the ``ecg_id`` and its record.
"""

from __future__ import annotations

import ast
import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.readers.records import Record

VERSION = "1.0.3"
DATABASE = "ptb-xl"
FULL_RECORDS = 21_799  # ECGs in the 1.0.3 release (1.0.1 had 21,837)
TASKS = ("all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm")
RATES = {100: "filename_lr", 500: "filename_hr"}
FOLDS = range(1, 11)
DB_CSV, STATEMENTS_CSV = "ptbxl_database.csv", "scp_statements.csv"
_DB_COLUMNS = ("ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold", *RATES.values())


@dataclass(frozen=True)
class Statement:
    """One row of ``scp_statements.csv``."""

    code: str
    diagnostic: bool
    form: bool
    rhythm: bool
    superclass: str  # diagnostic_class ('' for non-diagnostic statements)
    subclass: str  # diagnostic_subclass


@dataclass(frozen=True)
class Row:
    """One ECG of ``ptbxl_database.csv``."""

    ecg_id: int
    patient_id: str
    age: float | None
    sex: str | None  # "M" (0 in the file) or "F" (1)
    scp_codes: dict[str, float]
    strat_fold: int
    files: dict[int, str]  # rate -> path relative to the release root, no extension


def _flag(value: str) -> bool:
    return value.strip() not in ("", "0", "0.0")


@cache
def load_statements(path: Path) -> dict[str, Statement]:
    """``{code: Statement}`` from ``scp_statements.csv`` (its unnamed first column is the code)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            table = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise DataError(f"{path}: PTB-XL statement table not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read the statement table ({exc})") from None
    need = ("", "diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass")
    if not table or any(k not in table[0] for k in need):
        raise DataError(f"{path}: not PTB-XL's scp_statements.csv (columns {', '.join(need)})")
    out = {}
    for r in table:
        code = r[""].strip()
        out[code] = Statement(
            code,
            _flag(r["diagnostic"]),
            _flag(r["form"]),
            _flag(r["rhythm"]),
            r["diagnostic_class"].strip(),
            r["diagnostic_subclass"].strip(),
        )
    return out


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None


def parse_row(raw: dict[str, str], statements: dict[str, Statement], where: str) -> Row:
    """A checked :class:`Row`; ``where`` names the file in errors."""
    try:
        ecg_id = int(float(raw["ecg_id"]))
    except ValueError:
        raise DataError(f"{where}: ecg_id {raw['ecg_id']!r} is not a number") from None
    at = f"{where}: ecg_id {ecg_id} ({raw['filename_lr']})"
    try:
        codes = ast.literal_eval(raw["scp_codes"])  # a dict literal; never eval
    except (ValueError, SyntaxError):
        raise DataError(f"{at}: scp_codes {raw['scp_codes']!r} is not a dict literal") from None
    if not isinstance(codes, dict):
        raise DataError(f"{at}: scp_codes {raw['scp_codes']!r} is not a dict literal")
    for code, likelihood in codes.items():
        if code not in statements:
            raise DataError(f"{at}: unknown SCP code {code!r} (not in {STATEMENTS_CSV})")
        if not isinstance(likelihood, int | float) or not 0 <= likelihood <= 100:
            raise DataError(
                f"{at}: likelihood {likelihood!r} of {code} is outside 0-100 (a percentage)"
            )
    fold = _number(raw["strat_fold"])
    if fold is None or int(fold) not in FOLDS or fold != int(fold):
        raise DataError(f"{at}: strat_fold {raw['strat_fold']!r} is not one of 1-10")
    patient = _number(raw["patient_id"])
    if patient is None:
        raise DataError(f"{at}: patient_id {raw['patient_id']!r} is not a number")
    age = _number(raw["age"])
    sex = {"0": "M", "1": "F"}.get(raw["sex"].strip().split(".")[0])
    return Row(
        ecg_id,
        str(int(patient)),
        age if age is not None and 0 <= age < 300 else None,  # 300: an age over 89, masked
        sex,
        {str(k): float(v) for k, v in codes.items()},
        int(fold),
        {rate: raw[col].strip() for rate, col in RATES.items()},
    )


def task_labels(
    codes: dict[str, float],
    statements: dict[str, Statement],
    task: str,
    min_likelihood: float = 0.0,
) -> list[str]:
    """The sorted labels of one ECG for ``task`` (the benchmark's aggregation, see module doc)."""
    kept = [
        c for c, p in codes.items() if not (statements[c].diagnostic and p < min_likelihood)
    ]  # fmt: skip
    if task == "all":
        out = kept
    elif task == "diagnostic":
        out = [c for c in kept if statements[c].diagnostic]
    elif task == "subdiagnostic":
        out = [statements[c].subclass for c in kept if statements[c].diagnostic]
    elif task == "superdiagnostic":
        out = [statements[c].superclass for c in kept if statements[c].diagnostic]
    elif task in ("form", "rhythm"):
        out = [c for c in kept if getattr(statements[c], task)]
    else:
        raise DataError(f"task: unknown PTB-XL task {task!r} (choose {', '.join(TASKS)})")
    return sorted({x for x in out if x})


def label_groups(
    class_names: list[str], statements: dict[str, Statement], task: str
) -> dict[str, tuple[str, ...]]:
    """Label groups of a task from the statement hierarchy: diagnostic statements and
    subclasses by superclass; ``all`` by kind (diagnostic, form, rhythm); the superclasses,
    form and rhythm tasks are reported per label (no groups)."""
    groups: dict[str, list[str]] = {}
    for name in class_names:
        if task == "diagnostic":
            key = statements[name].superclass
        elif task == "subdiagnostic":
            key = next(s.superclass for s in statements.values() if s.subclass == name)
        elif task == "all":
            s = statements[name]
            key = "diagnostic" if s.diagnostic else "form" if s.form else "rhythm"
        else:
            return {}
        groups.setdefault(key, []).append(name)
    return {k: tuple(v) for k, v in groups.items()}


_GAIN = re.compile(r"^([-+0-9.eE]+)(?:\((-?\d+)\))?/mV$")


def read_format16(base: Path) -> Record | None:
    """A record in PTB-XL's own layout (every lead format 16 in one ``.dat``, gains in mV), read
    without wfdb's header parser, which costs ~30 ms a record (most of preparing 21,799 ECGs);
    the same float64 values as ``wfdb.rdrecord`` (``(adc - baseline) / gain``, -32768 invalid).
    Each lead's checksum is verified: a damaged ``.dat`` is one line naming it. None for any
    other layout (the caller reads it with wfdb)."""
    hea = base.with_suffix(".hea")
    try:
        lines = [ln.split() for ln in hea.read_text().splitlines() if ln.strip()]
    except OSError:
        return None
    lines = [f for f in lines if not f[0].startswith("#")]
    try:
        n_sig, fs, n = int(lines[0][1]), float(lines[0][2]), int(lines[0][3])
        sig = lines[1 : 1 + n_sig]
        gains = [_GAIN.match(f[2]) for f in sig]
        if len(sig) != n_sig or any(f[1] != "16" or f[0] != sig[0][0] for f in sig):
            return None
        if any(g is None for g in gains):
            return None
        gain = np.array([float(g.group(1)) for g in gains if g])
        baseline = np.array([int(g.group(2) or 0) for g in gains if g], dtype=np.float64)
        checks = [int(f[6]) & 0xFFFF for f in sig]
        names = [" ".join(f[8:]) for f in sig]
    except (IndexError, ValueError):
        return None
    dat = hea.parent / sig[0][0]
    raw = np.fromfile(dat, dtype="<i2")
    if raw.size != n * n_sig:
        raise DataError(f"{dat}: {raw.size} samples, the header declares {n} x {n_sig}")
    raw = raw.reshape(n, n_sig).T
    for lead, want in enumerate(checks):
        got = int(raw[lead].sum(dtype=np.int64)) & 0xFFFF
        if got != want:
            raise DataError(
                f"{dat}: lead {names[lead]} checksum {got}, the header says {want} (damaged file)"
            )
    signal = (raw.astype(np.float64) - baseline[:, None]) / gain[:, None]
    signal[raw == -32768] = np.nan
    return Record(name=base.name, database="ptbxl", signal=signal, fs=fs, lead_names=names)


class PtbxlReader:
    """The rows, statements and WFDB records of a PTB-XL release folder (or a partial copy)."""

    name = "ptbxl"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: PTB-XL folder not found")
        self.statements = load_statements(self.root / STATEMENTS_CSV)
        self.rows = self._read_rows(self.root / DB_CSV)

    def _read_rows(self, path: Path) -> list[Row]:
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                missing = [c for c in _DB_COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DataError(f"{path}: no column {', '.join(missing)}")
                rows = [parse_row(r, self.statements, str(path)) for r in reader]
        except FileNotFoundError:
            raise DataError(f"{path}: PTB-XL database table not found") from None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{path}: cannot read the database table ({exc})") from None
        if not rows:
            raise DataError(f"{path}: no ECG rows")
        ids = [r.ecg_id for r in rows]
        if len(set(ids)) != len(ids):
            dupe = next(i for i in ids if ids.count(i) > 1)
            raise DataError(f"{path}: ecg_id {dupe} appears more than once")
        return sorted(rows, key=lambda r: r.ecg_id)

    def list_records(self) -> list[str]:
        """The 100 Hz record paths (``records100/00000/00001_lr``), by ecg_id."""
        return [r.files[100] for r in self.rows]

    def base(self, row: Row, fs: int) -> Path:
        """The record's path (no extension) at rate ``fs``; a missing file is one line."""
        if fs not in RATES:
            raise DataError(f"fs: PTB-XL records are 100 or 500 Hz, not {fs:g}")
        base = self.root / row.files[fs]
        if not base.with_suffix(".hea").is_file() or not base.with_suffix(".dat").is_file():
            hint = "" if fs == 100 else " (records500/ is not in every copy: try fs 100)"
            raise DataError(
                f"{base}.hea/.dat: file missing for ecg_id {row.ecg_id} of {DB_CSV}{hint}"
            )
        return base

    def read_row(self, row: Row, fs: int = 100) -> Record:
        """Signal (12 leads, mV), statements (``labels``), age, sex and patient of one ECG."""
        from ecgzoo.readers.wfdb_io import read_wfdb

        base = self.base(row, fs)
        rec = read_format16(base) or read_wfdb(base, database="ptbxl", expected_fs=(float(fs),))
        rec.labels = sorted(row.scp_codes)
        rec.age, rec.sex, rec.patient = row.age, row.sex, row.patient_id
        return rec

    def read(self, record: str) -> Record:
        """One ECG by its record path (either rate) or its ecg_id."""
        for row in self.rows:
            for fs, rel in row.files.items():
                if record in (rel, str(row.ecg_id)):
                    return self.read_row(row, fs)
        raise DataError(f"{self.root}: no PTB-XL record {record!r} in {DB_CSV}")


def release_summary(root: Path) -> dict[str, object]:
    """What a fetched copy holds: table rows, records per rate on disk, ``RECORDS`` lines, and
    whether it is the whole 1.0.3 release (21,799 ECGs) or a partial copy."""
    listed = (root / "RECORDS").read_text().split() if (root / "RECORDS").is_file() else []
    per_rate = {}
    for fs, folder in ((100, "records100"), (500, "records500")):
        found = root / folder
        per_rate[fs] = sum(1 for _ in found.rglob("*.hea")) if found.is_dir() else 0
    rows = len(PtbxlReader(root).rows)
    return {
        "rows": rows,
        "listed": len(listed),
        "records": per_rate,
        "partial": rows < FULL_RECORDS,
        "full_records": FULL_RECORDS,
    }


def default_root() -> Path:
    """The fetched PTB-XL release (fetched on first use, from physionet.org or the mirror)."""
    from ecgzoo.fetch import physionet

    return Path(physionet.fetch(DATABASE, VERSION))
