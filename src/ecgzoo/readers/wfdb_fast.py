"""WFDB's two common layouts read with numpy alone: the same values as wfdb, without its cost.

Importing wfdb imports pandas (0.4 s of CPU); ``wfdb.rdrecord`` converts every lead of a
record to mV even when one is wanted, and ``wfdb.rdann`` decodes annotations in a Python loop
per byte pair (0.5 s for the 48 MIT-BIH records). ``ecgzoo data prepare`` and ``ecgzoo
annotate`` pay all of it on every call (issue 22). Here:

- :func:`signal_specs` parses a header's signal lines with wfdb's own regular expression and
  read defaults (baseline from ADC zero, gain 0 meaning 200, units mV);
- :func:`read_physical` decodes format 212 and 16 sample files (one file for all leads, one
  sample per frame, no skew) and converts them as ``wfdb``'s ``dac`` does: float64, minus the
  baseline, divided by the gain, the format's invalid value as NaN;
- :func:`read_mit_annotations` decodes MIT-format annotation files (beat and rhythm codes,
  SKIP, NUM/SUB/CHN and AUX fields).

Anything else (other formats, several files, a record defining its own labels or time
resolution in its annotations, a code outside wfdb's table) gives ``None``: the caller then
uses wfdb itself. ``tests/test_wfdb_fast.py`` checks equality with wfdb on every MIT-BIH and
SVDB record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# wfdb.io.header.rx_signal (wfdb 4.x), copied: importing it would import wfdb and pandas
_RX_SIGNAL = re.compile(
    r"""
    [ \t]* (?P<file_name>~?[-\w]*\.?[\w]*)
    [ \t]+ (?P<fmt>\d+)
           x?(?P<samps_per_frame>\d*)
           :?(?P<skew>\d*)
           \+?(?P<byte_offset>\d*)
    [ \t]* (?P<adc_gain>-?\d*\.?\d*e?[\+-]?\d*)
           \(?(?P<baseline>-?\d*)\)?
           /?(?P<units>[\w\^\-\?%\/]*)
    [ \t]* (?P<adc_res>\d*)
    [ \t]* (?P<adc_zero>-?\d*)
    [ \t]* (?P<init_value>-?\d*)
    [ \t]* (?P<checksum>-?\d*)
    [ \t]* (?P<block_size>\d*)
    [ \t]* (?P<sig_name>[\S]?[^\t\n\r\f\v]*)
    """,
    re.VERBOSE,
)
_INVALID = {212: -2048, 16: -32768}  # wfdb's _digi_nan: the format's "no sample" value

# wfdb.io.annotation.ann_label_table: storage code -> symbol
SYMBOLS = dict(enumerate(" NLRaVFJASEj/Q~")) | dict(
    zip(range(16, 42), '|?sT*D"=pB^t+u?![]en@xf()r', strict=True)
)
del SYMBOLS[17]  # 15 and 17 are not in wfdb's table
_SKIP, _NUM, _SUB, _CHN, _AUX, _NOTE = 59, 60, 61, 62, 63, 22


@dataclass(frozen=True)
class SignalSpec:
    """One signal line of a header, with wfdb's read defaults applied."""

    file_name: str
    fmt: int
    byte_offset: int
    gain: float
    baseline: int
    units: str
    name: str


def signal_specs(text: str) -> list[SignalSpec] | None:
    """The signal lines of a single-segment header; None where the fast path does not apply
    (several sample files, a format other than 212 or 16, several samples per frame, skew, a
    lead without a name)."""
    lines = [ln.strip() for ln in text.splitlines()]
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    if not body:
        return None
    record = body[0].split()
    if len(record) < 2 or "/" in record[0]:
        return None
    n_sig = int(record[1])
    specs = []
    for line in body[1 : 1 + n_sig]:
        m = _RX_SIGNAL.match(line)
        if m is None:
            return None
        g = m.groupdict()
        if g["fmt"] not in ("212", "16") or g["samps_per_frame"] not in ("", "1"):
            return None
        if g["skew"] not in ("", "0") or not g["sig_name"] or g["file_name"].startswith("~"):
            return None
        gain = float(g["adc_gain"]) if g["adc_gain"] else 200.0
        if g["baseline"]:
            baseline = int(g["baseline"])
        else:
            baseline = int(g["adc_zero"]) if g["adc_zero"] else 0
        specs.append(
            SignalSpec(
                g["file_name"],
                int(g["fmt"]),
                int(g["byte_offset"] or 0),
                200.0 if gain == 0 else gain,
                baseline,
                g["units"] or "mV",
                g["sig_name"],
            )
        )
    if len(specs) != n_sig or len({(s.file_name, s.fmt, s.byte_offset) for s in specs}) != 1:
        return None
    return specs


def _digital(path: Path, fmt: int, offset: int, first: int, count: int) -> np.ndarray:
    """``count`` samples of the interleaved stream from sample ``first`` (int16)."""
    if fmt == 16:
        raw = np.fromfile(path, dtype="<i2", count=count, offset=offset + 2 * first)
        return raw.astype(np.int16, copy=False)
    lead_in = first % 2  # 212 packs sample pairs in byte triplets: start on a pair
    start = first - lead_in
    n = count + lead_in
    n_pairs = -(-n // 2)
    raw = np.fromfile(path, dtype=np.uint8, count=3 * n_pairs, offset=offset + 3 * start // 2)
    if len(raw) < 3 * n_pairs:  # an odd last sample: its pair's third byte is not written
        raw = np.concatenate([raw, np.zeros(3 * n_pairs - len(raw), dtype=np.uint8)])
    b = raw.reshape(n_pairs, 3).astype(np.int16)
    out = np.empty(2 * n_pairs, dtype=np.int16)
    out[0::2] = b[:, 0] + 256 * (b[:, 1] & 0x0F)
    out[1::2] = b[:, 2] + 256 * ((b[:, 1] >> 4) & 0x0F)
    out[out > 2047] -= 4096
    return out[lead_in : lead_in + count]


def read_physical(
    folder: Path,
    specs: list[SignalSpec],
    start: int,
    stop: int,
    channels: list[int] | None = None,
) -> np.ndarray:
    """Samples ``[start, stop)`` of ``channels`` (default all) as ``(stop - start, n)`` float64
    mV, exactly as ``wfdb.rdrecord(..., physical=True)`` gives them; the file's size is the
    caller's to have checked (:func:`ecgzoo.readers.wfdb_io.check_header`)."""
    n_sig = len(specs)
    chans = list(range(n_sig)) if channels is None else list(channels)
    first = specs[0]
    d = _digital(folder / first.file_name, first.fmt, first.byte_offset, start * n_sig,
                 (stop - start) * n_sig).reshape(stop - start, n_sig)[:, chans]  # fmt: skip
    invalid = d == _INVALID[first.fmt]
    p = d.astype(np.float64)
    np.subtract(p, np.array([specs[c].baseline for c in chans]), p)
    np.divide(p, np.array([specs[c].gain for c in chans]), p)
    p[invalid] = np.nan
    return p


def read_mit_annotations(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(samples, symbols, aux_notes)`` of a MIT-format annotation file as ``wfdb.rdann``
    reads them; None for what only wfdb handles (label or time-resolution definitions, codes
    outside its table, two notes on one annotation, a file without its end mark).

    Vectorised: only the SKIP and AUX fields, which carry data words, are walked in Python."""
    raw = np.fromfile(path, dtype=np.uint8)
    words = raw[: len(raw) // 2 * 2].view("<u2").astype(np.int64)
    if len(words) == 0 or words[-1] != 0:
        return None
    code, data = words >> 10, words & 0x3FF
    payload = np.zeros(len(words), dtype=bool)  # data words of SKIP and AUX fields
    skip = np.zeros(len(words), dtype=np.int64)  # a SKIP's interval, at its first word
    notes: dict[int, str] = {}  # AUX word index -> its text
    end = -1
    for i in np.flatnonzero((code == _SKIP) | (code == _AUX)).tolist():
        if i <= end:
            continue  # inside an earlier field's data
        if code[i] == _SKIP:
            value = (int(words[i + 1]) << 16) | int(words[i + 2])
            skip[i] = value - (1 << 32) if value > 0x7FFFFFFF else value
            end = i + 2
        else:
            n = int(data[i])
            notes[i] = bytes(raw[2 * i + 2 : 2 * i + 2 + n]).decode("latin-1")
            end = i + (n + 1) // 2
        payload[i + 1 : end + 1] = True
    if end >= len(words) - 1:
        return None  # the last field runs into the end mark
    payload[-1] = True  # the end mark
    where = np.flatnonzero(~payload)
    kinds = code[where]
    is_ann = kinds < _SKIP
    n_ann = int(is_ann.sum())
    if n_ann == 0:
        return _empty() if len(where) == 0 else None
    ann_codes = kinds[is_ann]
    if np.any(ann_codes == 0) or not np.all(np.isin(ann_codes, list(SYMBOLS))):
        return None  # wfdb drops code-0 entries and may know more labels: leave it to it
    # each SKIP adds to the next annotation's time; each other field belongs to the one before
    owner = np.cumsum(is_ann) - 1  # the annotation each head word follows (or is), -1: none
    is_skip = kinds == _SKIP
    if np.any((owner < 0) & ~is_skip) or np.any(owner[is_skip] + 1 >= n_ann):
        return None  # a field before the first annotation, a SKIP after the last
    skip_sum = np.zeros(n_ann, dtype=np.int64)
    np.add.at(skip_sum, owner[is_skip] + 1, skip[where[is_skip]])
    samples = np.cumsum(data[where[is_ann]] + skip_sum)
    aux = np.full(len(samples), "", dtype=object)
    aux_heads = kinds == _AUX
    owners = owner[aux_heads]
    if len(set(owners.tolist())) != len(owners):
        return None
    for k, i in zip(owners.tolist(), where[aux_heads].tolist(), strict=True):
        aux[k] = notes[i]
    if np.any((ann_codes == _NOTE) & (samples == 0)):
        return None  # a definition note (time resolution, custom labels): wfdb's to read
    symbols = np.asarray([SYMBOLS[c] for c in ann_codes.tolist()], dtype="U2")
    return samples.astype(np.int64), symbols, np.asarray(aux.tolist(), dtype=str)


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype="U2"), np.zeros(0, dtype=str)
