"""The apply path's speed changes keep its results: batched predict, thread policy, CSV writer."""

from __future__ import annotations

import csv
import io
import shutil

import numpy as np
import pytest


def test_batched_predict_equals_one_record_at_a_time(cinc2017_dir, tmp_path, monkeypatch):
    from ecgzoo.apply import predict as pr
    from ecgzoo.apply.model import load_model

    src = cinc2017_dir / "training2017"
    names = (src / "RECORDS").read_text().split()[:7]
    for n in names:
        for p in src.glob(f"{n}.*"):
            shutil.copy(p, tmp_path / p.name)
    model = load_model("pretrained:cinc2017")
    batched = pr.predict_records(tmp_path, model)
    monkeypatch.setattr(pr, "BATCH_RECORDS", 1)
    single = pr.predict_records(tmp_path, model)
    monkeypatch.setattr(pr, "BATCH_RECORDS", 3)  # a last batch that is not full
    threes = pr.predict_records(tmp_path, model)
    assert [r["record"] for r in batched] == names == [r["record"] for r in single]
    for a, b, c in zip(batched, single, threes, strict=True):
        assert a["label"] == b["label"] == c["label"]
        for k in a:
            if k.startswith("p_"):
                assert a[k] == pytest.approx(b[k], abs=1e-5) == c[k]


def test_thread_policy(monkeypatch):
    from ecgzoo.apply import threads

    monkeypatch.delenv("ECGZOO_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert threads.apply_threads() == 2  # an idle machine: both cores
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert threads.apply_threads() == 1  # a core busy elsewhere: never two threads
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert threads.apply_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.apply_threads() == 2  # the user's choice wins
    monkeypatch.setenv("ECGZOO_THREADS", "3")
    assert threads.apply_threads() == 3


def test_torch_threads_are_restored():
    import torch

    from ecgzoo.apply.threads import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_csv_rows_parse_back_with_the_csv_module():
    from ecgzoo.apply.annotate import Annotation
    from ecgzoo.apply.outputs import csv_text

    prob = np.array([[0.9, 0.1], [np.nan, np.nan], [1e-7, 1.0]], dtype=np.float32)
    names = ["N", 'odd, "name"']  # a class name that needs quoting
    ann = Annotation(
        "r", None, 360.0, "MLII", 10**8, names, np.array([360, 720, 86_399_640]),
        np.array([0, -1, 1]), prob,
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(csv_text(ann))))
    assert rows[0] == ["time_s", "sample", "class", "p_N", 'p_odd, "name"', "usable"]
    assert rows[1] == ["1.0000", "360", "N", "0.9", "0.1", "1"]
    assert rows[2] == ["2.0000", "720", "unclassified", "", "", "1"]
    assert rows[3][:3] == ["239999.0000", "86399640", 'odd, "name"']  # 66 h: to 0.1 ms
    assert float(rows[3][3]) == pytest.approx(1e-7, rel=1e-4) and rows[3][4:] == ["1", "1"]


def test_annotation_file_is_what_wrann_writes(mitdb_dir, tmp_path):
    import warnings

    import wfdb

    from ecgzoo.apply.wfdb_ann import annotation_file
    from ecgzoo.datasets.mitbih import read_beat_annotations

    samples, _ = read_beat_annotations(mitdb_dir, "208")
    # the beats of record 208, then one 20 minutes later (a SKIP word), labelled NSVFQ in turn
    samples = np.concatenate([samples, [samples[-1] + 20 * 60 * 360]])
    symbols = [("N", "S", "V", "F", "Q")[i % 5] for i in range(len(samples))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wfdb.wrann("208", "ecgzoo", samples, symbol=symbols, write_dir=str(tmp_path), fs=360.0)
    assert (tmp_path / "208.ecgzoo").read_bytes() == annotation_file(
        "208.ecgzoo", samples, symbols, 360.0
    )


def test_predict_votes_distinct_crops_like_every_crop(cinc2017_dir):
    """predict scores each distinct crop once (as evaluate does): the same probabilities as
    scoring all five crops of every record."""
    from ecgzoo.apply.model import load_model
    from ecgzoo.apply.signals import open_source
    from ecgzoo.examples.transforms import multi_crop

    src = cinc2017_dir / "training2017"
    names = (src / "RECORDS").read_text().split()[:6]
    model = load_model("pretrained:cinc2017")
    sigs = []
    for n in names:
        s = open_source(src / n)
        sigs.append(s.read(0, 0, s.n_samples))
    fast = model.predict_recordings(sigs, 300.0)
    x, lengths = model.input.windows(sigs, 300.0)  # the model's InputSpec, as predict does
    crops = multi_crop(x, int(model.spec.crop_samples), 5, lengths)
    every = model._proba_any(crops.reshape((-1,) + crops.shape[2:]))
    np.testing.assert_allclose(fast, every.reshape(len(x), 5, -1).mean(axis=1), atol=1e-5)
