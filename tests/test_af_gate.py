"""The AF gate (issue 19): windows, the S -> N move, one path for annotate and evaluate."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.errors import ConfigError
from ecgzoo.models.af_gate import (
    THRESHOLD,
    beat_window_probability,
    check_gate_classes,
    close_supraventricular,
    window_edges,
)

CLASSES = ["N", "S", "V", "F", "Q"]


@pytest.fixture(scope="module")
def gate():
    from ecgzoo.apply.af_gate import AfGate

    return AfGate()


def test_windows_are_30_s_from_the_start_and_a_short_tail_joins_the_last():
    # MIT-BIH: 650,000 samples at 360 Hz = 60 windows of 10,800 + 5.6 s, joined to the last
    edges = window_edges(650_000, 360.0)
    assert len(edges) == 61 and edges[1] == 10_800 and edges[-2] == 59 * 10_800
    assert edges[-1] == 650_000
    # SVDB: 30 minutes at 128 Hz are exactly 60 windows
    assert np.array_equal(window_edges(230_400, 128.0), np.arange(61) * 3_840)
    # a tail of 10 s or more is a window of its own; a record under 30 s is one window
    assert len(window_edges(10_800 + 3_600, 360.0)) == 3
    assert window_edges(100, 360.0).tolist() == [0, 100]


def test_each_beat_takes_its_window_probability():
    edges = np.array([0, 100, 200, 250])
    p = beat_window_probability(np.array([0, 99, 100, 249, 250]), edges, np.array([0.1, 0.9, 0.5]))
    assert p.tolist() == [0.1, 0.1, 0.9, 0.5, 0.5]  # a peak on the last sample: last window


def test_s_moves_to_n_only_in_closed_windows():
    prob = np.array(
        [
            [0.2, 0.7, 0.1, 0.0, 0.0],  # closed: S -> N
            [0.2, 0.7, 0.1, 0.0, 0.0],  # open
            [0.25, 0.35, 0.40, 0.0, 0.0],  # closed: V stays 0.40, N becomes 0.60
            [np.nan] * 5,  # not classified
        ],
        dtype=np.float32,
    )
    out = close_supraventricular(prob, CLASSES, np.array([THRESHOLD, 0.5, 0.99, 1.0]))
    np.testing.assert_allclose(out[0], [0.9, 0.0, 0.1, 0.0, 0.0], atol=1e-7)
    np.testing.assert_array_equal(out[1], prob[1])
    np.testing.assert_allclose(out[2], [0.6, 0.0, 0.4, 0.0, 0.0], atol=1e-7)
    assert np.isnan(out[3]).all()
    np.testing.assert_array_equal(out[:3, 2:], prob[:3, 2:])  # V, F, Q untouched
    assert prob[0, 1] == np.float32(0.7)  # the input is not changed


def test_a_model_without_n_and_s_cannot_be_gated():
    with pytest.raises(ConfigError, match="--af-gate: my-run has no N and S"):
        check_gate_classes(["N", "V"], "my-run")


def test_streamed_and_whole_record_windows_agree(gate, mitdb_two: Path, monkeypatch):
    """annotate reads the lead in blocks through the record's SignalSource, evaluate --data
    holds it whole (WfdbFolderReader): the same windows, the same probabilities."""
    import ecgzoo.apply.af_gate as af_gate
    from ecgzoo.apply.signals import open_source
    from ecgzoo.readers.wfdb_folder import WfdbFolderReader

    source = open_source(mitdb_two / "208")
    n = 20 * 10_800 + 5_000  # 20 windows, the last 44 s long
    with monkeypatch.context() as m:
        m.setattr(af_gate, "BLOCK_WINDOWS", 7)  # three blocks of 7, 7 and 6 windows
        streamed = gate.window_probabilities(lambda a, b: source.read(0, a, b), n, source.fs)
    rec = WfdbFolderReader(mitdb_two, annotator="atr").read("208")
    whole = gate.window_probabilities(lambda a, b: rec.signal[0][a:b], n, rec.fs)
    np.testing.assert_array_equal(streamed[0], whole[0])
    np.testing.assert_allclose(streamed[1], whole[1], atol=1e-5)
    # 100 and 208 are sinus rhythm (208 with frequent V beats): no window reaches the threshold
    assert (streamed[1] < THRESHOLD).all()


def test_evaluate_af_gate_on_ds1_af_records(mitdb_dir: Path, tmp_path: Path, monkeypatch, capsys):
    """Reference values, DS1 records 201 (AF episodes) and 203 (AF and flutter throughout),
    the model shipped until 2026-12-05 (many S false positives in AF, so the gate has work):
    the gate removes most S false positives of 201's AF and few true S."""
    import json

    from tests.test_faults_outputs import run_cli

    for record in ("201", "203"):
        for ext in (".hea", ".dat", ".atr"):
            shutil.copy(mitdb_dir / f"{record}{ext}", tmp_path / f"{record}{ext}")
    base = ("evaluate", "pretrained:mitbih-inter-2026-11", "--data", str(tmp_path), "--json")
    code, out, _ = run_cli(monkeypatch, capsys, *base)
    assert code == 0
    plain = json.loads(out)["per_record"]
    code, out, _ = run_cli(monkeypatch, capsys, *base, "--af-gate")
    assert code == 0
    gated = json.loads(out)
    assert gated["af_gate"]["threshold"] == THRESHOLD
    assert (plain["201"]["S_fp"], plain["201"]["S_tp"]) == (268, 72)
    assert (gated["per_record"]["201"]["S_fp"], gated["per_record"]["201"]["S_tp"]) == (59, 69)
    assert gated["per_record"]["203"]["S_fp"] <= plain["203"]["S_fp"]


def test_annotate_af_gate_reads_no_label(mitdb_dir: Path, tmp_path: Path):
    """The same record with and without its .atr, and with a poisoned one: the same beats."""
    from ecgzoo.api import annotate

    folders = {}
    for kind in ("atr", "none", "poisoned"):
        folder = tmp_path / kind
        folder.mkdir()
        for ext in (".hea", ".dat"):
            shutil.copy(mitdb_dir / f"201{ext}", folder / f"201{ext}")
        if kind == "atr":
            shutil.copy(mitdb_dir / "201.atr", folder / "201.atr")
        if kind == "poisoned":
            import wfdb

            ref = wfdb.rdann(str(mitdb_dir / "201"), "atr")
            symbols = ["A" if s in "NLRejAaJSVFEf/Q" else s for s in ref.symbol]
            wfdb.wrann("201", "atr", ref.sample, symbols, write_dir=str(folder), fs=ref.fs)
        folders[kind] = folder
    results = {
        k: annotate(f / "201", write=False, plots=False, af_gate=True)[0]
        for k, f in folders.items()
    }
    first = results["atr"].annotation
    assert first.af_gate["beats_in_af_windows"] > 0
    for other in ("none", "poisoned"):
        ann = results[other].annotation
        np.testing.assert_array_equal(ann.samples, first.samples)
        np.testing.assert_array_equal(ann.labels, first.labels)
        assert ann.af_gate == first.af_gate


def test_af_gate_options_are_refused_where_they_cannot_apply(mitdb_two: Path, monkeypatch, capsys):
    from tests.test_faults_outputs import run_cli

    code, _, err = run_cli(monkeypatch, capsys, "evaluate", "pretrained:mitbih-inter", "--af-gate")
    assert code == 2 and err.strip().endswith("applies to beat models scored on --data FOLDER")
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "evaluate",
        "pretrained:mitbih-inter-lightgbm",
        "--data",
        str(mitdb_two),
        "--af-gate",
    )
    assert code == 2 and "--af-gate" in err and "tree model" in err
    assert len(err.strip().splitlines()) == 1


def test_the_adaptation_learns_from_the_gated_probabilities():
    """prior_em re-estimates the record's priors from what the gate leaves, then is gated."""
    from ecgzoo.models.adapt import prior_adjusted, record_probabilities

    rng = np.random.default_rng(0)
    base = rng.dirichlet(np.ones(5), size=40).astype(np.float32)
    beat_af = np.where(np.arange(40) < 25, 0.99, 0.1)

    def gate(p):
        return close_supraventricular(p, CLASSES, beat_af)

    def predict(m):
        return base

    got = record_probabilities("prior_em", predict, None, None, base, None, closed=gate)
    np.testing.assert_allclose(got, gate(prior_adjusted(gate(base))), rtol=1e-6)
    assert not np.allclose(got, gate(prior_adjusted(base)))  # the order matters
    plain = record_probabilities("prior_em", predict, None, None, base, None)
    np.testing.assert_allclose(plain, prior_adjusted(base), rtol=1e-6)


def test_no_beat_in_a_closed_window_is_s_after_self_training(gate, mitdb_dir: Path):
    from ecgzoo.api import annotate
    from ecgzoo.apply.signals import open_source

    result = annotate(mitdb_dir / "201", write=False, plots=False, adapt="self_train", af_gate=True)
    ann = result[0].annotation
    source = open_source(mitdb_dir / "201")
    beat_af = gate.beat_probabilities(
        lambda a, b: source.read(0, a, b), source.n_samples, source.fs, ann.samples
    )
    closed = beat_af >= THRESHOLD
    s = ann.class_names.index("S")
    assert closed.sum() == ann.af_gate["beats_in_af_windows"] > 300
    assert not np.any(ann.labels[closed] == s)
    assert np.any(ann.labels[~closed] == s)  # the gate is not a blanket ban


def test_gate_with_self_train_scores_and_json_stays_json(mitdb_two: Path, monkeypatch, capsys):
    """The two options together (self_train learns outside the AF windows): one JSON object."""
    import json

    from tests.test_faults_outputs import run_cli

    args = ("evaluate", "pretrained:mitbih-inter", "--data", str(mitdb_two), "--json")
    code, out, err = run_cli(monkeypatch, capsys, *args, "--af-gate", "--adapt", "self_train")
    assert code == 0, err
    result = json.loads(out)
    assert result["n"] > 5000 and result["adapt"] == "self_train"
    assert result["af_gate"]["threshold"] == THRESHOLD
    assert "warning" not in err


def test_self_train_learns_nothing_from_beats_the_gate_changed(monkeypatch):
    """Inside closed windows no pseudo-label (their rows are zero: never confident); outside,
    the model's own probabilities; the result is gated."""
    from ecgzoo.models import adapt_record
    from ecgzoo.models.adapt import record_probabilities

    rng = np.random.default_rng(1)
    base = rng.dirichlet(np.ones(5), size=30).astype(np.float32)
    beat_af = np.where(np.arange(30) < 12, 0.99, 0.1)
    seen = {}

    def fake_self_trained(model, x, side, prob, seed=0):
        seen["prob"] = prob
        return "adapted"

    def predict(m):
        return base if m is None else base[::-1].copy()  # the "adapted" model differs

    monkeypatch.setattr(adapt_record, "self_trained", fake_self_trained)
    spec = type("Spec", (), {"feature_mean": None, "feature_std": None, "n_features": 0})()

    def gate(p):
        return close_supraventricular(p, CLASSES, beat_af)

    got = record_probabilities("self_train", predict, None, spec, base, None, closed=gate)
    learned = seen["prob"]
    assert np.all(learned[:12] == 0)  # closed: left out
    np.testing.assert_array_equal(learned[12:], base[12:])  # open: the model's own
    np.testing.assert_allclose(got, gate(base[::-1]), rtol=1e-6)
    plain = record_probabilities("self_train", predict, None, spec, base, None)
    np.testing.assert_array_equal(seen["prob"], base)  # no gate: every beat may teach
    np.testing.assert_array_equal(plain, base[::-1])
