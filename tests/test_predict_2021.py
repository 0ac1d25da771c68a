"""`ecgzoo predict` with a multi-label 2021 run on real challenge records (issues 11 and 13):
a tiny run trained on the mirror's 149 records, then applied to a few of its test records."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.test_challenge2021 import reference_read_output, reference_weights
from tests.test_multilabel_training import smoke_config

N_RECORDS = 5


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, cinc2021_dirs):
    """Fold 0 of 3, 100 Hz, 4 leads, a tiny ResNet, 2 steps (the multi-label smoke config)."""
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.train.engine import train_run

    config = smoke_config(tmp_path_factory.mktemp("runs"), "pred2021")
    data = load_data(config.data)
    result = train_run(config, data=data, progress=False)
    return data, result.run_dir


@pytest.fixture(scope="module")
def test_records(tiny_run, cinc2021_dirs, tmp_path_factory):
    """A flat folder with copies of the first test-split records (one per source where possible:
    500 Hz and PTB's 1000 Hz), and their indices in the test split."""
    data, _ = tiny_run
    root = cinc2021_dirs[0]
    first: dict[str, int] = {}
    for i, group in enumerate(data.test.groups):
        first.setdefault(str(group).split("/")[0], i)
    # PTB (1000 Hz) first: its records are resampled from another rate than the others' 500 Hz
    picked = sorted(first.values(), key=lambda i: (first.get("ptb") != i, i))[:N_RECORDS]
    picked += [i for i in range(len(data.test)) if i not in picked][: N_RECORDS - len(picked)]
    folder = tmp_path_factory.mktemp("records")
    for i in picked:
        source, name = str(data.test.groups[i]).split("/")
        hea = next((root / source).rglob(f"{name}.hea"))
        for suffix in (".hea", ".mat"):
            shutil.copy(hea.with_suffix(suffix), folder)
    return folder, picked


def test_predict_matches_training_inputs_and_writes_official_outputs(
    tiny_run, test_records, cinc2021_dirs, tmp_path
):
    from typer.testing import CliRunner

    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.predict import predict_multilabel
    from ecgzoo.cli import app
    from ecgzoo.runs.runfolder import read_spec
    from ecgzoo.train.evaluate import load_trained_model, predict_split

    data, run = tiny_run
    folder, picked = test_records
    out_csv, out_dir = tmp_path / "pred.csv", tmp_path / "outputs"
    args = ["predict", str(folder), "--model", str(run), "--out", str(out_csv)]
    result = CliRunner().invoke(app, [*args, "--challenge-outputs", str(out_dir)])
    assert result.exit_code == 0, result.output
    spec = read_spec(run)
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = [str(data.test.groups[i]).split("/")[1] for i in picked]
    assert [r["record"] for r in rows] == sorted(names)
    prob = np.array([[float(r[f"p_{c}"]) for c in spec.class_names] for r in rows])
    binary = np.array([[int(r[f"y_{c}"]) for c in spec.class_names] for r in rows])
    thresholds = np.asarray(spec.thresholds)
    assert prob.shape == (N_RECORDS, 26) and np.all((prob >= 0) & (prob <= 1))
    exact = np.abs(prob - thresholds) > 1e-5  # the CSV rounds to 5 decimals
    np.testing.assert_array_equal(binary[exact], (prob >= thresholds)[exact])
    # the record is prepared exactly as its training example was: same probabilities
    model, _ = load_trained_model(run)
    expected = predict_split(model, spec, data.test.subset(np.asarray(picked)))
    order = np.argsort(names)
    np.testing.assert_allclose(prob, expected[order], atol=2e-5)
    # one official-format file per record, read back by the official loader's logic
    classes, _ = reference_weights(cinc2021_dirs[1] / "weights.csv")
    assert sorted(p.name for p in out_dir.iterdir()) == [f"{n}.csv" for n in sorted(names)]
    for row, p, b in zip(rows, prob, binary, strict=True):
        text = (out_dir / f"{row['record']}.csv").read_text()
        record_id, got_b, got_p = reference_read_output(text, classes)
        assert record_id == row["record"]
        np.testing.assert_array_equal(got_b, b.astype(bool))
        np.testing.assert_allclose(got_p, p, atol=1e-5)
    # a zip of the same records gives the same result
    archive = shutil.make_archive(str(tmp_path / "records"), "zip", folder)
    zipped = predict_multilabel(Path(archive), load_model(run))
    assert zipped.records == sorted(names)
    np.testing.assert_allclose(zipped.prob, expected[order], atol=1e-5)


def test_bad_input_is_one_line(tiny_run, tmp_path, monkeypatch, capsys):
    from ecgzoo.cli import main

    _, run = tiny_run
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.csv").write_text("a,b\n1,2\n")
    cases = [
        (["predict", str(empty), "--model", str(run)], "no challenge-2021 records"),
        (
            [
                "predict",
                str(empty),
                "--model",
                "pretrained:cinc2017",
                "--challenge-outputs",
                str(tmp_path / "o"),
            ],
            "--challenge-outputs: pretrained:cinc2017 is not a multi-label 2021 run",
        ),  # fmt: skip
        (["predict", str(empty), "--model", str(run), "--engine", "onnx"], "onnx is not"),
        (["export", str(run)], "ONNX export of a multi-label run is not supported"),
    ]
    for argv, message in cases:
        monkeypatch.setattr("sys.argv", ["ecgzoo", *argv])
        with pytest.raises(SystemExit) as exc:
            main()
        assert exc.value.code != 0
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "o").exists()


def test_one_bad_record_keeps_the_others(tiny_run, test_records, tmp_path):
    """Issue 23: a record that cannot be read is reported, the others are still labelled."""
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.predict import predict_records

    _, run = tiny_run
    folder = tmp_path / "recs"
    shutil.copytree(test_records[0], folder)
    names = sorted(p.stem for p in folder.glob("*.hea"))
    (folder / f"{names[0]}.mat").write_bytes(b"not MATLAB")
    failures: list = []
    rows = predict_records(folder, load_model(str(run)), failures=failures)
    assert [r["record"] for r in rows] == names[1:]
    assert [name for name, _ in failures] == [names[0]]
