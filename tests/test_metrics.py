"""Metric functions against hand-computed values and scikit-learn on fixed small examples."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from ecgzoo.metrics import (
    aami_markdown,
    aami_summary,
    aami_table,
    challenge_f1_from_confusion,
    challenge_scores,
    classification_metrics,
    flatten_metrics,
    sv_counts,
)

# --------------------------------------------------------------------------- classification

Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
Y_PRED = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 0])
# Hand count, rows = reference, cols = predicted:
#   N: idx 0,1,2,9 -> 0,1,0,0  = [3, 1, 0]
#   S: idx 3,4     -> 1,2      = [0, 1, 1]
#   V: idx 5,6,7,8 -> 2,2,0,2  = [1, 0, 3]
CM = [[3, 1, 0], [0, 1, 1], [1, 0, 3]]
Y_PROB = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.3, 0.6, 0.1],
        [0.7, 0.2, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.3, 0.6],
        [0.1, 0.1, 0.8],
        [0.2, 0.2, 0.6],
        [0.5, 0.1, 0.4],
        [0.1, 0.2, 0.7],
        [0.6, 0.3, 0.1],
    ]
)


def test_classification_metrics_hand_values():
    m = classification_metrics(Y_TRUE, Y_PRED, Y_PROB, ["N", "S", "V"])
    assert m["confusion_matrix"] == CM
    assert m["accuracy"] == pytest.approx(7 / 10)
    # column sums [4, 2, 4] and row sums [4, 2, 4]: P = R = F1 = (3/4, 1/2, 3/4)
    for name, value in zip("NSV", (0.75, 0.5, 0.75), strict=True):
        stats = m["per_class"][name]
        assert stats["precision"] == pytest.approx(value)
        assert stats["recall"] == pytest.approx(value)
        assert stats["f1"] == pytest.approx(value)
    assert [m["per_class"][c]["support"] for c in "NSV"] == [4, 2, 4]
    assert m["macro_f1"] == pytest.approx((0.75 + 0.5 + 0.75) / 3)
    assert m["macro_recall"] == pytest.approx(2 / 3)
    assert m["weighted_f1"] == pytest.approx((4 * 0.75 + 2 * 0.5 + 4 * 0.75) / 10)
    assert m["n_examples"] == 10
    assert m["class_names"] == ["N", "S", "V"]


def test_classification_metrics_match_sklearn():
    m = classification_metrics(Y_TRUE, Y_PRED, Y_PROB, ["N", "S", "V"])
    for avg in ("macro", "weighted"):
        assert m[f"{avg}_precision"] == pytest.approx(precision_score(Y_TRUE, Y_PRED, average=avg))
        assert m[f"{avg}_recall"] == pytest.approx(recall_score(Y_TRUE, Y_PRED, average=avg))
        assert m[f"{avg}_f1"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, average=avg))
    expected_auc = roc_auc_score(Y_TRUE, Y_PROB, multi_class="ovr", average="macro")
    assert m["roc_auc_macro"] == pytest.approx(expected_auc)
    assert m["roc_auc_skipped"] == []
    # class N one-vs-rest by hand: positive scores {0.8, 0.3, 0.7, 0.6}, negative scores
    # {0.2, 0.1, 0.1, 0.2, 0.5, 0.1}; of the 4*6 = 24 pairs, 0.8, 0.7 and 0.6 win all 6 (18)
    # and 0.3 wins 5 (loses to 0.5): AUC = 23/24
    assert m["roc_auc_per_class"]["N"] == pytest.approx(23 / 24)
    json.dumps(m, allow_nan=False)  # JSON-serialisable, no NaN


def test_absent_class_does_not_crash_or_warn():
    names = ["N", "S", "V", "Q"]  # Q (index 3) is absent from y_true and y_pred
    prob = np.hstack([Y_PROB * 0.9, np.full((len(Y_TRUE), 1), 0.1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = classification_metrics(Y_TRUE, Y_PRED, prob, names)
    assert m["roc_auc_skipped"] == ["Q"]
    expected = np.mean([roc_auc_score(Y_TRUE == k, prob[:, k]) for k in range(3)])
    assert m["roc_auc_macro"] == pytest.approx(expected)
    assert m["per_class"]["Q"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["confusion_matrix"][3] == [0, 0, 0, 0]
    assert len(m["confusion_matrix"]) == 4
    # macro averages over present classes, like sklearn's default
    assert m["macro_f1"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))
    json.dumps(m, allow_nan=False)


def test_zero_division_and_single_class():
    y_true = np.array([1, 1, 1, 1])
    y_pred = np.array([1, 0, 1, 1])
    prob = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = classification_metrics(y_true, y_pred, prob, ["A", "B"])
    assert m["roc_auc_macro"] is None
    assert set(m["roc_auc_skipped"]) == {"A", "B"}
    assert m["per_class"]["A"]["precision"] == 0.0  # predicted once, never right
    assert m["per_class"]["B"]["recall"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.75)


def test_classification_without_probabilities_and_flatten():
    m = classification_metrics(Y_TRUE, Y_PRED, None, ["N", "S", "V"])
    assert m["roc_auc_macro"] is None
    flat = flatten_metrics(m, prefix="val_")
    assert flat["val_accuracy"] == pytest.approx(0.7)
    assert flat["val_recall_S"] == pytest.approx(0.5)
    assert flat["val_support_N"] == 4.0
    assert "val_roc_auc_macro" not in flat
    assert all(isinstance(v, float) for v in flat.values())


def test_classification_rejects_bad_input():
    with pytest.raises(ValueError):
        classification_metrics([0, 1], [0], None, ["a", "b"])
    with pytest.raises(ValueError):
        classification_metrics([0, 2], [0, 1], None, ["a", "b"])
    with pytest.raises(ValueError):
        classification_metrics([0, 1], [0, 1], np.ones((2, 3)), ["a", "b"])


# --------------------------------------------------------------------------- AAMI EC57

# rows = reference, cols = predicted, order N S V F Q
AAMI_CM = [
    [90, 3, 2, 1, 4],  # N: 100 beats, 4 predicted Q -> FN for N
    [4, 15, 1, 0, 0],  # S: 20
    [2, 1, 25, 2, 0],  # V: 30
    [1, 0, 3, 6, 0],  # F: 10
    [1, 0, 1, 0, 3],  # Q: excluded from scoring entirely
]
# Scored beats: 100 + 20 + 30 + 10 = 160
# N: TP 90, FN 3+2+1+4 = 10, FP 4+2+1 = 7,   TN 160-90-10-7 = 53
# S: TP 15, FN 4+1 = 5,      FP 3+1+0 = 4,   TN 160-15-5-4 = 136
# V: TP 25, FN 2+1+2 = 5,    FP 2+1 = 3 (Fv = 3 not counted), TN 160-25-5-3-3 = 124
#    (WFDB bxb, the EC57 comparator: VFP = Nv + Sv, VTN = Nn+Ns+Nf+Nq + Sn+Ss+Sf+Sq +
#    Fn+Fs+Ff+Fq = 98 + 19 + 7 = 124)
# F: TP 6,  FN 1+3 = 4,      FP 1+0+2 = 3,   TN 160-6-4-3 = 147
AAMI_EXPECTED = {
    "N": dict(TP=90, FN=10, FP=7, TN=53, Se=90 / 100, P=90 / 97, FPR=7 / 60, F1=180 / 197),
    "S": dict(TP=15, FN=5, FP=4, TN=136, Se=15 / 20, P=15 / 19, FPR=4 / 140, F1=30 / 39),
    "V": dict(TP=25, FN=5, FP=3, TN=124, Se=25 / 30, P=25 / 28, FPR=3 / 127, F1=50 / 58),
    "F": dict(TP=6, FN=4, FP=3, TN=147, Se=6 / 10, P=6 / 9, FPR=3 / 150, F1=12 / 19),
}
UNCOUNTED_EXPECTED = {"N": 0, "S": 0, "V": 3, "F": 0}


def test_aami_table_hand_computed():
    table = aami_table(AAMI_CM, ["N", "S", "V", "F", "Q"])
    assert [row["class"] for row in table] == ["N", "S", "V", "F"]
    for row in table:
        exp = AAMI_EXPECTED[row["class"]]
        assert (row["TP"], row["FN"], row["FP"], row["TN"]) == (
            exp["TP"],
            exp["FN"],
            exp["FP"],
            exp["TN"],
        )
        assert row["support"] == exp["TP"] + exp["FN"]
        assert row["Se"] == pytest.approx(exp["Se"])
        assert row["+P"] == pytest.approx(exp["P"])
        assert row["FPR"] == pytest.approx(exp["FPR"])
        assert row["Sp"] == pytest.approx(1 - exp["FPR"])
        assert row["F1"] == pytest.approx(exp["F1"])
        uncounted = UNCOUNTED_EXPECTED[row["class"]]
        assert row["uncounted"] == uncounted
        assert row["Acc"] == pytest.approx((exp["TP"] + exp["TN"]) / (160 - uncounted))
    json.dumps(table, allow_nan=False)


def test_aami_fusion_rule_and_pooled_counts():
    """EC57's fusion rule alone: F beats called V leave V's +P as it was without them, and the
    stricter count is FP + uncounted; F beats called S stay S false positives (bxb: SFP = Ns +
    Vs + Fs). ``sv_counts`` gives the same FP as the table, so pooled figures agree with it."""
    cm = np.zeros((5, 5), dtype=int)
    cm[0, 0], cm[2, 2], cm[0, 2] = 100, 40, 10  # N, V, N called V
    without = {r["class"]: r for r in aami_table(cm)}
    cm[3, 2], cm[3, 1], cm[4, 2] = 7, 2, 5  # F called V, F called S, Q called V
    table = {r["class"]: r for r in aami_table(cm)}
    assert table["V"]["FP"] == 10 and table["V"]["uncounted"] == 7
    assert table["V"]["+P"] == without["V"]["+P"] == pytest.approx(40 / 50)
    assert table["V"]["TN"] == without["V"]["TN"] + 2  # the F beat called S is a V true negative
    assert table["S"]["FP"] == 2 and table["S"]["uncounted"] == 0
    assert table["F"]["FN"] == 9  # still missed fusion beats
    counts = sv_counts(cm)
    assert counts == {
        "S": 0, "S_tp": 0, "S_fp": 2, "V": 40, "V_tp": 40, "V_fp": 10, "V_uncounted": 7,
        "n": int(cm.sum()), "correct": 140,
    }  # fmt: skip


def test_aami_unmatched_beats_count_as_bxb_counts_them():
    """End to end, beats on one side only, by ``bxb``'s formulas on the matrix above:
    missed (No, So, Vo, Fo, Qo) = (5, 3, 2, 1, 4), extra detections (On, Os, Ov, Of, Oq) =
    (6, 2, 4, 1, 0). SFN = Sn+Sv+Sf+Sq+So = 5+3, SFP = Ns+Vs+Fs+Os = 4+2; VFN = 5+2,
    VFP = Nv+Sv+Ov = 3+4 (Fv still uncounted); VTN gains the extra detections not called V
    (6+2+1) and no undetected beat; reference Q beats, matched or not, stay out."""
    from ecgzoo.metrics.aami import NOT_MATCHED, with_detection

    cm, names = with_detection(AAMI_CM, ["N", "S", "V", "F", "Q"], [5, 3, 2, 1, 4], [6, 2, 4, 1, 0])
    assert names[-1] == NOT_MATCHED and cm.shape == (6, 6)
    table = {r["class"]: r for r in aami_table(cm, names)}
    s, v, n = table["S"], table["V"], table["N"]
    assert (s["TP"], s["FN"], s["FP"]) == (15, 8, 6) and s["support"] == 23
    assert s["TN"] == AAMI_EXPECTED["S"]["TN"] + (6 + 4 + 1)  # On + Ov + Of: extra, not S
    assert (v["TP"], v["FN"], v["FP"], v["uncounted"]) == (25, 7, 7, 3)
    assert v["TN"] == AAMI_EXPECTED["V"]["TN"] + (6 + 2 + 1)
    assert v["F1"] == pytest.approx(50 / (50 + 7 + 7))
    assert (n["FN"], n["FP"]) == (15, 13)
    counts = sv_counts(cm, names)  # per-record counts pool the same way; n, correct: matched
    assert (counts["S"], counts["S_fp"], counts["V"], counts["V_fp"]) == (23, 6, 32, 7)
    assert (
        counts["n"] == int(np.asarray(AAMI_CM).sum()) and counts["correct"] == 90 + 15 + 25 + 6 + 3
    )
    unchanged = with_detection(AAMI_CM, ["N", "S", "V", "F", "Q"], [0] * 5, [0] * 5)
    assert aami_table(*unchanged) == aami_table(AAMI_CM)
    with pytest.raises(ValueError, match="with_detection"):
        with_detection(AAMI_CM, ["N", "S", "V", "F", "Q"], [0] * 4, [0] * 5)


def test_aami_class_order_markdown_and_summary():
    order = [4, 3, 2, 1, 0]  # Q F V S N
    permuted = np.asarray(AAMI_CM)[np.ix_(order, order)]
    assert aami_table(permuted, ["Q", "F", "V", "S", "N"]) == aami_table(AAMI_CM)
    four = np.asarray(AAMI_CM)[:4, :4]  # without Q: N loses its 4 Q-predicted misses
    assert aami_table(four, ["N", "S", "V", "F"])[0]["FN"] == 6

    md = aami_markdown(aami_table(AAMI_CM))
    assert md.splitlines()[0].startswith("| Class | Support | TP | FN | FP | TN | Se (%)")
    assert "| N | 100 | 90 | 10 | 7 | 53 | 90.00 | 92.78 |" in md
    summary = aami_summary(AAMI_CM)
    assert summary["aami_S_Se"] == pytest.approx(0.75)
    assert summary["aami_F_+P"] == pytest.approx(6 / 9)


def test_aami_undefined_and_errors():
    cm = np.zeros((5, 5), dtype=int)
    cm[0, 0] = 10  # only N beats
    table = aami_table(cm)
    f_row = table[3]
    assert f_row["Se"] is None and f_row["+P"] is None
    assert f_row["FPR"] == 0.0
    assert "n/a" in aami_markdown(table)
    with pytest.raises(ValueError):
        aami_table(np.zeros((4, 4)), ["N", "S", "V", "Q"])
    with pytest.raises(ValueError):
        aami_table(np.zeros((3, 3)), ["N", "S", "V", "F", "Q"])


# --------------------------------------------------------------------------- CinC 2017

# rows = reference, cols = predicted, order N A O ~
CHALLENGE_CM = [
    [50, 2, 8, 0],  # row sum 60
    [1, 10, 3, 1],  # 15
    [6, 2, 20, 2],  # 30
    [1, 0, 2, 2],  # 5
]
# column sums: N 58, A 14, O 33, ~ 5
# F1_N = 2*50 / (60 + 58) = 100/118
# F1_A = 2*10 / (15 + 14) = 20/29
# F1_O = 2*20 / (30 + 33) = 40/63
# F1_~ = 2*2  / (5 + 5)   = 4/10
F1_N, F1_A, F1_O, F1_NOISY = 100 / 118, 20 / 29, 40 / 63, 0.4


def test_challenge_f1_from_confusion_hand_computed():
    s = challenge_f1_from_confusion(CHALLENGE_CM)
    assert s["f1_N"] == pytest.approx(F1_N)
    assert s["f1_A"] == pytest.approx(F1_A)
    assert s["f1_O"] == pytest.approx(F1_O)
    assert s["f1_noisy"] == pytest.approx(F1_NOISY)
    assert s["challenge_f1"] == pytest.approx((F1_N + F1_A + F1_O) / 3)
    # (0.84746 + 0.68966 + 0.63492) / 3 = 2.17204 / 3 = 0.72401
    assert s["challenge_f1"] == pytest.approx(0.72401, abs=1e-5)
    assert s["f1_mean4"] == pytest.approx((F1_N + F1_A + F1_O + F1_NOISY) / 4)
    assert s["accuracy"] == pytest.approx(82 / 110)
    assert s["n_records"] == 110
    json.dumps(s, allow_nan=False)


def _labels_from_confusion(cm):
    y_true, y_pred = [], []
    for i, row in enumerate(cm):
        for j, count in enumerate(row):
            y_true += [i] * count
            y_pred += [j] * count
    return np.array(y_true), np.array(y_pred)


def test_challenge_scores_from_labels():
    yt, yp = _labels_from_confusion(CHALLENGE_CM)
    s = challenge_scores(yt, yp)
    assert s["confusion_matrix"] == CHALLENGE_CM
    assert s["challenge_f1"] == pytest.approx((F1_N + F1_A + F1_O) / 3)
    # per-class challenge F1 is the ordinary F1 score
    per_class = f1_score(yt, yp, labels=[0, 1, 2, 3], average=None)
    assert [s["f1_N"], s["f1_A"], s["f1_O"], s["f1_noisy"]] == pytest.approx(per_class)
    names = np.array(["N", "A", "O", "~"])
    s_str = challenge_scores(names[yt], names[yp])
    assert s_str["challenge_f1"] == pytest.approx(s["challenge_f1"])
    # another class order gives the same scores
    order = ["~", "O", "A", "N"]
    remap = np.array([order.index(c) for c in names])
    s_perm = challenge_scores(remap[yt], remap[yp], class_names=order)
    assert s_perm["challenge_f1"] == pytest.approx(s["challenge_f1"])
    assert s_perm["confusion_matrix"] == CHALLENGE_CM


def test_challenge_absent_class_and_errors():
    s = challenge_scores(["N", "N", "A"], ["N", "A", "A"])
    assert s["f1_O"] == 0.0 and s["f1_noisy"] == 0.0
    assert s["f1_N"] == pytest.approx(2 / 3)  # 2*1 / (2 + 1)
    with pytest.raises(ValueError):
        challenge_scores(["N", "X"], ["N", "N"])
    with pytest.raises(ValueError):
        challenge_f1_from_confusion(np.zeros((3, 3)))
