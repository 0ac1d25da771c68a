"""PhysioNet/CinC Challenge 2021 (12-lead, multi-label): ``training/<source>/<group>/NAME``.

Each record is ``NAME.hea`` (12 leads; ``# Age:``, ``# Sex:``, ``# Dx:`` SNOMED CT codes,
comma-separated) + ``NAME.mat`` (MATLAB v4 ``val``, int16, read by wfdb as format 16 at byte
offset 24). Rates: 500 Hz (PTB: 1000 Hz, INCART: 257 Hz); another rate is refused.

Scored classes come from the official scoring tables (``weights.csv`` of
physionetchallenges/evaluation-2021): 26 classes, where codes joined by ``|`` (for example
``713427006|59118001``, complete and incomplete right bundle branch block) are ONE class. A
``# Dx:`` code that is in neither ``dx_mapping_scored.csv`` nor ``dx_mapping_unscored.csv`` is a
typo or a foreign file and is refused; unscored codes are kept in ``Record.labels`` and simply
give no positive.
"""

from __future__ import annotations

from pathlib import Path

from ecgzoo.errors import DataError
from ecgzoo.readers.cinc2021_tables import load_scoring
from ecgzoo.readers.records import Record
from ecgzoo.readers.wfdb_io import list_folder, read_wfdb

RATES = (257.0, 500.0, 1000.0)
VERSION = "1.0.3"


def parse_comments(comments: list[str], where: str) -> dict[str, str]:
    """``{"age": ..., "sex": ..., "dx": ...}`` from header comment lines (``Age: 81``)."""
    out: dict[str, str] = {}
    for line in comments:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("age", "sex", "dx"):
            out[key.strip().lower()] = value.strip()
    if "dx" not in out:
        raise DataError(f"{where}: no '# Dx:' line (the record's diagnoses)")
    return out


class Cinc2021Reader:
    """Records of a 2021 ``training`` folder (``<source>/<group>/NAME``), sources sorted."""

    name = "cinc2021"

    def __init__(
        self,
        root: str | Path,
        scoring_dir: str | Path,
        sources: list[str] | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: challenge-2021 training folder not found")
        self.classes = load_scoring(scoring_dir)
        self._index = self.classes.index_of()
        available = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        if sources is not None:
            unknown = [s for s in sources if s not in available]
            if unknown:
                raise DataError(
                    f"{self.root}: no source {', '.join(unknown)} "
                    f"(available: {', '.join(available)})"
                )
        self.sources = available if sources is None else list(sources)

    def list_records(self) -> list[str]:
        """``source/group/NAME`` of every record, sources and groups sorted."""
        out = []
        for source in self.sources:
            groups = sorted(p for p in (self.root / source).iterdir() if p.is_dir())
            for group in groups:
                out += [f"{source}/{group.name}/{n}" for n in list_folder(group, "cinc2021")]
        if not out:
            raise DataError(f"{self.root}: no challenge-2021 records found")
        return out

    def read(self, record: str) -> Record:
        """Signal (12 leads, mV), SNOMED codes (``labels``), age and sex of one record."""
        base = self.root / record
        rec = read_wfdb(base, database="cinc2021", expected_fs=RATES)
        hea = base.parent / f"{base.name}.hea"
        info = parse_comments(rec.comments, str(hea))
        rec.labels = self.codes(info["dx"], str(hea))
        rec.age = _age(info.get("age"))
        rec.sex = _sex(info.get("sex"))
        rec.patient = record.split("/")[0] + "/" + base.name
        return rec

    def codes(self, dx: str, where: str) -> list[str]:
        """The SNOMED codes of a ``# Dx:`` value; an unknown code is refused."""
        codes = [c.strip() for c in dx.split(",") if c.strip()]
        if not codes:
            raise DataError(f"{where}: empty '# Dx:' line")
        unknown = [c for c in codes if c not in self.classes.known]
        if unknown:
            raise DataError(
                f"{where}: unknown SNOMED CT code {unknown[0]} on the '# Dx:' line "
                "(in neither dx_mapping_scored.csv nor dx_mapping_unscored.csv)"
            )
        return codes

    def scored(self, codes: list[str]) -> list[int]:
        """Sorted indices of the scored classes among ``codes``."""
        return sorted({self._index[c] for c in codes if c in self._index})


def _age(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value == value and value >= 0 else None


def _sex(text: str | None) -> str | None:
    value = (text or "").strip().lower()
    return {"male": "M", "m": "M", "female": "F", "f": "F"}.get(value)


def default_paths() -> tuple[Path, Path]:
    """``(training folder, scoring folder)`` of the fetched challenge-2021 release (fetched on
    first use, from physionet.org or ``$ECGZOO_PHYSIONET_MIRROR``)."""
    from ecgzoo.fetch import physionet

    root = Path(physionet.fetch("challenge-2021", VERSION))
    return root / "training", root / "scoring"
