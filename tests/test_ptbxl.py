"""PTB-XL on the mirror's 1,987 real ECGs: reader, label hierarchy, the official folds (and
that no patient crosses them), bad input, fetch (PhysioNet's layout and the partial mirror),
and a run trained on it scored by evaluate and applied by predict."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.datasets.ptbxl import PtbxlOptions, check_patients_disjoint, fold_table, load_ptbxl
from ecgzoo.errors import DataError
from ecgzoo.readers.ptbxl import PtbxlReader, label_groups, task_labels

# the mirror README's reference counts (diagnostic statements of any likelihood)
SUPERCLASSES = {"NORM": 1051, "STTC": 467, "CD": 410, "MI": 370, "HYP": 215}
FOLDS = [212, 178, 177, 193, 207, 156, 196, 171, 242, 255]


@pytest.fixture(scope="session")
def ptbxl_dir(test_home: Path, physionet_mirror: Path) -> Path:
    """The mirror's partial PTB-XL 1.0.3 fetched into the test home."""
    from ecgzoo.fetch.physionet import fetch

    return fetch("ptb-xl", "1.0.3", home=test_home, mirror=str(physionet_mirror), progress=False)


@pytest.fixture(scope="module")
def reader(ptbxl_dir: Path) -> PtbxlReader:
    return PtbxlReader(ptbxl_dir)


def test_reader_reads_a_real_record(reader: PtbxlReader) -> None:
    assert len(reader.rows) == 1987 and reader.rows[0].ecg_id == 1
    rec = reader.read("records100/00000/00001_lr")
    assert rec.fs == 100 and rec.signal.shape == (12, 1000)
    assert [n.upper() for n in rec.lead_names][:4] == ["I", "II", "III", "AVR"]
    assert rec.labels == ["LVOLT", "NORM", "SR"]
    assert (rec.patient, rec.sex, rec.age) == ("15709", "F", 56.0)
    # lead III = II - I (Einthoven), a check that the leads are the real, calibrated ones
    np.testing.assert_allclose(rec.signal[2], rec.signal[1] - rec.signal[0], atol=0.011)


def test_label_hierarchy_matches_the_reference_counts(reader: PtbxlReader) -> None:
    supers = Counter(
        c
        for r in reader.rows
        for c in task_labels(r.scp_codes, reader.statements, "superdiagnostic")
    )
    assert dict(supers) == SUPERCLASSES
    assert [sum(r.strat_fold == f for r in reader.rows) for f in range(1, 11)] == FOLDS
    codes = reader.rows[0].scp_codes  # {'NORM': 100, 'LVOLT': 0, 'SR': 0}
    got = {t: task_labels(codes, reader.statements, t) for t in ("all", "diagnostic", "form")}
    assert got == {"all": ["LVOLT", "NORM", "SR"], "diagnostic": ["NORM"], "form": ["LVOLT"]}
    assert task_labels(codes, reader.statements, "rhythm") == ["SR"]
    imi = {"IMI": 35.0, "ILMI": 100.0, "SR": 0.0}
    assert task_labels(imi, reader.statements, "subdiagnostic") == ["IMI"]
    assert task_labels(imi, reader.statements, "superdiagnostic") == ["MI"]
    # a likelihood threshold drops diagnostic statements only (form/rhythm ones carry 0)
    assert task_labels(imi, reader.statements, "all", min_likelihood=50) == ["ILMI", "SR"]
    groups = label_groups(["AMI", "CLBBB", "NORM"], reader.statements, "subdiagnostic")
    assert groups == {"MI": ("AMI",), "CD": ("CLBBB",), "NORM": ("NORM",)}
    assert label_groups(["CD", "MI"], reader.statements, "superdiagnostic") == {}


def test_official_folds_are_patient_disjoint(reader: PtbxlReader, ptbxl_dir: Path) -> None:
    folds = np.array([r.strat_fold for r in reader.rows])
    patients = np.array([r.patient_id for r in reader.rows])
    order = np.argsort(folds, kind="stable")
    ends = np.searchsorted(folds[order], [9, 10])
    parts = {
        "train": slice(0, ends[0]),
        "val": slice(ends[0], ends[1]),
        "test": slice(ends[1], None),
    }
    check_patients_disjoint(patients[order], parts, "ptbxl")  # every fold, not just a subset
    assert len(set(patients)) < len(patients)  # some patients have several ECGs: it matters
    mixed = patients[order].copy()
    mixed[-1] = mixed[0]  # a test ECG of a training patient
    with pytest.raises(DataError, match=f"patient {mixed[0]} is in both the train and the test"):
        check_patients_disjoint(mixed, parts, "ptbxl")
    table = fold_table(PtbxlOptions(), root=ptbxl_dir)
    assert [r["ECGs"] for r in table[:10]] == FOLDS
    assert {c: table[-1][c] for c in SUPERCLASSES} == SUPERCLASSES


@pytest.mark.slow
def test_load_gives_memory_mapped_official_splits(ptbxl_dir: Path, tmp_path: Path) -> None:
    options = PtbxlOptions(task="superdiagnostic", max_records=300)
    data = load_ptbxl(options, root=ptbxl_dir, cache_dir=tmp_path, workers=2)
    assert data.class_names == ["CD", "HYP", "MI", "NORM", "STTC"]
    assert data.meta["folds"] == {"train": list(range(1, 9)), "val": [9], "test": [10]}
    for split in (data.train, data.val, data.test):
        assert isinstance(split.x, np.memmap) and split.x.shape[1:] == (12, 1000)
        assert np.all(split.y.sum(axis=1) >= 1)  # ECGs without a diagnostic label are dropped
    n = len(data.train) + len(data.val) + len(data.test)
    assert n == 300 - dropped(ptbxl_dir, 300)
    # the rhythm task reuses the cached signals (one signals entry for both tasks)
    load_ptbxl(options.model_copy(update={"task": "rhythm"}), root=ptbxl_dir, cache_dir=tmp_path)
    assert len(list((tmp_path / "ptbxl-signals").glob("[!.]*"))) == 1


def dropped(root: Path, n: int) -> int:
    """ECGs among the first ``n`` without any diagnostic statement."""
    r = PtbxlReader(root)
    return sum(
        1 for row in r.rows[:n] if not task_labels(row.scp_codes, r.statements, "diagnostic")
    )


def small_copy(ptbxl_dir: Path, dest: Path, n: int = 5) -> Path:
    """A PTB-XL folder with the tables cut to ``n`` rows and those records."""
    dest.mkdir(parents=True)
    shutil.copy(ptbxl_dir / "scp_statements.csv", dest)
    lines = (ptbxl_dir / "ptbxl_database.csv").read_text().splitlines(keepends=True)
    (dest / "ptbxl_database.csv").write_text("".join(lines[: n + 1]))
    for row in PtbxlReader(dest).rows:
        for ext in (".hea", ".dat"):
            src = (ptbxl_dir / row.files[100]).with_suffix(ext)
            (dest / row.files[100]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, (dest / row.files[100]).with_suffix(ext))
    return dest


def edit_row(root: Path, ecg_id: int, old: str, new: str) -> None:
    path = root / "ptbxl_database.csv"
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    k = rows[0].index("scp_codes")
    row = next(r for r in rows if r[0] == str(ecg_id))
    assert old in row[k]
    row[k] = row[k].replace(old, new)
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_bad_input_is_one_line_naming_the_file(ptbxl_dir: Path, tmp_path: Path) -> None:
    root = small_copy(ptbxl_dir, tmp_path / "missing")
    (root / "records100/00000/00003_lr.dat").unlink()
    with pytest.raises(DataError) as err:
        load_ptbxl(PtbxlOptions(), root=root, cache_dir=tmp_path / "cache")
    assert "00003_lr.hea/.dat: file missing for ecg_id 3" in str(err.value)
    with pytest.raises(DataError, match="records500 is not in every copy|try fs 100"):
        load_ptbxl(PtbxlOptions(fs=500), root=root, cache_dir=tmp_path / "cache")

    root = small_copy(ptbxl_dir, tmp_path / "unknown")
    edit_row(root, 2, "'SBRAD'", "'XBRAD'")
    with pytest.raises(DataError) as err:
        PtbxlReader(root)
    text = str(err.value)
    assert "ptbxl_database.csv: ecg_id 2 (records100/00000/00002_lr)" in text
    assert "unknown SCP code 'XBRAD'" in text and "\n" not in text

    root = small_copy(ptbxl_dir, tmp_path / "likelihood")
    edit_row(root, 1, "'NORM': 100.0", "'NORM': 150.0")
    with pytest.raises(DataError, match=r"ecg_id 1 .*likelihood 150.0 of NORM is outside 0-100"):
        PtbxlReader(root)


def sums_of(root: Path) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SHA256SUMS.txt")
    return "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n"
        for p in files
    )


def test_fetch_from_physionet_layout_and_the_partial_mirror(
    ptbxl_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecgzoo.datasets.ptbxl import release_line
    from ecgzoo.fetch.physionet import fetch, fetch_summary
    from tests.test_physionet import leftovers, serve

    # physionet.org/files/ptb-xl/1.0.3/: tables, both rates, documents, SHA256SUMS.txt
    tree = tmp_path / "physionet.org" / "files" / "ptb-xl" / "1.0.3"
    small_copy(ptbxl_dir, tree, n=3)
    (tree / "RECORDS").write_text("".join(f"records100/00000/0000{i}_lr\n" for i in (1, 2, 3)))
    hr = tree / "records500" / "00000"
    hr.mkdir(parents=True)
    (hr / "00001_hr.hea").write_text("00001_hr 12 500 5000\n")
    (hr / "00001_hr.dat").write_bytes(b"\0" * 64)
    (tree / "example_physionet.py").write_text("# upstream's example\n")
    (tree / "SHA256SUMS.txt").write_text(sums_of(tree))
    home = tmp_path / "home"
    with serve(tmp_path / "physionet.org") as url:
        monkeypatch.setenv("ECGZOO_PHYSIONET_URL", url)
        root = fetch("ptb-xl", home=home, mirror="", include=["records100"], progress=False)
        assert not (root / "records500").exists()
        assert len(PtbxlReader(root).rows) == 3
        summary = fetch_summary("ptb-xl", home=home)
        assert summary["listed"] == 3 * 2 + 3 and summary["unverified"] == []
        root = fetch("ptb-xl", home=home, mirror="", progress=False)  # the rest, verified
    assert (root / "records500/00000/00001_hr.dat").is_file()
    assert (root / "example_physionet.py").is_file() and leftovers(home) == []
    assert "partial copy of PTB-XL 1.0.3: 3 of its 21,799 ECGs" in release_line(root)
    # the mirror: 1,987 ECGs at 100 Hz, every file against the mirror's own SHA256SUMS.txt
    summary = fetch_summary("ptb-xl", home=ptbxl_dir.parents[2])
    assert summary["listed"] == 1987 * 2 + 4 and summary["unverified"] == []
    line = release_line(ptbxl_dir)
    assert "partial copy" in line and "1,987 of its 21,799 ECGs" in line and "0 at 500 Hz" in line


@pytest.mark.slow
def test_a_ptbxl_run_is_evaluated_and_applied(ptbxl_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ecgzoo.cli import app
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.experiment import build_config
    from ecgzoo.train.engine import train_run

    tiny = {"n_blocks": 1, "width": 8, "kernel": 5, "stem_stride": 2, "stem_kernel": 7}
    config = build_config(
        {
            "name": "ptbxl_tiny",
            "output_dir": str(tmp_path),
            "data": {
                "dataset": "ptbxl",
                "ptbxl": {"task": "superdiagnostic", "max_records": 400, "random_crop_s": 2.5},
            },
            "model": {"name": "resnet1d", "params": tiny},
            "train": {
                "epochs": 1,
                "batch_size": 32,
                "max_steps_per_epoch": 3,
                "loss": "bce",
                "monitor": "val_macro_auroc",
                "device": "cpu",
            },
        }  # fmt: skip
    )
    data = load_data(config.data)
    result = train_run(config, data=data, progress=False)
    saved = json.loads((result.run_dir / "metrics.json").read_text())["test"]
    assert saved["n"] == len(data.test) and 0 <= saved["macro_auroc"] <= 1
    out = CliRunner().invoke(app, ["evaluate", str(result.run_dir), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["macro_auroc"] == pytest.approx(saved["macro_auroc"])
    records = tmp_path / "records"
    records.mkdir()
    for ext in (".hea", ".dat"):
        shutil.copy((ptbxl_dir / "records100/00000/00001_lr").with_suffix(ext), records)
    csv_out = tmp_path / "pred.csv"
    args = ["predict", str(records), "--model", str(result.run_dir), "--out", str(csv_out)]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(open(csv_out, newline="")))
    assert [r["record"] for r in rows] == ["00001_lr"] and "p_NORM" in rows[0]


def test_fast_reader_gives_wfdb_values_and_checks_the_checksum(
    reader: PtbxlReader, tmp_path: Path
) -> None:
    from ecgzoo.readers.ptbxl import read_format16
    from ecgzoo.readers.wfdb_io import read_wfdb

    for row in reader.rows[::150]:
        base = reader.base(row, 100)
        fast, slow = read_format16(base), read_wfdb(base, database="ptbxl")
        assert fast is not None and fast.lead_names == slow.lead_names and fast.fs == slow.fs
        np.testing.assert_array_equal(fast.signal, slow.signal)  # bit for bit
    base = reader.base(reader.rows[0], 100)
    for ext in (".hea", ".dat"):
        shutil.copy(base.with_suffix(ext), tmp_path)
    dat = tmp_path / base.with_suffix(".dat").name
    raw = bytearray(dat.read_bytes())
    raw[100] ^= 0x01  # one bit flipped
    dat.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"00001_lr.dat: lead .* checksum .* \(damaged file\)"):
        read_format16(tmp_path / base.name)
