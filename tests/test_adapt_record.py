"""The ``cluster`` and ``self_train`` adaptations (issue 19) on a real DS1 record with the small
recipe model of tests/data/beats_recipe: they read no label, are deterministic, change the
probabilities, and a bad ``--adapt`` is one line naming the option."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ecgzoo.errors import ConfigError

MODEL = Path(__file__).parent / "data" / "beats_recipe"
RECORD = "119"  # DS1: bigeminy, many V beats among N beats


@pytest.fixture(scope="module")
def record_split(mitdb_dir, tmp_path_factory):
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.train.external_beats import cnn_beats

    folder = tmp_path_factory.mktemp("one")
    for ext in (".hea", ".dat", ".atr"):
        shutil.copy(mitdb_dir / f"{RECORD}{ext}", folder / f"{RECORD}{ext}")
    run = load_run(MODEL)
    split, skipped, names, _ = cnn_beats(folder, run.input, None)
    assert names == [RECORD] and not skipped
    return run, split


@pytest.mark.parametrize("adapt", ["cluster", "self_train"])
def test_adaptation_reads_no_label_and_is_deterministic(record_split, adapt):
    from ecgzoo.train.external_beats import adapted_predictions

    run, split = record_split
    first = adapted_predictions(run.model, run.spec, split, adapt)
    y = split.y.copy()
    try:  # other labels (and none of the right ones) give identical output
        split.y = np.random.default_rng(0).integers(0, 5, len(y))
        np.testing.assert_array_equal(first, adapted_predictions(run.model, run.spec, split, adapt))
    finally:
        split.y = y
    plain = adapted_predictions(run.model, run.spec, split, "none")
    assert first.shape == plain.shape and np.allclose(first.sum(axis=1), 1.0, atol=1e-4)
    assert not np.allclose(first, plain)  # it does something
    # the loaded model is not changed by adapting a copy
    np.testing.assert_array_equal(plain, adapted_predictions(run.model, run.spec, split, "none"))


def test_cluster_rules(record_split):
    from ecgzoo.models.adapt_record import beat_clusters, cluster_adjusted

    run, split = record_split
    names = list(run.spec.class_names)
    from ecgzoo.train.evaluate import predict_split

    base = predict_split(run.model, run.spec, split)
    lab = beat_clusters(split.x, 8, 8, seed=0)
    np.testing.assert_array_equal(lab, beat_clusters(split.x, 8, 8, seed=0))
    q = cluster_adjusted(base, split.x, split.features, run.spec.side_features, names,
                         k=8, pca=8, smooth=1.0, anchor=True, premature=None)  # fmt: skip
    v = names.index("V")
    for c in np.unique(lab):  # smooth=1: one V probability per cluster, none in the largest
        assert np.ptp(q[lab == c, v]) < 1e-5
    assert np.all(q[lab == np.argmax(np.bincount(lab)), v] == 0)
    # premature=0 (nothing is premature): no beat keeps any S probability
    none_s = cluster_adjusted(base, split.x, split.features, run.spec.side_features, names,
                              premature=0.0)  # fmt: skip
    assert np.all(none_s[:, names.index("S")] == 0)
    # promote: the early beats of supraventricular shape all become S (in a record with few)
    early = cluster_adjusted(base, split.x, split.features, run.spec.side_features, names,
                             premature=0.9, promote=1.0)  # fmt: skip
    assert np.sum(early.argmax(1) == names.index("S")) > np.sum(base.argmax(1) == names.index("S"))
    with pytest.raises(ConfigError, match="--adapt cluster"):
        cluster_adjusted(base, split.x, None, "rr_features", names, premature=0.9)


@pytest.mark.slow  # two CLI subprocesses (seconds of imports each)
@pytest.mark.parametrize("command", ["annotate", "evaluate"])
def test_unknown_adaptation_is_one_line_naming_the_option(record_split, mitdb_dir, command):
    import os
    import subprocess
    import sys

    from ecgzoo.models.adapt import check_adaptation

    with pytest.raises(ConfigError, match="^--adapt: unknown adaptation 'clusters'"):
        check_adaptation("clusters")
    args = {
        "annotate": ["annotate", str(mitdb_dir / RECORD), "--model", str(MODEL), "--no-plots"],
        "evaluate": ["evaluate", str(MODEL), "--data", str(mitdb_dir)],
    }[command]
    res = subprocess.run(
        [sys.executable, "-m", "ecgzoo", *args, "--adapt", "clusters"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"}, timeout=300,
    )  # fmt: skip
    assert res.returncode == 2 and "--adapt" in res.stderr and "clusters" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_self_train_of_an_ensemble_fine_tunes_each_member_on_the_ensemble_labels(record_split):
    """Two copies of one model in an ensemble, self-trained, predict as the one model
    self-trained alone: the same pseudo-labels, the same side features, the same steps."""
    import torch

    from ecgzoo.models.adapt import standardised
    from ecgzoo.models.adapt_record import self_trained
    from ecgzoo.models.ensemble import Ensemble
    from ecgzoo.train.evaluate import predict_split

    run, split = record_split
    model = run.model
    member = {"name": run.config.model.name, "params": dict(run.config.model.params)}
    ens = Ensemble(model.n_leads, model.n_samples, model.n_classes, model.n_features, [member] * 2)
    for m in ens.members:
        m.load_state_dict(model.state_dict())
    ens.eval()
    base = predict_split(ens, run.spec, split)
    np.testing.assert_allclose(base, predict_split(model, run.spec, split), atol=1e-5)
    side = standardised(split.features, run.spec)
    alone = self_trained(model, split.x, side, base)
    both = self_trained(ens, split.x, side, base)
    got = predict_split(both, run.spec, split)
    np.testing.assert_allclose(got, predict_split(alone, run.spec, split), atol=1e-5)
    assert not np.allclose(got, base, atol=1e-3)  # the heads moved
    for m in both.members:  # only the heads: the trunks are the loaded model's
        for name, p in m.named_parameters():
            if not name.startswith("head."):
                torch.testing.assert_close(p, dict(model.named_parameters())[name])


def test_self_train_rounds_relabel_from_the_adapted_model_and_train_the_original_head(
    record_split,
):
    """``rounds: 1`` is one fine-tuning from the model's own probabilities; ``rounds: 2`` takes
    the pseudo-labels from round 1's predictions and fine-tunes the *original* head again."""
    from ecgzoo.models.adapt import standardised
    from ecgzoo.models.adapt_record import self_train_probabilities, self_trained
    from ecgzoo.train.evaluate import predict_split

    run, split = record_split
    side = standardised(split.features, run.spec)

    def predict(m):
        return predict_split(m, run.spec, split)

    base = predict(run.model)
    one = self_train_probabilities(run.model, split.x, side, base, predict, threshold=0.9)
    np.testing.assert_array_equal(
        one, predict(self_trained(run.model, split.x, side, base, threshold=0.9))
    )
    two = self_train_probabilities(run.model, split.x, side, base, predict, threshold=0.9, rounds=2)
    by_hand = predict(self_trained(run.model, split.x, side, one, threshold=0.9))
    np.testing.assert_array_equal(two, by_hand)
    # teach: rows it zeroes never teach (all zero: nothing is confident, nothing changes)
    silent = self_train_probabilities(
        run.model, split.x, side, base, predict, teach=np.zeros_like, rounds=2
    )
    np.testing.assert_allclose(silent, base, atol=1e-6)
    with pytest.raises(ConfigError, match="rounds"):
        self_train_probabilities(run.model, split.x, side, base, predict, rounds=0)
