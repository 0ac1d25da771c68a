"""Issue 19, DS1 fold selection: beat models trained on record-wise DS1 folds of real MIT-BIH
records, joined into a fold ensemble whose decision weights (operating point ``sv_f1``) are
chosen on the out-of-fold DS1 predictions only; the RR-irregularity context set; the fixed
schedule (``train.monitor: epoch``) with a validation fold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ecgzoo.datasets.contextset import CONTEXT_SETS, features_of_set
from ecgzoo.datasets.loading import load_data
from ecgzoo.datasets.splits import DS1, DS2
from ecgzoo.errors import EcgzooError
from ecgzoo.experiment import build_config
from ecgzoo.metrics.operating_points import apply_weights, choose_weights
from ecgzoo.train.evaluate import predict_split, score_predictions

# DS1: 101, 106, 109, 118; DS2: 100, 232
RECORDS = ["101", "106", "109", "118", "100", "232"]


def member_config(tmp: Path, fold: int) -> dict:
    return {
        "name": f"fold-{fold}",
        "output_dir": str(tmp),
        "data": {
            "dataset": "mitbih",
            "seed": 1,
            "mitbih": {
                "segmentation": "centered",
                "split": "inter",
                "fs": 128.0,
                "records": RECORDS,
                "rr_context_set": "rr_log_irregularity",
                "median_beat_channel": True,
                "train_exclude_classes": ["Q"],
                "inter_validation": "fold",
                "n_val_folds": 2,
                "val_fold": fold,
            },
        },
        "model": {"name": "beat_cnn", "params": {"n_layers": 2, "width": 8, "hidden": 16}},
        "train": {
            "epochs": 2,
            "batch_size": 64,
            "max_steps_per_epoch": 4,
            "num_threads": 1,
            "loss": "weighted_ce",
            "class_weight_cap": 20.0,
            "monitor": "epoch",
            "monitor_mode": "max",
            "train_loss_examples": 0,
        },
    }


@pytest.fixture(scope="module")
def folds(tmp_path_factory, mitdb_dir) -> list[Path]:
    from ecgzoo.train.engine import train_run

    tmp = tmp_path_factory.mktemp("folds")
    return [train_run(build_config(member_config(tmp, k)), progress=False).run_dir for k in (0, 1)]


@pytest.fixture(scope="module")
def joined(folds, tmp_path_factory) -> tuple[Path, dict]:
    from ecgzoo.train.ensemble import join_runs

    out = tmp_path_factory.mktemp("ens") / "beat-folds"
    return out, join_runs(folds, out, operating_point="sv_f1")


def test_rr_log_irregularity_adds_the_log_irregularities():
    peaks = np.cumsum(np.r_[100, np.full(30, 300), 180, 420, np.full(30, 300)])
    both = features_of_set("rr_log_irregularity", peaks, 360.0)
    np.testing.assert_array_equal(both[:, :6], features_of_set("rr_log_ratios", peaks, 360.0))
    irregular = features_of_set("rr_context", peaks, 360.0)[:, 6:]  # the raw irregularities
    np.testing.assert_allclose(both[:, 6:], np.log(np.clip(irregular, 1e-3, None)), rtol=1e-5)
    assert len(CONTEXT_SETS["rr_log_irregularity"]) == both.shape[1] == 8


def test_rr_log_slow_measures_rr_against_the_slower_half():
    """A run of tachycardia (0.45 s) holding most of the record is fast against the slower
    half's mean RR (1 s) while its ratios to the record's mean RR say much less."""
    peaks = np.cumsum(np.r_[0, np.full(30, 360), np.full(50, 162)])
    slow = features_of_set("rr_log_slow", peaks, 360.0)
    np.testing.assert_array_equal(slow[:, :6], features_of_set("rr_log_ratios", peaks, 360.0))
    assert len(CONTEXT_SETS["rr_log_slow"]) == slow.shape[1] == 8
    half = np.zeros(len(peaks), bool)
    half[:41] = True  # the 30 slow beats and, ties by position, the run's first 11
    pre = np.r_[360, np.full(30, 360), np.full(50, 162)].astype(float)
    slow_rr = pre[half].mean()
    np.testing.assert_allclose(np.exp(slow[:, 6]), pre / slow_rr, rtol=1e-5)
    inside_run = slice(50, 81)
    np.testing.assert_allclose(np.exp(slow[inside_run, 7]), 162 / slow_rr, rtol=1e-5)
    assert np.all(slow[inside_run, 6] < np.log(0.6))  # fast against the slower half


def test_the_config_offers_every_context_set_and_the_run_folder_accepts_them():
    """One list of side inputs: the config's choices, the InputSpec's and the run folder's."""
    from typing import get_args

    from ecgzoo.datasets.mitbih_options import MitbihOptions
    from ecgzoo.examples.input_spec import SIDE_FEATURE_SETS
    from ecgzoo.runs import runfolder

    offered = get_args(get_args(MitbihOptions.model_fields["rr_context_set"].annotation)[0])
    assert set(offered) == set(CONTEXT_SETS)
    assert SIDE_FEATURE_SETS == ("rr_features", *CONTEXT_SETS)
    assert runfolder.SIDE_FEATURE_SETS is SIDE_FEATURE_SETS


def test_fixed_schedule_trains_with_a_validation_fold(folds):
    history = (folds[0] / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + both epochs: the last one is kept


def test_fold_ensemble_chooses_its_weights_on_ds1_out_of_fold_only(folds, joined):
    from ecgzoo.runs.loaded import load_run

    out, metrics = joined
    configs = [build_config(member_config(Path("unused"), k)) for k in (0, 1)]
    data = [load_data(c.data) for c in configs]
    held = [set(np.unique(d.val.groups).tolist()) for d in data]
    ds1, ds2 = {int(r) for r in DS1}, {int(r) for r in DS2}
    assert not held[0] & held[1] and held[0] | held[1] == {101, 106, 109, 118} <= ds1
    assert set(np.unique(data[0].test.groups).tolist()) == {100, 232} <= ds2
    # out of fold: each DS1 record's beats predicted by the member that did not train on it
    members = [load_run(f) for f in folds]
    prob = np.concatenate(
        [predict_split(m.model, m.spec, d.val) for m, d in zip(members, data, strict=True)]
    )
    y = np.concatenate([d.val.y for d in data])
    assert metrics["n_val_out_of_fold"] == len(y)
    names = members[0].spec.class_names
    chosen = choose_weights(prob, y, "sv_f1", names)
    assert metrics["operating_point"]["weights"] == dict(zip(names, chosen.weights, strict=True))
    assert metrics["operating_point"]["chosen_on"] == "val_out_of_fold"
    at_weights = score_predictions(y, prob, names, None, chosen.weights)
    assert metrics["val_out_of_fold"]["confusion_matrix"] == at_weights["confusion_matrix"]
    argmax = score_predictions(y, prob, names)
    assert metrics["val_out_of_fold_argmax"]["confusion_matrix"] == argmax["confusion_matrix"]
    # the weights travel in model.json and every command's loader applies them
    ens = load_run(out)
    assert ens.spec.params["decision_weights"] == chosen.weights
    test = predict_split(ens.model, ens.spec, data[0].test)
    mean = np.mean([predict_split(m.model, m.spec, data[0].test) for m in members], axis=0)
    np.testing.assert_array_equal(test.argmax(1), apply_weights(mean, chosen.weights))
    weighted = mean * np.asarray(chosen.weights)
    np.testing.assert_allclose(test, weighted / weighted.sum(1, keepdims=True), atol=1e-5)


def test_no_test_record_reaches_training_validation_or_standardisation(folds):
    """The DS2 records (100, 232) and SVDB (800-894, the other test database) are in no
    member's training or validation part, and each member's side-feature standardisation
    (``model.json``) is its own training part's, with nothing of the test split in it."""
    from ecgzoo.runs.loaded import load_run

    ds1, ds2 = {int(r) for r in DS1}, {int(r) for r in DS2}
    for k, folder in enumerate(folds):
        data = load_data(build_config(member_config(Path("unused"), k)).data)
        seen = set(np.unique(data.train.groups).tolist()) | set(np.unique(data.val.groups))
        assert seen <= ds1 and not seen & ds2 and max(seen) < 800
        assert set(np.unique(data.test.groups).tolist()) == {100, 232}
        spec = load_run(folder).spec
        train = np.asarray(data.train.features, dtype=np.float64)
        np.testing.assert_allclose(spec.feature_mean, train.mean(0), rtol=1e-6)
        np.testing.assert_allclose(spec.feature_std, train.std(0) + 1e-6, rtol=1e-6)
        with_test = np.concatenate([train, np.asarray(data.test.features, dtype=np.float64)])
        assert not np.allclose(spec.feature_mean, with_test.mean(0), rtol=1e-3)


def test_decision_weights_are_checked():
    from ecgzoo.models.ensemble import Ensemble

    members = [{"name": "beat_cnn", "params": {"n_layers": 1, "width": 4, "hidden": 8}}]
    with pytest.raises(ValueError, match="decision_weights"):
        Ensemble(1, 90, 5, 0, members, decision_weights=[1.0, 0.0, 1.0, 1.0, 1.0])
    model = Ensemble(1, 90, 5, 0, members, decision_weights=[1.0, 2.0, 1.0, 1.0, 1.0]).eval()
    assert "log_decision_weights" not in model.state_dict()  # the members' files stay theirs
    x = torch.randn(3, 1, 90)
    plain = Ensemble(1, 90, 5, 0, members).eval()
    plain.load_state_dict(model.state_dict())
    shift = model(x) - plain(x)
    assert torch.allclose(shift[:, 1] - shift[:, 0], torch.full((3,), float(np.log(2.0))))


def test_unknown_operating_point_is_one_line(folds, tmp_path):
    from ecgzoo.train.ensemble import join_runs

    with pytest.raises(EcgzooError, match="--operating-point: unknown"):
        join_runs(folds, tmp_path / "x", operating_point="best")
    assert not (tmp_path / "x").exists()


def test_annotate_applies_the_fold_ensemble_as_evaluate_does(joined, mitdb_dir, tmp_path):
    """`annotate` (its own apply path, reference peaks scored) takes the fold ensemble with its
    decision weights and per-member standardisation; its classes follow the weights."""
    from ecgzoo.api import annotate

    out, _ = joined
    folder = tmp_path / "rec"
    folder.mkdir()
    for ext in ("hea", "dat", "atr"):
        (folder / f"232.{ext}").symlink_to(mitdb_dir / f"232.{ext}")
    result = annotate(folder / "232", str(out), write=False, plots=False, reference="atr")[0]
    ann = result.annotation
    kept = ann.labels >= 0
    assert ann.prob.shape == (len(ann.samples), 5) and kept.mean() > 0.99
    np.testing.assert_allclose(ann.prob[kept].sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(ann.labels[kept], ann.prob[kept].argmax(1))
    assert result.score is not None


def test_extra_svdb_training_beats_are_cut_like_mitbih(monkeypatch):
    """DS1 + SVDB: the SVDB training beats get the MIT-BIH options' segmentation and fiducial."""
    from ecgzoo.datasets import svdb
    from ecgzoo.datasets.mitbih import add_training_databases
    from ecgzoo.datasets.mitbih_options import MitbihOptions

    seen = []

    def fake(db_dir, options, cache_dir=None):
        seen.append(options)
        raise RuntimeError("stop")

    monkeypatch.setattr(svdb, "prepare_beats", fake)
    options = MitbihOptions(
        segmentation="centered", split="inter", fs=128.0, extra_databases=["svdb"],
        align_fiducial="qrs_extremum", before_s=0.3,
    )  # fmt: skip
    empty = np.zeros(0, dtype=np.int64)
    with pytest.raises(RuntimeError, match="stop"):
        add_training_databases({}, (empty, empty, empty), options, {})
    assert seen[0].align_fiducial == "qrs_extremum" and seen[0].before_s == 0.3
    assert seen[0].fs == 128.0 and seen[0].segmentation == "centered"


def test_sv_f1_point_maximises_the_mean_s_and_v_f1():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y = rng.choice(5, size=3000, p=[0.8, 0.05, 0.1, 0.04, 0.01])
    prob = rng.dirichlet(np.ones(5), size=len(y))
    prob[np.arange(len(y)), y] += 0.3  # an informative but imperfect model
    prob /= prob.sum(1, keepdims=True)
    names = ["N", "S", "V", "F", "Q"]
    chosen = choose_weights(prob, y, "sv_f1", names)

    def sv(pred):  # EC57: Q (4) reference beats left out, F (3) beats called V not counted
        from ecgzoo.metrics.aami import aami_table

        cm = np.zeros((5, 5), dtype=int)
        np.add.at(cm, (y, pred), 1)
        rows = {r["class"]: r for r in aami_table(cm)}
        return (rows["S"]["F1"] + rows["V"]["F1"]) / 2

    assert chosen.chosen_scores["sv_f1"] == pytest.approx(sv(apply_weights(prob, chosen.weights)))
    assert (
        chosen.chosen_scores["sv_f1"]
        >= sv(prob.argmax(1))
        == pytest.approx(chosen.argmax_scores["sv_f1"])
    )
    assert chosen.weights[0] == chosen.weights[3] == chosen.weights[4] == 1.0  # N, F, Q
    assert chosen.weights[1:3] != [1.0, 1.0] and chosen.accuracy_floor == 0.0
    plain = f1_score(y, chosen_pred := apply_weights(prob, chosen.weights), labels=[1, 2],
                     average="macro", zero_division=0)  # fmt: skip
    assert plain < sv(chosen_pred)  # the F and Q beats called S or V are left out
    with pytest.raises(ValueError, match="S, V and F"):
        choose_weights(prob, y, "sv_f1", ["N", "A", "O", "~", "x"])
