"""`ecgzoo annotate` / `predict` / `export` on real MIT-BIH and CinC 2017 records."""

from __future__ import annotations

import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.errors import ConfigError, DataError, EcgzooError


def _copy_record(src_dir: Path, name: str, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for path in src_dir.glob(f"{name}.*"):
        shutil.copy(path, dst / path.name)
    return dst / name


@pytest.fixture(scope="module")
def beat_model():
    from ecgzoo.apply.model import load_model

    return load_model("pretrained:mitbih-inter")


@pytest.fixture(scope="module")
def annotated_100(mitdb_dir, beat_model, tmp_path_factory):
    from ecgzoo.api import annotate

    folder = tmp_path_factory.mktemp("rec100")
    _copy_record(mitdb_dir, "100", folder)
    return annotate(folder / "100", beat_model, reference="atr")[0]


def test_annotate_writes_readable_wfdb_csv_and_summary(annotated_100, mitdb_dir):
    import wfdb

    result = annotated_100
    ann = result.annotation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = wfdb.rdann(str(result.files["wfdb"].with_suffix("")), "ecgzoo")
    assert np.array_equal(back.sample, ann.samples)
    assert set(back.symbol) <= {"N", "S", "V", "F", "Q"}
    lines = result.files["csv"].read_text().splitlines()
    assert lines[0].startswith("time_s,sample,class,p_N,p_S")
    assert len(lines) == len(ann.samples) + 1
    s = result.summary
    assert sum(s["counts"].values()) == s["n_beats"] == len(ann.samples)
    assert 60 < s["mean_hr_bpm"] < 90  # record 100: about 75 bpm
    assert len(s["hr_trend"]) == 31  # one point per minute of the 30:06 record
    assert result.files["png"].read_bytes()[:4] == b"\x89PNG"
    # no temporary file is left beside the outputs
    assert not [p for p in result.files["wfdb"].parent.iterdir() if p.name.startswith(".")]


def test_end_to_end_score_against_reference(annotated_100):
    from ecgzoo.apply.scoring import summarise_scores

    scored = summarise_scores([annotated_100.score], annotated_100.annotation.class_names)
    det = scored["detection"]
    assert det["tp"] + det["fn"] == 2273  # the reference beats of record 100
    assert det["Se"] > 99.5 and det["+P"] > 99.5
    n_row = scored["classes"][0]
    assert n_row["class"] == "N" and n_row["Se"] > 98


def test_scoring_of_the_reference_itself_is_perfect(mitdb_dir):
    from ecgzoo.apply.annotate import Annotation
    from ecgzoo.apply.scoring import score_record, summarise_scores
    from ecgzoo.datasets.mitbih import read_beat_annotations

    samples, labels = read_beat_annotations(mitdb_dir, "208")
    names = ["N", "S", "V", "F", "Q"]
    prob = np.eye(5, dtype=np.float32)[labels]
    ann = Annotation("208", mitdb_dir / "208", 360.0, "MLII", 650000, names, samples, labels, prob)
    scored = summarise_scores([score_record(ann, samples, labels, names)], names)
    assert scored["detection"]["Se"] == 100.0 and scored["detection"]["+P"] == 100.0
    v = scored["classes"][2]
    assert v["ref_beats"] == 992 and v["Se"] == 100.0  # record 208 has 992 V beats


def test_beats_detection_missed_and_extra_detections_are_counted(mitdb_dir):
    """Record 100 (33 S beats, 1 V) "detected" without its S beats and with 10 detections
    between beats called V: end to end, as EC57's ``bxb`` counts, the missed S beats are SVEB
    false negatives (Se 0, F1 0, not undefined) and the extra V detections VEB false
    positives; the accuracy stays that of the matched beats."""
    from ecgzoo.apply.annotate import Annotation
    from ecgzoo.apply.scoring import score_record, summarise_scores
    from ecgzoo.datasets.mitbih import read_beat_annotations

    samples, labels = read_beat_annotations(mitdb_dir, "100")
    names = ["N", "S", "V", "F", "Q"]
    keep = labels != 1
    extra = (samples[100:110] + samples[101:111]) // 2  # half way between two beats
    test = np.concatenate([samples[keep], extra])
    pred = np.concatenate([labels[keep], np.full(10, 2)])
    order = np.argsort(test)
    prob = np.eye(5, dtype=np.float32)[pred[order]]
    ann = Annotation(
        "100", mitdb_dir / "100", 360.0, "MLII", 650000, names, test[order], pred[order], prob
    )
    score = score_record(ann, samples, labels, names)
    assert score["missed"].tolist() == [0, 33, 0, 0, 0] and score["extra"].tolist() == [
        0,
        0,
        10,
        0,
        0,
    ]
    scored = summarise_scores([score], names)
    rows = {r["class"]: r for r in scored["classes"]}
    assert rows["S"]["ref_beats"] == 33 and rows["S"]["Se"] == 0.0 and rows["S"]["F1"] == 0.0
    assert rows["V"]["ref_beats"] == 1 and rows["V"]["+P"] == pytest.approx(100 / 11)
    assert scored["accuracy"] == 100.0  # every matched beat right
    assert scored["missed"] == [0, 33, 0, 0, 0] and scored["extra"] == [0, 0, 10, 0, 0]


def _both_tables(mitdb_dir, record: str, relabel: dict[int, int]) -> tuple[dict, dict]:
    """A record's reference labels, relabelled by ``relabel`` as the "prediction", scored by the
    end-to-end table and by ``metrics.aami`` (rows by class)."""
    from ecgzoo.apply.scoring import class_table
    from ecgzoo.datasets.mitbih import read_beat_annotations
    from ecgzoo.metrics.aami import aami_table

    _, labels = read_beat_annotations(mitdb_dir, record)
    pred = np.array([relabel.get(int(c), int(c)) for c in labels])
    conf = np.zeros((5, 5), dtype=np.int64)
    np.add.at(conf, (labels, pred), 1)
    rows = {r["class"]: r for r in class_table(conf, ["N", "S", "V", "F", "Q"])}
    return rows, {r["class"]: r for r in aami_table(conf)}


def test_annotate_and_evaluate_define_f1_alike(mitdb_dir):
    """Record 100 scored with every S called N and every N called S: S is missed (Se 0, +P 0)
    and F1 is 0, as ``metrics.aami`` (what ``evaluate`` prints) has it, not "n/a"; F, with no
    beat either way, stays undefined."""
    rows, aami = _both_tables(mitdb_dir, "100", {0: 1, 1: 0})
    assert rows["S"]["Se"] == 0.0 and rows["S"]["+P"] == 0.0 and rows["S"]["F1"] == 0.0
    for c in ("N", "S", "V", "F"):
        assert rows[c]["F1"] == (None if aami[c]["F1"] is None else 100.0 * aami[c]["F1"])
    assert rows["F"]["ref_beats"] == 0 and rows["F"]["F1"] is None


def test_annotate_and_evaluate_count_alike(mitdb_dir):
    """Record 208 (992 V, 373 F beats) with its F beats called V and its Q beats called S: the
    end-to-end table counts as ``metrics.aami`` (EC57: F called V not a V false positive,
    reference Q left out), so end-to-end and reference-peak figures share one definition."""
    rows, aami = _both_tables(mitdb_dir, "208", {3: 2, 4: 1})
    assert aami["V"]["uncounted"] == 373 and rows["V"]["+P"] == 100.0
    for c in ("N", "S", "V", "F"):
        for stat in ("Se", "+P", "F1"):
            expected = aami[c][stat]
            assert rows[c][stat] == (None if expected is None else pytest.approx(100 * expected))


def test_ec57_exclusions_learning_period_and_flutter(mitdb_dir):
    from ecgzoo.apply.annotate import Annotation
    from ecgzoo.apply.scoring import ec57_exclusions, score_record
    from ecgzoo.datasets.mitbih import read_beat_annotations

    spans = ec57_exclusions(mitdb_dir / "207", 360.0)
    assert spans[0] == (0, 108000)  # the 5-minute learning period
    assert all(b > a for a, b in spans) and any(a > 108000 for a, _ in spans[1:])  # flutter
    samples, labels = read_beat_annotations(mitdb_dir, "207")
    names = ["N", "S", "V", "F", "Q"]
    # a detector that also fires every 0.2 s inside the flutter episodes
    extra = np.concatenate([np.arange(a, min(b, 650000), 72) for a, b in spans[1:]])
    test = np.unique(np.concatenate([samples, extra]))
    lab = np.zeros(len(test), dtype=np.int64)
    ann = Annotation(
        "207",
        mitdb_dir / "207",
        360.0,
        "MLII",
        650000,
        names,
        test,
        lab,
        np.zeros((len(test), 5), dtype=np.float32),
    )
    whole = score_record(ann, samples, labels, names)
    ec57 = score_record(ann, samples, labels, names, spans)
    assert whole["fp"] >= len(extra) - 5 and ec57["fp"] == 0
    outside = np.ones(len(samples), dtype=bool)
    for a, b in spans:
        outside &= ~((samples >= a) & (samples < b))
    assert ec57["fn"] == 0 and ec57["tp"] == int(outside.sum()) < whole["tp"]


def test_chunked_reading_matches_whole_record(mitdb_dir, beat_model):
    from ecgzoo.apply.annotate import annotate_source
    from ecgzoo.apply.signals import open_source

    src = open_source(mitdb_dir / "119")
    whole = annotate_source(src, beat_model, chunk_s=2000.0)
    chunked = annotate_source(src, beat_model, chunk_s=120.0)
    # Filtering a chunk rather than the whole record can move the refined peak by a few
    # samples where the R wave is flat-topped (argmax between near-equal values), no more.
    assert len(whole.samples) == len(chunked.samples)
    assert np.max(np.abs(whole.samples - chunked.samples)) <= 5
    assert np.mean(whole.labels == chunked.labels) > 0.998


def test_onnx_engine_matches_torch(mitdb_dir, beat_model, tmp_path):
    from ecgzoo.api import export_onnx
    from ecgzoo.apply.annotate import annotate_source
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.signals import open_source

    report = export_onnx("pretrained:mitbih-inter")
    assert report["max_abs_diff"] <= 1e-4 and report["n_examples"] == 256
    onnx = load_model("pretrained:mitbih-inter", engine="onnx")
    src = open_source(mitdb_dir / "208")
    a = annotate_source(src, beat_model)
    b = annotate_source(src, onnx)
    assert np.array_equal(a.labels, b.labels)
    assert np.nanmax(np.abs(a.prob - b.prob)) <= 1e-4


def test_model_predict_on_a_numpy_signal(mitdb_dir, beat_model):
    from ecgzoo.datasets.mitbih import read_record

    rec = read_record(mitdb_dir, "208")
    out = beat_model.predict(rec.signal[: 60 * 360], fs=360)
    assert len(out["samples"]) == len(out["labels"]) > 60
    assert "V" in out["labels"]
    # a beat too near an end to cut is unclassified (it was called Q, a class of its own)
    uncut = ~np.isfinite(out["probabilities"]).all(axis=1)
    assert uncut[0] and uncut.sum() <= 2
    assert [out["labels"][i] for i in np.flatnonzero(uncut)] == ["unclassified"] * int(uncut.sum())
    assert "unclassified" not in [out["labels"][i] for i in np.flatnonzero(~uncut)]


def test_predict_folder_and_zip(cinc2017_dir, tmp_path):
    from ecgzoo.api import predict
    from ecgzoo.apply.model import load_model

    src = cinc2017_dir / "training2017"
    names = (src / "RECORDS").read_text().split()[:4]
    folder = tmp_path / "recs"
    for n in names:
        _copy_record(src, n, folder)
    model = load_model("pretrained:cinc2017")
    rows = predict(folder, model)
    assert [r["record"] for r in rows] == names
    assert all(abs(sum(r[f"p_{c}"] for c in "NAO~") - 1) < 1e-4 for r in rows)
    archive = tmp_path / "recs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, f"sub/{p.name}")
        zf.writestr("../evil.hea", "x")  # escaping member: ignored, never written
    zipped = predict(archive, model)
    assert [r["label"] for r in zipped] == [r["label"] for r in rows]
    assert not (tmp_path / "evil.hea").exists()


# --------------------------------------------------------------------------- bad input


def _no_outputs(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if "ecgzoo" in p.name]


def test_truncated_record(mitdb_dir, beat_model, tmp_path):
    from ecgzoo.api import annotate

    base = _copy_record(mitdb_dir, "100", tmp_path)
    dat = base.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:300_000])
    with pytest.raises(DataError, match=r"100\.dat.*(truncated|cannot read)"):
        annotate(base, beat_model)
    assert _no_outputs(tmp_path)


def test_unreadable_header(beat_model, tmp_path):
    from ecgzoo.api import annotate

    (tmp_path / "bad.hea").write_text("this is not a header\n")
    with pytest.raises(DataError, match=r"bad\.hea: cannot read header"):
        annotate(tmp_path / "bad", beat_model)


def test_csv_needs_a_sampling_rate(mitdb_dir, beat_model, tmp_path):
    from ecgzoo.api import annotate
    from ecgzoo.datasets.mitbih import read_record

    rec = read_record(mitdb_dir, "100")
    csv = tmp_path / "strip.csv"
    np.savetxt(csv, rec.signal[: 20 * 360], delimiter=",", header="MLII", comments="")
    with pytest.raises(DataError, match=r"strip\.csv: .*--fs"):
        annotate(csv, beat_model)
    with pytest.raises(DataError, match="below the 100 Hz"):
        annotate(csv, beat_model, fs=50.0)
    results = annotate(csv, beat_model, fs=360.0, plots=False)
    assert results[0].summary["n_beats"] > 20  # the same strip with its rate: 20 s of beats
    with pytest.raises(DataError, match="no lead named 'V9'"):
        annotate(csv, beat_model, fs=360.0, lead="V9")


@pytest.mark.parametrize(
    "values,message",
    [(np.zeros(7200), "flat"), (np.full(7200, np.nan), "NaN")],
)
def test_flat_or_nan_lead(beat_model, tmp_path, values, message):
    from ecgzoo.api import annotate

    path = tmp_path / "lead.npy"
    np.save(path, values.astype(np.float32))
    with pytest.raises(DataError, match=message):
        annotate(path, beat_model, fs=360.0)
    assert _no_outputs(tmp_path)


def test_no_detectable_beats(mitdb_dir, beat_model, tmp_path):
    from ecgzoo.api import annotate
    from ecgzoo.datasets.mitbih import read_record

    path = tmp_path / "short.npy"
    np.save(path, read_record(mitdb_dir, "100").signal[:500])  # 1.4 s of real ECG
    with pytest.raises(DataError, match="no beats detected"):
        annotate(path, beat_model, fs=360.0)
    assert _no_outputs(tmp_path)


def test_model_of_the_wrong_kind(mitdb_dir, tmp_path):
    from ecgzoo.api import annotate, predict

    base = _copy_record(mitdb_dir, "100", tmp_path)
    with pytest.raises(ConfigError, match="use `ecgzoo predict`"):
        annotate(base, "pretrained:cinc2017")
    with pytest.raises(ConfigError, match="use `ecgzoo annotate`"):
        predict(base, "pretrained:mitbih-inter")
    with pytest.raises(EcgzooError, match="unknown pretrained model"):
        annotate(base, "pretrained:nope")


def test_cli_prints_one_line_errors(tmp_path, monkeypatch, capsys):
    from ecgzoo.cli import main

    monkeypatch.setattr("sys.argv", ["ecgzoo", "annotate", str(tmp_path / "missing.csv")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "missing.csv: file not found" in lines[0]


def test_docs_example_runs_end_to_end(mitdb_dir, cinc2017_dir, tmp_path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "PYTHONPATH": str(repo / "src")}
    out = subprocess.run(
        [sys.executable, str(repo / "docs/examples/apply_model.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "record 208:" in out.stdout and "QRS detection vs reference" in out.stdout
    assert (tmp_path / "208.ecgzoo").is_file()
    assert "mitbih subset:" in out.stdout
