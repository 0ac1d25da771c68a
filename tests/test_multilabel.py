"""Multi-label metrics, validation thresholds and the BCE loss helper."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score

from ecgzoo.metrics.challenge2021 import dx_codes_from_header, load_scoring
from ecgzoo.metrics.multilabel import LABEL_GROUPS, choose_thresholds, group_of, multilabel_metrics
from ecgzoo.train.multilabel import multilabel_loss, positive_weights


@pytest.fixture(scope="module")
def real_labels(physionet_mirror):
    """Multi-hot scored labels of the 149 real 2021 records, and the class abbreviations."""
    scoring = load_scoring(physionet_mirror / "challenge-2021" / "scoring")
    headers = sorted((physionet_mirror / "challenge-2021").glob("1.0.3/training/*/g1/*.hea"))
    return scoring.encode_many([dx_codes_from_header(h) for h in headers]), scoring.abbreviations


def test_every_scored_class_has_exactly_one_group(real_labels):
    _, names = real_labels
    groups = [group_of(n) for n in names]
    assert None not in groups
    members = [m for ms in LABEL_GROUPS.values() for m in ms]
    assert sorted(members) == sorted(names)  # each of the 26 in exactly one group
    assert group_of("LAD") == "axis deviations" and group_of("LQT") == "prolonged intervals"
    assert group_of("RBBB") == "conduction disorders"  # a part of a merged class


def test_metrics_match_sklearn_and_groups_average_their_labels(real_labels):
    y, names = real_labels
    rng = np.random.default_rng(0)
    prob = np.clip(0.6 * y + rng.uniform(0, 0.6, y.shape), 0, 1)
    m = multilabel_metrics(y, prob, names, thresholds=0.5)
    k = names.index("NSR")
    assert m["per_label"]["NSR"]["auroc"] == pytest.approx(roc_auc_score(y[:, k], prob[:, k]))
    assert m["per_label"]["NSR"]["f1"] == pytest.approx(f1_score(y[:, k], prob[:, k] >= 0.5))
    scored = [n for n in names if m["per_label"][n]["support"] > 0]
    assert m["n_labels_scored"] == len(scored) == int((y.sum(axis=0) > 0).sum())
    assert m["macro_f1"] == pytest.approx(np.mean([m["per_label"][n]["f1"] for n in scored]))
    assert m["groups"]["axis deviations"]["labels"] == ["LAD", "RAD"]
    conduction = m["groups"]["conduction disorders"]
    present = [n for n in conduction["labels"] if m["per_label"][n]["support"] > 0]
    assert len(present) >= 3 and conduction["n_labels_scored"] == len(present)
    assert conduction["macro_auroc"] == pytest.approx(
        np.mean([m["per_label"][n]["auroc"] for n in present])
    )
    exact = np.mean(np.all((prob >= 0.5) == (y > 0), axis=1))  # records with every label right
    assert m["subset_accuracy"] == pytest.approx(exact) and m["n"] == 149


def test_thresholds_maximise_validation_f1_per_label():
    rng = np.random.default_rng(1)
    y = rng.random((400, 3)) < [0.5, 0.1, 0.0]
    prob = np.clip(0.25 * y + rng.uniform(0, 0.75, y.shape), 0, 1)
    t = choose_thresholds(prob, y)
    assert t[2] == 0.5  # no positive: the default
    for k in (0, 1):
        best = f1_score(y[:, k], prob[:, k] >= t[k])
        for cut in np.unique(prob[:, k]):  # no other cut does better on validation
            assert f1_score(y[:, k], prob[:, k] >= cut) <= best + 1e-12
    assert t[1] > 0.25  # the rare label needs a higher cut than the score floor
    m = multilabel_metrics(y, prob, ["a", "b", "c"], thresholds=t, groups=None)
    assert m["thresholds"] == pytest.approx(list(t)) and m["groups"] == {}
    assert m["per_label"]["c"]["auroc"] is None and m["n_labels_scored"] == 2


def test_positive_weights_and_loss(real_labels):
    y, _ = real_labels
    w = positive_weights(y)
    pos = y.sum(axis=0)
    k = int(np.argmax(pos))
    assert w[k].item() == pytest.approx((len(y) - pos[k]) / pos[k])
    assert positive_weights(y, max_weight=5.0).max().item() <= 5.0
    assert positive_weights(y, power=0.0).eq(1).all()
    logits = torch.zeros(len(y), y.shape[1])
    target = torch.from_numpy(y.astype(np.float32))
    plain = multilabel_loss()(logits, target)
    assert plain.item() == pytest.approx(np.log(2), rel=1e-6)
    weighted = multilabel_loss(y, pos_weight=True)(logits, target)
    assert weighted.item() > plain.item()  # rare positives now weigh more
    with pytest.raises(ValueError, match="shape"):
        positive_weights(np.zeros(5))
