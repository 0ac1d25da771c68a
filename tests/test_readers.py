"""Readers, examples and new datasets on the real mirror: SVDB, the 2021 12-lead records,
any WFDB folder or signal file, and ``segment_beats`` (what ``annotate`` calls)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.datasets.cinc2021 import load_cinc2021
from ecgzoo.datasets.cinc2021_options import Cinc2021Options
from ecgzoo.datasets.mitbih import prepare_beats
from ecgzoo.datasets.mitbih_options import MitbihOptions
from ecgzoo.datasets.svdb import count_beats
from ecgzoo.errors import ConfigError, DataError
from ecgzoo.examples.beats import rr_features, segment_beats
from ecgzoo.examples.multilabel import multi_hot
from ecgzoo.experiment import build_config
from ecgzoo.readers import open_reader
from ecgzoo.readers.cinc2017 import Cinc2017Reader
from ecgzoo.readers.cinc2021 import Cinc2021Reader, parse_comments
from ecgzoo.readers.mitdb import MitdbReader
from ecgzoo.readers.records import DatabaseReader
from ecgzoo.readers.svdb import SvdbReader
from ecgzoo.readers.wfdb_folder import WfdbFolderReader, read_signal_file
from ecgzoo.readers.wfdb_io import header_comments

SVDB_TOTALS = {"N": 107_313, "S": 8_847, "V": 7_496, "F": 22, "Q": 42, "total": 123_720}
# data README: scored codes of the 149 mirrored 2021 records, counted over their # Dx: lines
CINC2021_DX = {
    "426783006": 34,  # NSR
    "427084000": 27,  # sinus tachycardia
    "284470004": 22,  # PAC
    "426177001": 16,  # sinus bradycardia
    "164934002": 16,  # T-wave abnormal
    "698252002": 10,  # NSIVCB
    "164889003": 9,  # AF
}
CINC2021_SOURCES = {
    "chapman_shaoxing": 11, "cpsc_2018": 11, "cpsc_2018_extra": 36, "georgia": 29,
    "ningbo": 30, "ptb": 10, "ptb-xl": 22,
}  # fmt: skip


def test_svdb_beat_counts_over_the_52_records(svdb_dir: Path) -> None:
    table = count_beats(svdb_dir)
    assert len(table) == 52 + 1
    assert table["all"] == SVDB_TOTALS


def test_every_reader_follows_the_protocol(
    mitdb_dir: Path, svdb_dir: Path, cinc2017_dir: Path, cinc2021_dirs: tuple[Path, Path]
) -> None:
    readers = [
        open_reader("mitdb", mitdb_dir),
        open_reader("svdb", svdb_dir),
        open_reader(
            "cinc2017", cinc2017_dir / "training2017", reference=cinc2017_dir / "REFERENCE-v3.csv"
        ),
        open_reader("cinc2021", cinc2021_dirs[0], scoring=cinc2021_dirs[1]),
        open_reader("wfdb-folder", svdb_dir),
    ]
    assert [type(r) for r in readers] == [
        MitdbReader, SvdbReader, Cinc2017Reader, Cinc2021Reader, WfdbFolderReader
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="nosuch"):
        open_reader("nosuch")
    for reader in readers:
        assert isinstance(reader, DatabaseReader)
        rec = reader.read(reader.list_records()[0])
        assert rec.signal.ndim == 2 and rec.signal.shape[0] == len(rec.lead_names)
        assert rec.n_samples > 0 and rec.fs > 0 and np.isfinite(rec.signal).all()
    svdb = SvdbReader(svdb_dir).read("802")
    assert svdb.fs == 128.0 and svdb.lead_names == ["ECG1", "ECG2"]
    assert len(svdb.beat_samples) == len(svdb.beat_symbols) > 1000
    mit = MitdbReader(mitdb_dir).read("203")
    assert "(AFL" in set(mit.rhythm_labels.tolist())  # rhythm annotations with their aux note


def test_cinc2021_headers(cinc2021_dirs: tuple[Path, Path]) -> None:
    reader = Cinc2021Reader(*cinc2021_dirs)
    names = reader.list_records()
    assert len(names) == 149
    assert Counter(n.split("/")[0] for n in names) == CINC2021_SOURCES
    dx: Counter[str] = Counter()
    rates: Counter[str] = Counter()
    for name in names:  # headers only: fast
        hea = cinc2021_dirs[0] / f"{name}.hea"
        dx.update(reader.codes(parse_comments(header_comments(hea), str(hea))["dx"], str(hea)))
        rates[hea.read_text().split()[2]] += 1
    assert {code: dx[code] for code in CINC2021_DX} == CINC2021_DX
    assert rates == {"500": 139, "1000": 10}
    assert len(reader.classes.abbreviations) == 26
    joined = [c for c in reader.classes.abbreviations if "|" in c]
    assert joined == ["CLBBB|LBBB", "CRBBB|RBBB", "PAC|SVPB", "PVC|VPB"]


def test_cinc2021_record_and_one_class_per_joined_codes(cinc2021_dirs: tuple[Path, Path]) -> None:
    reader = Cinc2021Reader(*cinc2021_dirs)
    rec = reader.read("ptb/g1/S0001")
    assert rec.fs == 1000.0 and rec.signal.shape == (12, 38_400)
    assert rec.lead_names[:3] == ["I", "II", "III"] and rec.lead_names[-1] == "V6"
    assert rec.age == 81 and rec.sex == "F" and rec.labels == ["251146004", "426783006"]
    # complete and incomplete RBBB are ONE scored class: one positive, not two
    both = reader.scored(["713427006", "59118001"])
    assert len(both) == 1 and reader.classes.abbreviations[both[0]] == "CRBBB|RBBB"
    assert multi_hot([both], 26).sum() == 1.0


def test_cinc2021_dataset(cinc2021_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    options = Cinc2021Options(sources=["ptb", "georgia"], length_s=12.0, fs=250.0)
    data = load_cinc2021(options, root=cinc2021_dirs[0], scoring=cinc2021_dirs[1],
                         cache_dir=tmp_path)  # fmt: skip
    n = len(data.train) + len(data.val) + len(data.test)
    assert n == 39 and data.meta["multilabel"]
    assert data.train.x.shape[1:] == (12, 3000) and data.train.x.dtype == np.float32
    assert data.train.y.shape[1] == 26 and set(np.unique(data.train.y)) <= {0.0, 1.0}
    lengths = sum(data.meta["lengths"].values(), [])
    assert max(lengths) == 3000 and min(lengths) == 2500  # 10 s georgia records: real 2500
    groups = np.concatenate([data.split(s).groups for s in ("train", "val", "test")])
    assert len(set(groups.tolist())) == n  # one record, one split


def test_segment_beats_cuts_exactly_like_the_dataset(mitdb_dir: Path, tmp_path: Path) -> None:
    """Detected peaks go through the very code the training beats came from."""
    rec = MitdbReader(mitdb_dir).read("100")
    from ecgzoo.examples.beats import aami_labels

    peaks, _ = aami_labels(rec.beat_samples, rec.beat_symbols)
    for options in (MitbihOptions(records=["100"]), MitbihOptions(records=["100"],
                    segmentation="centered")):  # fmt: skip
        ref = prepare_beats(mitdb_dir, options, cache_dir=tmp_path)
        x, rr, kept = segment_beats(rec.signal[0], rec.fs, peaks, options)
        np.testing.assert_array_equal(x, ref["x"])
        np.testing.assert_array_equal(rr, ref["rr"])
        np.testing.assert_array_equal(peaks[kept], ref["sample"])
    assert rr_features(peaks, rec.fs).shape == (len(peaks), 8)


def test_wfdb_folder_without_annotations_and_signal_files(svdb_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for ext in (".hea", ".dat"):
        shutil.copy(svdb_dir / f"802{ext}", folder / f"802{ext}")
    reader = WfdbFolderReader(folder)
    assert reader.list_records() == ["802"]
    rec = reader.read("802")
    assert len(rec.beat_samples) == 0 and rec.signal.shape == (2, 230_400)

    np.save(tmp_path / "sig.npy", rec.signal[:, :1000])
    from_npy = read_signal_file(tmp_path / "sig.npy", fs=128)
    np.testing.assert_array_equal(from_npy.signal, rec.signal[:, :1000])
    csv = tmp_path / "sig.csv"
    csv.write_text("MLII,V1\n" + "\n".join(f"{a},{b}" for a, b in rec.signal[:, :50].T))
    from_csv = read_signal_file(csv, fs=128)
    assert from_csv.lead_names == ["MLII", "V1"] and from_csv.signal.shape == (2, 50)
    with pytest.raises(DataError, match="sig.csv.*positive sampling rate"):
        read_signal_file(csv, fs=0)


def test_cross_field_rules_are_refused_when_the_config_loads() -> None:
    for override, needle in (
        ("data.cinc2017.random_crop_s=90", "random_crop_s"),
        ("data.cinc2021.random_crop_s=20", "random_crop_s"),
        ("data.mitbih.pad_to=150", "pad_to"),
    ):
        with pytest.raises(ConfigError, match=needle):
            build_config({}, [override])
    with pytest.raises(ConfigError, match="shorter than a beat"):
        build_config({}, ["data.svdb.segmentation=centered", "data.svdb.before_s=0.02",
                          "data.svdb.after_s=0.03"])  # fmt: skip


@pytest.mark.slow  # prepares all 149 12-lead records on a cold cache
def test_data_info_multilabel_and_out_on_a_file(
    cinc2021_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from ecgzoo.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["data", "info", "cinc2021", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "positives per label" in result.output
    for png in ("class_distribution", "example_recordings"):
        assert (tmp_path / f"challenge-2021_{png}.png").read_bytes()[:4] == b"\x89PNG"
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = runner.invoke(app, ["data", "info", "svdb", "--out", str(afile)])
    assert result.exit_code != 0 and "exists and is not a folder" in str(result.exception)
