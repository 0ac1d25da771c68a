"""Operating points (issue 12): decision weights chosen on validation, applied to test."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from ecgzoo.metrics.operating_points import apply_weights, choose_weights, confusion_scores
from tests.test_cli import REPO, ecgzoo


@pytest.fixture(scope="module")
def intra(mitdb_dir):
    """The shipped intra-patient model, its own intra split and its validation probabilities."""
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.runs.runfolder import read_run_config, resolve_run
    from ecgzoo.train.evaluate import load_trained_model, predict_split

    folder = resolve_run("pretrained:mitbih-intra")
    model, spec = load_trained_model(folder)
    data = load_data(read_run_config(folder).data)
    return model, spec, data, predict_split(model, spec, data.val)


def test_vectorised_scores_equal_scikit_learn(intra):
    _, spec, data, prob = intra
    y = np.asarray(data.val.y)
    weights = [np.ones(5), np.array([1.0, 3.0, 0.5, 20.0, 1.0]), np.array([1, 1e-3, 1, 1, 1e3])]
    preds = np.stack([apply_weights(prob, w) for w in weights])
    got = confusion_scores(y, preds, len(spec.class_names))
    for i, p in enumerate(preds):
        present = sorted(set(y.tolist()) | set(p.tolist()))
        assert got["accuracy"][i] == pytest.approx(accuracy_score(y, p))
        rec = recall_score(y, p, labels=present, average="macro", zero_division=0)
        f1 = f1_score(y, p, labels=present, average="macro", zero_division=0)
        assert got["macro_recall"][i] == pytest.approx(rec)
        assert got["macro_f1"][i] == pytest.approx(f1)


def test_points_beat_argmax_on_real_validation_and_are_deterministic(intra):
    _, spec, data, prob = intra
    names = spec.class_names
    recall = choose_weights(prob, data.val.y, "recall", names, accuracy_floor=0.969)
    base = recall.argmax_scores
    assert recall.floor_met and recall.chosen_scores["accuracy"] >= 0.969
    assert recall.chosen_scores["macro_recall"] > base["macro_recall"] + 0.01
    accuracy = choose_weights(prob, data.val.y, "accuracy", names)
    assert accuracy.chosen_scores["accuracy"] >= base["accuracy"]
    assert accuracy.chosen_scores["macro_f1"] >= base["macro_f1"]
    again = choose_weights(prob.copy(), np.array(data.val.y), "recall", names, 0.969)
    assert again.weights == recall.weights
    argmax = choose_weights(prob, data.val.y, "argmax", names)
    assert argmax.weights == [1.0] * len(names)


def test_weights_are_chosen_on_validation_never_on_test(intra):
    from ecgzoo.train.evaluate import evaluate_at_operating_point

    model, spec, full, _ = intra
    # 3,000 beats of each split keep it fast; every class keeps its validation beats
    pick = np.random.default_rng(1).permutation(len(full.val))[:3000]
    rare = np.flatnonzero(np.asarray(full.val.y) != 0)
    val = full.val.subset(np.union1d(pick, rare))
    data = dataclasses.replace(full, val=val, test=full.test.subset(np.arange(3000)))
    first = evaluate_at_operating_point(model, spec, data, "test", "recall", 0.969)
    rng = np.random.default_rng(0)
    shuffled_test = dataclasses.replace(data.test, y=rng.permutation(data.test.y))
    other = dataclasses.replace(data, test=shuffled_test)
    second = evaluate_at_operating_point(model, spec, other, "test", "recall", 0.969)
    assert second["operating_point"] == first["operating_point"]  # the choice never saw test
    assert second["confusion_matrix"] != first["confusion_matrix"]  # but test was scored
    shuffled_val = dataclasses.replace(data.val, y=rng.permutation(data.val.y))
    third = dataclasses.replace(data, val=shuffled_val)
    moved = evaluate_at_operating_point(model, spec, third, "test", "recall", 0.969)
    assert moved["operating_point"]["weights"] != first["operating_point"]["weights"]
    assert first["operating_point"]["chosen_on"] == "val"
    # argmax is the plain scoring of the split
    from ecgzoo.train.evaluate import evaluate_split

    plain, _ = evaluate_split(model, spec, data.test)
    at_argmax = evaluate_at_operating_point(model, spec, data, "test", "argmax")
    assert at_argmax["confusion_matrix"] == plain["confusion_matrix"]


def test_cli_reports_the_weights_and_refuses_an_unknown_point(mitdb_dir):
    args = ("--operating-point", "accuracy", "--split", "val", "--json")
    result = ecgzoo("evaluate", "pretrained:mitbih-intra", *args, cwd=REPO)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    op = metrics["operating_point"]
    assert op["name"] == "accuracy" and set(op["weights"]) == {"N", "S", "V", "F", "Q"}
    assert op["chosen_scores"]["macro_f1"] >= op["argmax_scores"]["macro_f1"]
    assert metrics["n"] == sum(map(sum, metrics["confusion_matrix"]))
    bad = ecgzoo("evaluate", "pretrained:mitbih-intra", "--operating-point", "best", cwd=REPO)
    assert bad.returncode == 2 and "--operating-point: unknown 'best'" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
