"""WFDB annotation files (MIT format) written with numpy: the bytes ``wfdb.wrann`` writes.

``wfdb.wrann`` builds every annotation's bytes in a Python loop after deep-copying the
annotation object: 1.7 s for a day's 107k beats, the largest part of writing ``annotate``'s
outputs. Here only the sample differences and type codes are encoded (no ``num``, ``chan``,
``subtype`` or ``aux_note``, which ``annotate`` never writes); the sampling-rate block comes
from wfdb itself. The file is byte for byte what ``wfdb.wrann(..., fs=fs)`` writes (tested).

Format (``wfdb`` ``field2bytes``): each annotation is one 16-bit little-endian word, sample
difference in bits 0-9 and type code in bits 10-15; a difference over 1023 is a SKIP word
(code 59) followed by the difference as a 32-bit PDP-11 integer (high 16 bits first, each
little-endian), then the type word with difference 0. The file ends in a zero word.
"""

from __future__ import annotations

import numpy as np

SKIP_MAX = 0x7FFFFFFF
_END_SPECIAL = [0, 236, 255, 255, 255, 255, 1, 0]


def type_codes(symbols: list[str]) -> np.ndarray:
    """WFDB type code (``label_store``) of each symbol."""
    from wfdb.io.annotation import ann_label_table

    table = dict(zip(ann_label_table["symbol"], ann_label_table["label_store"], strict=True))
    lookup = {s: int(table[s]) for s in set(symbols)}
    return np.fromiter((lookup[s] for s in symbols), dtype=np.int64, count=len(symbols))


def core_bytes(samples: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The annotation words for ascending ``samples`` with type ``codes`` (uint8)."""
    samples = np.asarray(samples, dtype=np.int64)
    sd = np.diff(samples, prepend=0)
    if len(sd) and (sd.min() < 0 or sd.max() > SKIP_MAX):
        raise ValueError("annotation samples must ascend, less than 2**31 apart")
    big = sd > 1023
    size = np.where(big, 8, 2)
    start = np.cumsum(size) - size
    out = np.zeros(int(size.sum()), dtype=np.uint8)
    b = start[big]
    d = sd[big]
    out[b + 1] = 59 << 2
    out[b + 2] = (d >> 16) & 255
    out[b + 3] = (d >> 24) & 255
    out[b + 4] = d & 255
    out[b + 5] = (d >> 8) & 255
    word = start + np.where(big, 6, 0)
    small = np.where(big, 0, sd)
    out[word] = small & 255
    out[word + 1] = ((small & 768) >> 8) + 4 * codes
    return out


def annotation_file(name: str, samples: np.ndarray, symbols: list[str], fs: float) -> bytes:
    """The bytes ``wfdb.wrann(RECORD, EXT, samples, symbol=symbols, fs=fs)`` writes to
    ``name`` (``RECORD.EXT``)."""
    from wfdb.io.annotation import Annotation

    stem, ext = name.rsplit(".", 1)
    head = Annotation(stem, ext, np.asarray(samples[:1]), symbol=symbols[:1], fs=fs)
    fs_bytes = np.asarray(head.calc_fs_bytes(), dtype=np.uint8)
    special = np.asarray(_END_SPECIAL if len(fs_bytes) else [], dtype=np.uint8)
    body = core_bytes(samples, type_codes(symbols))
    return np.concatenate([fs_bytes, special, body, np.zeros(2, dtype=np.uint8)]).tobytes()
