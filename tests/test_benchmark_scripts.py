"""The issue-19 benchmark scripts patch and pool the right things: their caches replace names
that exist (a rename once left ``beats_eval --adapt a,b`` failing), and the fold pooling sums
counts (reference values worked by hand)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    yield lambda name: importlib.import_module(name)
    for name in (
        "beats_eval", "svdb_folds", "adapt_folds", "svdb_fold_arms", "ec57_rescore",
        "svdb_fold_weights", "detect_leads",
    ):  # fmt: skip
        sys.modules.pop(name, None)


def test_beats_eval_caches_patch_the_detector_and_gate_annotate_calls(bench, monkeypatch):
    from ecgzoo.apply import chunks
    from ecgzoo.apply.af_gate import AfGate

    # restored after the test, whatever the script does to them
    monkeypatch.setattr(chunks, "detect_with_quality", chunks.detect_with_quality)
    monkeypatch.setattr(AfGate, "window_probabilities", AfGate.window_probabilities)
    real_detect, real_gate = chunks.detect_with_quality, AfGate.window_probabilities
    beats_eval = bench("beats_eval")
    beats_eval.cached_detection()
    beats_eval.cached_gate()
    assert chunks.detect_with_quality is not real_detect
    assert AfGate.window_probabilities is not real_gate


def test_svdb_folds_pools_counts_not_fold_scores(bench):
    svdb_folds = bench("svdb_folds")
    rows = [
        {"n": 100, "correct": 90, "S": 10, "S_tp": 5, "S_fp": 5, "V": 0, "V_tp": 0, "V_fp": 2},
        {"n": 300, "correct": 290, "S": 30, "S_tp": 27, "S_fp": 3, "V": 20, "V_tp": 18, "V_fp": 0},
    ]
    m = svdb_folds.pooled(rows)
    assert m["acc"] == pytest.approx(380 / 400)
    assert (m["S Se"], m["S +P"]) == (pytest.approx(32 / 40), pytest.approx(32 / 40))
    assert m["S F1"] == pytest.approx(0.8)
    assert m["V F1"] == pytest.approx(2 * 18 / (2 * 18 + 2 + 2))
    with pytest.raises(SystemExit, match="predate V_uncounted"):
        svdb_folds.pooled(rows, fusion_as_veb_fp=True)
    rows[1]["V_uncounted"], rows[0]["V_uncounted"] = 3, 0  # F beats called V, out of EC57
    strict = svdb_folds.pooled(rows, fusion_as_veb_fp=True)
    assert strict["V +P"] == pytest.approx(18 / (18 + 2 + 3))
    assert svdb_folds.pooled(rows)["V +P"] == pytest.approx(18 / 20)


def test_beats_eval_self_train_overrides_cast_to_the_defaults_types(bench):
    beats_eval = bench("beats_eval")
    defaults = {"threshold": 0.99, "steps": 40, "rounds": 1}
    got = beats_eval.self_train_overrides("threshold=0.9,rounds=2", defaults)
    assert got == {"threshold": 0.9, "rounds": 2} and isinstance(got["rounds"], int)
    with pytest.raises(ValueError, match="unknown parameter 'step'"):
        beats_eval.self_train_overrides("step=3", defaults)
    with pytest.raises(ValueError):
        beats_eval.self_train_overrides("steps=many", defaults)


def test_adapt_folds_pools_counts_and_chooses_out_of_fold(bench, tmp_path):
    """Two candidates, one group, two folds (counts worked by hand): candidate ``b`` wins fold 0
    and the pool, ``a`` wins fold 1, so leaving fold 0 out chooses ``a`` (fold 1) and leaving
    fold 1 out chooses ``b`` (fold 0)."""
    import json

    adapt_folds = bench("adapt_folds")

    def k(s_hit, v_hit):  # S: 10 true, 10 called; V: 10 true, 10 called
        return {"n": 100, "correct": 80 + s_hit + v_hit, "S": [10, 10, s_hit], "V": [10, 10, v_hit]}

    rows = [{"method": "none", "params": {}}, {"method": "self_train", "params": {"steps": 9}}]
    per_run = [
        {"run": "/x/ens_f0_s012", "counts": [k(2, 2), k(10, 10)]},
        {"run": "/x/ens_f1_s012", "counts": [k(6, 6), k(4, 4)]},
    ]
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"rows": rows, "per_run": per_run}))
    cands, table = adapt_folds.load([str(path)])
    both = {"012": [0, 1]}
    assert adapt_folds.figure(adapt_folds.pooled(table, both, 0)) == pytest.approx(0.4)
    assert adapt_folds.figure(adapt_folds.pooled(table, both, 1)) == pytest.approx(0.7)
    total, chosen = adapt_folds.lofo(table, cands)
    assert chosen == ["none", "self_train steps=9"]  # fold 0 left out: fold 1 chooses none
    # fold 0 scored by none (2, 2), fold 1 by self_train (4, 4): 6 of 20 each
    assert total["012"]["S"] == [20, 20, 6] and adapt_folds.f1(total["012"], "V") == 0.3


def test_beats_eval_scores_a_fold_run_on_its_held_out_svdb_records_only(
    bench, monkeypatch, tmp_path, svdb_dir
):
    import shutil

    import yaml

    from ecgzoo.datasets.splits import record_fold

    run = tmp_path / "fold_run"
    shutil.copytree(Path(__file__).parent / "data" / "beats_recipe", run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["mitbih"] |= {"extra_databases": ["svdb"], "extra_test_fold": 1}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    beats_eval = bench("beats_eval")
    monkeypatch.setattr(beats_eval, "svdb_folder", lambda: svdb_dir)
    names = (svdb_dir / "RECORDS").read_text().split()
    held = beats_eval.held_out_svdb(run)
    assert held == record_fold(names, 4, 1, seed=1) and len(held) == 13
    assert beats_eval.held_out_svdb(Path(__file__).parent / "data" / "beats_recipe") is None
    linked = beats_eval.linked_folder(svdb_dir, held, tmp_path / "svdb")
    assert sorted(p.stem for p in linked.glob("*.hea")) == held
    assert (linked / "RECORDS").read_text().split() == held


def test_svdb_fold_arms_plans_every_fold_and_skips_what_is_done(bench, tmp_path):
    arms_script = bench("svdb_fold_arms")
    arms = [arms_script.parse_arm("A="), arms_script.parse_arm("C=model.params.positions=8")]
    assert arms == [("A", []), ("C", ["model.params.positions=8"])]
    nested = arms_script.parse_arm('R=model.name=resnet1d,model.params={"a":1,"b":2},x=[N,S]')
    assert nested == ("R", ["model.name=resnet1d", 'model.params={"a":1,"b":2}', "x=[N,S]"])
    with pytest.raises(SystemExit, match="expected NAME=OVERRIDE"):
        arms_script.parse_arm("model.params.positions=8")  # no arm name
    trained = tmp_path / "models" / "A_f0_s0"  # one run trained and scored already
    trained.mkdir(parents=True)
    (trained / "metrics.json").write_text("{}")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "A_f0_s0.json").write_text("{}")
    seeds, groups = arms_script.plan(tmp_path, arms, ["0"], ["0"])
    assert len(seeds) == 2 * 4 - 1 and len(groups) == 2 * 4
    assert "A_f0_s0" not in [run for run, _ in seeds]
    first_c = dict(seeds)["C_f0_s0"]
    assert "data.mitbih.extra_test_fold=0" in first_c[0] and "train.seed=0" in first_c[0]
    assert "model.params.positions=8" in first_c[0] and first_c[1][-4:] == [
        "--only",
        "svdb",
        "--adapt",
        "none",
    ]
    run, (ensemble, _) = groups[0]
    assert run == "A_f0_e0" and ensemble[3] == "ensemble" and ensemble[-1].endswith(run)


def test_svdb_fold_arms_ds2_trains_on_all_svdb_and_scores_ds2(bench, tmp_path):
    arms_script = bench("svdb_fold_arms")
    arms = [arms_script.parse_arm("C=model.params.positions=8")]
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "C_e01.none.json").write_text("{}")  # self_train still missing
    seeds, groups = arms_script.plan(tmp_path, arms, ["0", "1"], ["01"], ds2=True)
    assert [run for run, _ in seeds] == ["C_s0", "C_s1"] and [run for run, _ in groups] == ["C_e01"]
    (train,) = dict(seeds)["C_s0"]  # single models are not scored on DS2
    assert not any("extra_test_fold" in arg for arg in train)  # no SVDB record held out
    assert "data.mitbih.extra_databases=[svdb]" in train and "train.seed=0" in train
    ensemble, score = dict(groups)["C_e01"]
    assert [Path(m).name for m in ensemble[4:6]] == ["C_s0", "C_s1"]
    assert score[-4:] == ["--only", "ds2", "--adapt", "none,self_train"]


def test_ec57_rescore_recomputes_aami_blocks_from_their_confusion(bench, tmp_path):
    """An old metrics.json (F beats called V counted as V false positives) is re-scored from
    its own confusion matrix; what needs predictions is named, not guessed."""
    from ecgzoo.metrics.aami import aami_table

    rescore = bench("ec57_rescore")
    cm = [[50, 0, 2, 0, 0], [0, 5, 0, 0, 0], [0, 0, 10, 0, 0], [0, 0, 4, 1, 0], [0, 0, 0, 0, 1]]
    old = [dict(r, FP=r["FP"] + r["uncounted"]) for r in aami_table(cm)]  # as before
    metrics = {
        "test": {"aami": old, "confusion_matrix": cm, "per_record": {}},
        "val": {"aami": old, "confusion_matrix": cm, "class_names": list("NSVFQ")},
        "model": {"name": "x"},
    }
    blocks = rescore.rescored_blocks(metrics | {"class_names": list("NSVFQ")})
    assert [(key, stale) for key, _, _, stale in blocks] == [("test", ["per_record"]), ("val", [])]
    v = {r["class"]: r for r in blocks[0][2]}["V"]
    assert (v["FP"], v["uncounted"], v["+P"]) == (2, 4, pytest.approx(10 / 12))
    path = tmp_path / "metrics.json"
    rescore.write_json(path, metrics)
    assert json.loads(path.read_text()) == metrics and [p.name for p in tmp_path.iterdir()] == [
        "metrics.json"
    ]


def test_fold_weights_copy_an_ensemble_with_its_decision_weights(bench, tmp_path):
    """Round OP's copies: the same folder, ``decision_weights`` set in ``model.json`` (what
    ``evaluate`` and ``annotate`` apply), the source left as it was."""
    weights = bench("svdb_fold_weights")
    src = tmp_path / "A_f0_e012"
    src.mkdir()
    (src / "model.json").write_text(json.dumps({"name": "ensemble", "params": {"members": []}}))
    (src / "model.safetensors").write_bytes(b"x")
    weights.weighted_copy(src, tmp_path / "OP_f0_e012", [1, 0.5, 2, 1, 1])
    got = json.loads((tmp_path / "OP_f0_e012" / "model.json").read_text())
    assert got["params"]["decision_weights"] == [1.0, 0.5, 2.0, 1.0, 1.0]
    assert "decision_weights" not in json.loads((src / "model.json").read_text())["params"]
    assert (tmp_path / "OP_f0_e012" / "model.safetensors").read_bytes() == b"x"


def test_detect_leads_counts_a_record_every_way(bench, mitdb_dir):
    """Record 100: each way's missed and false beats; the union misses no more than either
    lead, filling gaps no more than the first lead, and a higher confirmation score (round CF)
    adds no more peaks than a lower one."""
    module = bench("detect_leads")
    counts = module.counts(mitdb_dir / "100")
    grid = [f"confirm_{t:g}" for t in module.CONFIRM_GRID]
    assert set(counts) == {"first", "second", "union", "gaps", "gaps_margin", *grid}
    for lower, higher in zip(grid, grid[1:], strict=False):
        assert counts[higher]["fn"] >= counts[lower]["fn"]
        assert counts[higher]["fp"] <= counts[lower]["fp"]
    assert counts["union"]["fn"] <= min(counts["first"]["fn"], counts["second"]["fn"])
    assert counts["gaps"]["fn"] <= counts["first"]["fn"] <= 10
    assert counts["gaps"]["fp"] >= counts["first"]["fp"]


def test_svdb_folds_leaves_an_excluded_record_out_of_the_pool(bench, tmp_path):
    svdb_folds = bench("svdb_folds")
    zero = {"n": 0, "correct": 0, "S": 0, "S_tp": 0, "S_fp": 0, "V": 0, "V_tp": 0, "V_fp": 0}
    a = {**zero, "n": 10, "correct": 9, "S": 4, "S_tp": 2, "S_fp": 2}
    b = {**zero, "n": 10, "correct": 5, "S": 6, "S_tp": 0, "S_fp": 4}
    for fold, per_record in enumerate([{"800": a}, {"865": b}]):
        path = tmp_path / f"f{fold}.json"
        path.write_text(json.dumps({"svdb_ref": {"per_record": per_record}}))
    pattern = str(tmp_path / "f{fold}.json")
    both = svdb_folds.row_per_seed(pattern, "svdb_ref", 2, ["0"])[0]
    assert both["records"] == 2 and both["acc"] == pytest.approx(14 / 20)
    assert both["S F1"] == pytest.approx(2 * 2 / (2 * 2 + 6 + 8))
    alone = svdb_folds.row_per_seed(pattern, "svdb_ref", 2, ["0"], exclude=frozenset({"865"}))[0]
    assert alone["records"] == 1 and alone["acc"] == pytest.approx(9 / 10)
    assert alone["S F1"] == pytest.approx(0.5)
    with pytest.raises(SystemExit, match="--exclude 999"):
        svdb_folds.row_per_seed(pattern, "svdb_ref", 2, ["0"], exclude=frozenset({"999"}))
