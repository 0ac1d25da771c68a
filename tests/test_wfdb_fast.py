"""The numpy WFDB path (``ecgzoo.readers.wfdb_fast``) gives wfdb's own values, bit for bit, on
every record it takes; what it does not take falls back to wfdb."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.readers import wfdb_io
from ecgzoo.readers.wfdb_fast import read_mit_annotations, read_physical, signal_specs

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import wfdb


def _records(folder: Path) -> list[str]:
    return (folder / "RECORDS").read_text().split()


def _same_signal(folder: Path, name: str) -> None:
    specs = signal_specs((folder / f"{name}.hea").read_text())
    assert specs is not None, name
    ref = wfdb.rdrecord(str(folder / name), physical=True)
    fast = read_physical(folder, specs, 0, ref.sig_len)
    assert fast.dtype == ref.p_signal.dtype and fast.shape == ref.p_signal.shape
    assert np.array_equal(fast, ref.p_signal, equal_nan=True), name
    assert [s.name for s in specs] == ref.sig_name and [s.units for s in specs] == ref.units
    for start, stop, chans in ((0, 1, [1]), (1, 7777, [1]), (12345, ref.sig_len, [0])):
        part = wfdb.rdrecord(
            str(folder / name), sampfrom=start, sampto=stop, channels=chans, physical=True
        ).p_signal
        got = read_physical(folder, specs, start, stop, chans)
        assert np.array_equal(got, part, equal_nan=True), (name, start, stop)


def _same_annotations(folder: Path, name: str, extension: str = "atr") -> bool:
    """Equal to wfdb when the fast path takes the file (True), and through read_annotations
    either way."""
    ann = wfdb.rdann(str(folder / name), extension)
    fast = read_mit_annotations(folder / f"{name}.{extension}")
    if fast is None:  # left to wfdb: read_annotations must still give wfdb's values
        fast = wfdb_io.read_annotations(folder / name, extension)
    samples, symbols, aux = fast
    assert np.array_equal(samples, np.asarray(ann.sample, dtype=np.int64)), name
    assert symbols.tolist() == list(ann.symbol), name
    # as read_annotations returns them (a numpy array of str: trailing NULs dropped)
    assert aux.tolist() == np.asarray([a or "" for a in ann.aux_note]).tolist(), name
    return read_mit_annotations(folder / f"{name}.{extension}") is not None


def test_every_mitdb_record_reads_as_wfdb_reads_it(mitdb_dir):
    for name in _records(mitdb_dir):
        _same_signal(mitdb_dir, name)
        assert _same_annotations(mitdb_dir, name), name  # every one on the fast path


@pytest.mark.slow
def test_every_svdb_record_reads_as_wfdb_reads_it(svdb_dir):
    fast = 0
    for name in _records(svdb_dir):
        _same_signal(svdb_dir, name)
        fast += _same_annotations(svdb_dir, name)
    assert fast >= 40  # a few open with a note at sample 0 (a definition, for wfdb to read)


def test_read_wfdb_and_read_annotations_take_the_fast_path(mitdb_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("wfdb was called")

    monkeypatch.setattr(wfdb, "rdrecord", refuse)
    monkeypatch.setattr(wfdb, "rdann", refuse)
    rec = wfdb_io.read_wfdb(mitdb_dir / "208")
    samples, symbols, _ = wfdb_io.read_annotations(mitdb_dir / "208")
    assert rec.lead_names == ["MLII", "V1"] and rec.signal.shape == (2, 650000)
    assert len(samples) == len(symbols) > 2900


def test_other_layouts_fall_back_to_wfdb(tmp_path, mitdb_dir):
    sig = np.round(np.sin(np.arange(4000) / 30)[:, None] * [1.0, 0.5], 3)
    wfdb.wrsamp("r8", fs=250, units=["mV", "mV"], sig_name=["I", "II"], p_signal=sig,
                fmt=["80", "80"], write_dir=str(tmp_path))  # fmt: skip
    assert signal_specs((tmp_path / "r8.hea").read_text()) is None  # format 80: wfdb's
    rec = wfdb_io.read_wfdb(tmp_path / "r8")
    ref = wfdb.rdrecord(str(tmp_path / "r8"))
    assert np.array_equal(rec.signal, ref.p_signal.T)
    # an annotation file opening with a definition note (time resolution) is left to wfdb
    wfdb.wrann("r8", "atr", np.array([100, 300]), np.array(["N", "V"]), fs=500,
               write_dir=str(tmp_path))  # fmt: skip
    assert read_mit_annotations(tmp_path / "r8.atr") is None
    samples, symbols, _ = wfdb_io.read_annotations(tmp_path / "r8")
    assert samples.tolist() == [100, 300] and symbols.tolist() == ["N", "V"]


def test_annotating_a_record_is_the_same_through_numpy_and_wfdb(mitdb_dir):
    """``annotate`` before (wfdb reads each chunk) and after (numpy): the same beats, labels
    and probabilities on record 208 (PVCs, fusion beats), read in 10-minute chunks."""
    from dataclasses import replace

    from ecgzoo.apply.annotate import annotate_source
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.signals import open_source

    model = load_model("pretrained:mitbih-inter")
    fast = open_source(mitdb_dir / "208")
    assert fast.specs is not None
    a = annotate_source(fast, model, chunk_s=600.0)
    b = annotate_source(replace(fast, specs=None), model, chunk_s=600.0)
    assert np.array_equal(a.samples, b.samples) and np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.prob, b.prob, equal_nan=True)
    assert a.quality.spans == b.quality.spans and len(a.samples) > 2900


def test_skips_notes_and_subtypes_decode_as_wfdb_decodes_them(tmp_path):
    """A first annotation past sample 1023 (a SKIP first), gaps of hours, notes of odd and even
    length, NUM/SUB/CHN fields: the numpy decoder gives wfdb's values."""
    samples = np.array([5000, 5100, 5100 + 3 * 3600 * 360, 5100 + 3 * 3600 * 360 + 400, 2**31])
    symbols = ["N", "+", "V", "~", "N"]
    aux = ["", "(AFIB", "", "(N", ""]
    wfdb.wrann("r", "atr", samples, np.array(symbols), subtype=np.array([0, 0, 2, 0, 1]),
               chan=np.array([0, 1, 0, 0, 0]), num=np.array([0, 0, 3, 0, 0]),
               aux_note=aux, write_dir=str(tmp_path))  # fmt: skip
    fast = read_mit_annotations(tmp_path / "r.atr")
    assert fast is not None
    ann = wfdb.rdann(str(tmp_path / "r"), "atr")
    assert fast[0].tolist() == ann.sample.tolist() == samples.tolist()
    assert fast[1].tolist() == ann.symbol == symbols
    assert fast[2].tolist() == [a or "" for a in ann.aux_note] == aux


def test_beats_prepared_on_threads_equal_one_at_a_time(mitdb_two):
    """Beat preparation maps records over threads (``ordered_map(threads=True)``): the same
    arrays, in the same order, as preparing the records one after the other."""
    from ecgzoo.datasets.beatset import build_arrays
    from ecgzoo.examples.beats import beat_settings
    from ecgzoo.readers.mitdb import MitdbReader

    class Options:
        segmentation, pad_to = "kachuee", None

    settings = beat_settings(Options())
    reader = MitdbReader(mitdb_two)
    names = ["100", "208", "100"]
    one = build_arrays(reader, names, settings, workers=1)
    two = build_arrays(reader, names, settings, workers=2)
    assert one.keys() == two.keys()
    for key in one:
        assert one[key].dtype == two[key].dtype and np.array_equal(one[key], two[key]), key
