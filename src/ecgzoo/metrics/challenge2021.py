"""The PhysioNet/CinC Challenge 2021 score, computed as the official program computes it.

Definition (Reyna et al. 2021; ``evaluate_model.py`` of physionetchallenges/evaluation-2021):

* The scored classes are the rows of ``weights.csv``; codes joined by ``|`` in one row
  (``713427006|59118001``, complete RBBB | RBBB) are one class, so a record labelled with either
  code is positive for it (equivalent classes merged).
* The *modified confusion matrix* ``A`` (labels by outputs) gives each record one unit of
  credit, shared among the classes that are positive in its labels or its outputs: record ``i``
  adds ``1 / max(|labels_i OR outputs_i|, 1)`` to ``A[j, k]`` for every labelled class ``j``
  and every output class ``k``.
* The raw score is ``sum(W * A)`` for the reward matrix ``W``; it is normalised so that the
  classifier that always outputs sinus rhythm (426783006) alone scores 0 and the one that
  outputs exactly the labels scores 1 (0 when those two coincide).

The arithmetic itself (``modified_confusion_matrix``, ``challenge_score``) sits with the
tables it weighs, in ``ecgzoo.readers.cinc2021_tables`` (the record reader needs the tables,
and a reader must not import a metric); it is re-exported here. Also here: the scored classes of
a record's ``# Dx:`` codes (a multi-hot vector) and the text of one record's output file in the
challenge format (what the official ``evaluate_model.py`` reads).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgzoo.errors import DataError
from ecgzoo.readers.cinc2021_tables import (
    SINUS_RHYTHM,
    ChallengeScoring,
    challenge_score,
    load_scoring,
    modified_confusion_matrix,
    scoring_dir,
)

__all__ = [
    "SINUS_RHYTHM",
    "ChallengeScoring",
    "challenge_output_text",
    "challenge_score",
    "dx_codes_from_header",
    "load_scoring",
    "modified_confusion_matrix",
    "scoring_dir",
]


def dx_codes_from_header(header: str | Path) -> list[str]:
    """The SNOMED CT codes of a 2021 header's ``# Dx:`` line (a path or the header's text)."""
    if isinstance(header, Path):
        try:
            text = header.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{header}: cannot read ({exc})") from None
    else:
        text = header
    for line in text.splitlines():
        stripped = line.lstrip("#").strip()
        if line.startswith("#") and stripped.lower().startswith("dx:"):
            return [c.strip() for c in stripped[3:].split(",") if c.strip()]
    where = header if isinstance(header, Path) else "header"
    raise DataError(f"{where}: no '# Dx:' line")


def challenge_output_text(
    record_id: str, scoring: ChallengeScoring, binary: np.ndarray, prob: np.ndarray
) -> str:
    """One record's output file in the challenge format (``<record id>.csv``).

    Four lines: ``#<record id>``, the classes (merged classes written ``a|b``, which the
    official loader splits), the binary outputs (0/1) and the probabilities.
    """
    b = np.asarray(binary).reshape(-1)
    p = np.asarray(prob, dtype=np.float64).reshape(-1)
    if len(b) != scoring.n_classes or len(p) != scoring.n_classes:
        raise ValueError(
            f"expected {scoring.n_classes} outputs per record, got {len(b)} and {len(p)}"
        )
    if not np.all(np.isfinite(p)):
        raise ValueError(f"record {record_id}: non-finite probability")
    lines = [
        f"#{record_id}",
        ",".join(scoring.names),
        ",".join("1" if v else "0" for v in b.astype(bool)),
        ",".join(f"{v:.6g}" for v in p),
    ]
    return "\n".join(lines) + "\n"
