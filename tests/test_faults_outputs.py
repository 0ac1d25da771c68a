"""Issue 23: predict on the challenge's layout, safe CSV, partial failures, the CLI's one line."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sys
import time
import zipfile
from pathlib import Path

import pytest

from ecgzoo.errors import DataError


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``ecgzoo ARGS`` in this process, through the real entry point (``main``)."""
    from ecgzoo.cli import main

    monkeypatch.setattr(sys, "argv", ["ecgzoo", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), out, err


def _copy(src: Path, name: str, folder: Path, as_name: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".hea", ".mat"):
        text = (src / f"{name}{suffix}").read_bytes()
        if as_name and suffix == ".hea":
            text = text.replace(name.encode(), as_name.encode(), 1)
        (folder / f"{as_name or name}{suffix}").write_bytes(text)


@pytest.fixture(scope="module")
def rhythm_model():
    from ecgzoo.apply.model import load_model

    return load_model("pretrained:cinc2017")


# -- item 9: predict ------------------------------------------------------------------------------


def test_predict_reads_the_challenge_zip_layout(cinc2017_dir, tmp_path, rhythm_model):
    """training2017/REFERENCE.csv and RECORDS beside the records are not records."""
    from ecgzoo.apply.predict import predict_records

    src = cinc2017_dir / "training2017"
    archive = tmp_path / "training2017.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n in ("A00001", "A00003"):
            for suffix in (".hea", ".mat"):
                zf.write(src / f"{n}{suffix}", f"training2017/{n}{suffix}")
        zf.writestr("training2017/REFERENCE.csv", "A00001,N\nA00002,N\n")
        zf.writestr("training2017/RECORDS", "A00001\nA00002\n")
    rows = predict_records(archive, rhythm_model)
    assert [r["record"] for r in rows] == ["A00001", "A00003"]


def test_predict_refuses_one_name_from_two_members(cinc2017_dir, tmp_path, rhythm_model):
    from ecgzoo.apply.predict import predict_records

    src = cinc2017_dir / "training2017"
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for folder, n in (("a", "A00001"), ("b", "A00004")):
            for suffix in (".hea", ".mat"):
                data = (src / f"{n}{suffix}").read_bytes().replace(b"A00004", b"A00001")
                zf.writestr(f"{folder}/A00001{suffix}", data)
    with pytest.raises(DataError, match=r"a/A00001\.hea and b/A00001\.hea"):
        predict_records(archive, rhythm_model)


def test_predict_zip_bomb_is_refused_and_leaves_nothing(tmp_path, rhythm_model):
    import tempfile

    from ecgzoo.apply.predict import predict_records

    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("A00001.hea", "A00001 1 300 9000\nA00001.mat 16+24 1000/mV 16 0 0 0 0 ECG\n")
        zf.writestr("A00001.mat", b"\0" * (32 << 20))  # 32 MB of zeros: a 32 KB member
    assert archive.stat().st_size < 100_000
    before = set(Path(tempfile.gettempdir()).glob("ecgzoo-predict-*"))
    with pytest.raises(DataError, match=r"A00001\.mat expands \d+ times"):
        predict_records(archive, rhythm_model)
    assert set(Path(tempfile.gettempdir()).glob("ecgzoo-predict-*")) == before


def test_fetch_extraction_caps_a_bomb(tmp_path):
    from ecgzoo.fetch.transfer import extract_members

    archive = tmp_path / "mirror.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("db/RECORDS", "100\n")
        zf.writestr("db/100.dat", b"\0" * (32 << 20))
    root = tmp_path / "out"
    root.mkdir()
    with zipfile.ZipFile(archive) as zf, pytest.raises(DataError, match="expands"):
        extract_members(zf, root.resolve(), "mirror.zip", progress=False)
    assert not any(root.rglob("100.dat"))  # refused before a byte was written


@pytest.mark.parametrize("kind", ["corrupt", "encrypted", "not a zip"])
def test_bad_zips_in_predict_are_one_line(tmp_path, cinc2017_dir, rhythm_model, kind):
    from ecgzoo.apply.predict import predict_records

    archive = tmp_path / "bad.zip"
    src = cinc2017_dir / "training2017"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(src / "A00001.hea", "A00001.hea")
        zf.write(src / "A00001.mat", "A00001.mat")
    data = bytearray(archive.read_bytes())
    if kind == "corrupt":
        at = data.index(b"A00001.mat") + 200
        data[at : at + 64] = bytes(64)
    elif kind == "encrypted":
        at = 0
        while (at := data.find(b"PK\x03\x04", at)) >= 0:  # set the encrypted flag bit
            data[at + 6] |= 1
            at += 4
        at = 0
        while (at := data.find(b"PK\x01\x02", at)) >= 0:
            data[at + 8] |= 1
            at += 4
    else:
        data = bytearray(b"not a zip at all")
    archive.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"bad\.zip"):
        predict_records(archive, rhythm_model)


def test_predict_csv_is_quoted_and_formula_safe():
    from ecgzoo.apply.predict import rows_csv

    rows = [
        {"record": "a,b", "label": "N", "p_N": 0.9},
        {"record": '=HYPERLINK("http://x")', "label": "N", "p_N": 0.1},
        {"record": "@cmd", "label": "-1+2", "p_N": 0.5},
    ]
    parsed = list(csv.reader(io.StringIO(rows_csv(rows))))
    assert parsed[0] == ["record", "label", "p_N"]
    assert [len(r) for r in parsed] == [3, 3, 3, 3]
    assert parsed[1][0] == "a,b"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in parsed for cell in row)
    assert parsed[2][0] == '\'=HYPERLINK("http://x")'


def test_one_bad_record_keeps_the_others(cinc2017_dir, tmp_path, monkeypatch, capsys):
    src = cinc2017_dir / "training2017"
    folder = tmp_path / "recs"
    for name in ("A00001", "A00003", "A00004"):
        _copy(src, name, folder)
    (folder / "A00003.mat").write_bytes(b"\0" * 10)  # truncated
    out = tmp_path / "labels.csv"
    code, _, err = run_cli(monkeypatch, capsys, "predict", str(folder), "--out", str(out))
    assert code != 0
    assert "A00003" in err and "1 of 3 records failed" in err
    rows = list(csv.DictReader(out.open()))
    assert [r["record"] for r in rows] == ["A00001", "A00004"]


def test_predict_takes_the_rate_of_a_csv_it_asks_for(mitdb_two, tmp_path, monkeypatch, capsys):
    """``predict`` told a CSV's user to "pass --fs", an option it did not have."""
    import numpy as np
    import wfdb

    rec = wfdb.rdrecord(str(mitdb_two / "100"), sampto=360 * 40)
    path = tmp_path / "x.csv"
    np.savetxt(path, rec.p_signal, delimiter=",", header="MLII,V5", comments="")
    code, _, err = run_cli(monkeypatch, capsys, "predict", str(path))
    assert code != 0 and "pass --fs" in err
    out = tmp_path / "labels.csv"
    args = ("predict", str(path), "--fs", "360", "--out", str(out))
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert [r["record"] for r in rows] == ["x"] and rows[0]["label"] in ("N", "A", "O", "~")


def _annotate_folder(mitdb_two: Path, folder: Path) -> None:
    """100 (good), 208 (its .dat cut short), 300 (a header whose .dat is missing) and 999 (a
    good copy of 100 after the two bad ones)."""
    import re

    folder.mkdir()
    for ext in (".hea", ".dat", ".atr"):
        shutil.copy(mitdb_two / f"100{ext}", folder / f"100{ext}")
        shutil.copy(mitdb_two / f"208{ext}", folder / f"208{ext}")
        shutil.copy(mitdb_two / f"100{ext}", folder / f"999{ext}")
    (folder / "208.dat").write_bytes((mitdb_two / "208.dat").read_bytes()[:100_000])
    header = (mitdb_two / "100.hea").read_text()
    (folder / "999.hea").write_text(re.sub(r"\b100\b", "999", header))
    (folder / "300.hea").write_text(re.sub(r"\b100\b", "300", header))


def test_annotate_one_bad_record_keeps_the_others(mitdb_two, tmp_path, monkeypatch, capsys):
    """A folder is annotated to its end: the records after a bad one are still done, each
    failure is named on one line and the exit status says some failed."""
    folder, out = tmp_path / "recs", tmp_path / "out"
    _annotate_folder(mitdb_two, folder)
    code, _, err = run_cli(
        monkeypatch, capsys, "annotate", str(folder), "--out", str(out), "--no-plots"
    )
    assert code != 0 and "Traceback" not in err
    assert "2 of 4 records failed (2 annotated)" in err
    assert "failed: 208:" in err and "truncated" in err and "failed: 300:" in err
    assert (out / "100.ecgzoo.csv").is_file() and (out / "999.ecgzoo.csv").is_file()
    assert not list(out.glob("208*")) and not list(out.glob("300*"))
    # the record after the two failures is annotated as the same signal was before them
    assert (out / "999.ecgzoo.csv").read_text() == (out / "100.ecgzoo.csv").read_text()


def test_annotate_api_tries_every_record_before_raising(mitdb_two, tmp_path):
    import ecgzoo

    folder, out = tmp_path / "recs", tmp_path / "out"
    _annotate_folder(mitdb_two, folder)
    failures: list[tuple[str, str]] = []
    done = ecgzoo.annotate(folder, out_dir=out, plots=False, failures=failures)
    assert [r.summary["record"] for r in done] == ["100", "999"]
    assert [name for name, _ in failures] == ["208", "300"]
    with pytest.raises(DataError, match="2 of 4 records failed"):
        ecgzoo.annotate(folder, write=False)
    with pytest.raises(DataError, match="truncated"):  # one record: its own error
        ecgzoo.annotate(folder / "208", write=False)


def test_a_missing_reference_does_not_cost_the_annotation(mitdb_two, tmp_path):
    """``--reference atr`` on a record without ``.atr``: the record is named as failed, but
    its annotation, done before the scoring, is written."""
    import ecgzoo

    folder, out = tmp_path / "recs", tmp_path / "out"
    _annotate_folder(mitdb_two, folder)
    for name in ("208", "300"):
        for path in folder.glob(f"{name}.*"):
            path.unlink()
    (folder / "999.atr").unlink()
    failures: list[tuple[str, str]] = []
    done = ecgzoo.annotate(folder, out_dir=out, plots=False, reference="atr", failures=failures)
    assert [r.summary["record"] for r in done] == ["100"] and done[0].score is not None
    assert failures == [("999", f"{folder / '999.atr'}: file not found")]
    assert (out / "999.ecgzoo.csv").read_text() == (out / "100.ecgzoo.csv").read_text()


# -- the CLI's one line ---------------------------------------------------------------------------


def test_rich_markup_in_a_path_prints_as_text(tmp_path, monkeypatch, capsys):
    weird = tmp_path / "a[/x]b[bold]"
    code, _, err = run_cli(monkeypatch, capsys, "evaluate", str(weird))
    assert code == 2
    assert "[/x]b[bold]" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_sigterm_unwinds_and_exits_143(monkeypatch, capsys, tmp_path):
    """The CLI turns SIGTERM into an exception: ``finally`` runs, the exit status is 143."""
    import ecgzoo.cli as cli

    marker = tmp_path / "cleaned"

    def work():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        finally:
            marker.touch()

    monkeypatch.setattr(cli, "app", work)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        code, _, err = run_cli(monkeypatch, capsys)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 143 and "terminated" in err and marker.exists()


def test_a_folder_as_output_file_is_one_line(tmp_path, monkeypatch, capsys):
    taken = tmp_path / "r.html"
    taken.mkdir()
    code, _, err = run_cli(
        monkeypatch, capsys, "report", "src/ecgzoo/pretrained/mitbih-inter", "--out", str(taken)
    )
    assert code == 2 and "Traceback" not in err and "r.html" in err
    assert len(err.strip().splitlines()) == 1


def test_copy_helper_keeps_names(tmp_path, cinc2017_dir):
    _copy(cinc2017_dir / "training2017", "A00001", tmp_path, "B1")
    assert (tmp_path / "B1.hea").read_text().startswith("B1 ")
    shutil.rmtree(tmp_path)


# -- item 10: other silent outcomes ---------------------------------------------------------------


def _records_100_and_truncated_119(mitdb_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "recs"
    folder.mkdir()
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copy(mitdb_dir / f"100{suffix}", folder / f"100{suffix}")
        shutil.copy(mitdb_dir / f"119{suffix}", folder / f"119{suffix}")
    (folder / "119.dat").write_bytes((folder / "119.dat").read_bytes()[:3000])  # truncated
    return folder


def test_evaluate_data_lists_skipped_records_in_text(mitdb_dir, tmp_path, monkeypatch, capsys):
    folder = _records_100_and_truncated_119(mitdb_dir, tmp_path)
    code, out, err = run_cli(
        monkeypatch, capsys, "evaluate", "pretrained:mitbih-inter", "--data", str(folder)
    )
    # the figures of record 100 are out, then a non-zero exit names the record not scored
    assert code != 0 and "Traceback" not in err
    assert "1 record(s) skipped" in out and "119" in out and "accuracy" in out
    assert "1 of 2 records could not be scored (the figures are over the other 1)" in err
    assert "119" in err and len(err.strip().splitlines()) == 1


def test_evaluate_data_json_keeps_its_figures_and_exits_non_zero(
    mitdb_dir, tmp_path, monkeypatch, capsys
):
    folder = _records_100_and_truncated_119(mitdb_dir, tmp_path)
    code, out, err = run_cli(
        monkeypatch, capsys, "evaluate", "pretrained:mitbih-inter", "--data", str(folder), "--json"
    )
    metrics = json.loads(out)
    assert code != 0 and "could not be scored" in err
    assert list(metrics["per_record"]) == ["100"] and len(metrics["skipped"]) == 1


def test_train_overwrite_with_zero_epochs_is_refused(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "train",
        "configs/demo.yaml",
        "--overwrite",
        "train.epochs=0",
        f"output_dir={tmp_path}",
    )
    assert code == 2 and "untrained" in err and not any(tmp_path.iterdir())


def test_scale_refuses_an_unknown_metric_before_training(tmp_path):
    from ecgzoo.errors import ConfigError
    from ecgzoo.experiment import load_config
    from ecgzoo.study.grid import parse_grid
    from ecgzoo.study.scale import run_sweep

    grid = parse_grid({"depth": [1], "width": [8], "kernel": [3], "metric": "nonsense"}, "g")
    with pytest.raises(ConfigError, match="nonsense"):
        run_sweep(load_config("configs/demo.yaml"), grid, output=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


def _summary(folder: Path, record, path: str) -> Path:
    import json

    summary = {
        "record": record,
        "path": path,
        "lead": "MLII",
        "fs": 360.0,
        "duration_s": 10.0,
        "n_beats": 2,
        "counts": {"N": 2},
        "ectopic_burden_total_percent": 0.0,
        "longest_runs": {"N": {"beats": 2, "start_s": 0.0}},
        "mean_hr_bpm": 60.0,
    }
    target = folder / f"{record}.ecgzoo.json"
    target.write_text(json.dumps(summary))
    (folder / f"{record}.ecgzoo.csv").write_text("time_s,sample,class\n1.0,360,N\n2.0,720,N\n")
    return target


def test_report_never_follows_the_signal_path_in_the_json(mitdb_dir, tmp_path):
    from ecgzoo.report.html import record_beside

    here = tmp_path / "annotated"
    here.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for suffix in (".hea", ".dat"):
        shutil.copy(mitdb_dir / f"119{suffix}", elsewhere / f"119{suffix}")
        shutil.copy(mitdb_dir / f"100{suffix}", here / f"100{suffix}")
    json_100 = _summary(here, "100", str(elsewhere / "119"))  # 119's signal under 100's labels
    with pytest.raises(DataError, match="another record"):
        record_beside(json_100, {"record": "100", "path": str(elsewhere / "119")})
    # a relative path, as annotate wrote it from another folder: the record beside is used
    assert record_beside(json_100, {"record": "100", "path": "data/100"}) == here / "100"
    moved = tmp_path / "moved"
    moved.mkdir()
    json_moved = _summary(moved, "100", "100")
    assert record_beside(json_moved, {"record": "100", "path": "100"}) is None


@pytest.mark.parametrize("record", [100, None, ["100"]])
def test_report_on_a_summary_with_a_wrong_record_is_one_line(tmp_path, record):
    import json

    from ecgzoo.report.html import build_report

    target = _summary(tmp_path, "100", "100")
    tree = json.loads(target.read_text())
    tree["record"] = record
    target.write_text(json.dumps(tree))
    with pytest.raises(DataError, match="record"):
        build_report(target)


def test_predict_reads_the_challenge_folder_layout(cinc2017_dir, tmp_path, rhythm_model):
    from ecgzoo.apply.predict import predict_records

    folder = tmp_path / "training2017"
    for name in ("A00001", "A00003"):
        _copy(cinc2017_dir / "training2017", name, folder)
    (folder / "REFERENCE.csv").write_text("A00001,N\nA00003,N\n")
    (folder / "RECORDS").write_text("A00001\nA00003\n")
    rows = predict_records(folder, rhythm_model)
    assert [r["record"] for r in rows] == ["A00001", "A00003"]
