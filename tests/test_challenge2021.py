"""The 2021 challenge score against a plain re-statement of the official evaluation loops.

The reference below restates ``load_weights``, ``load_labels``, the output merge of
``load_classifier_outputs``, ``compute_modified_confusion_matrix`` and
``compute_challenge_metric`` of physionetchallenges/evaluation-2021 (``evaluate_model.py``) as
loops over records and classes; ecgzoo's vectorised version must agree with it on real labels.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgzoo.errors import DataError
from ecgzoo.metrics.challenge2021 import (
    SINUS_RHYTHM,
    challenge_output_text,
    dx_codes_from_header,
    load_scoring,
    modified_confusion_matrix,
)

CHALLENGE_2021 = "challenge-2021"


# -- the official definition, restated with loops ---------------------------------------------


def reference_weights(path):
    with open(path) as fh:
        table = [[cell.strip() for cell in line.split(",")] for line in fh]
    rows = [set(name.split("|")) for name in table[0][1:]]
    cols = [set(row[0].split("|")) for row in table[1:]]
    assert rows == cols
    values = np.array([[float(v) for v in row[1:]] for row in table[1:]])
    return rows, values


def reference_labels(dx_lists, classes):
    labels = np.zeros((len(dx_lists), len(classes)), dtype=bool)
    for i, dxs in enumerate(dx_lists):
        y = set(dxs)
        for j, x in enumerate(classes):
            if x & y:
                labels[i, j] = 1
    return labels


def reference_outputs(output_codes, output_flags, classes):
    """Outputs listed per code; equivalent codes of one class are merged with ``any``."""
    binary = np.zeros((len(output_codes), len(classes)), dtype=bool)
    for i, (codes, flags) in enumerate(zip(output_codes, output_flags, strict=True)):
        for j, x in enumerate(classes):
            idx = [k for k, y in enumerate(codes) if y in x]
            if idx:
                binary[i, j] = np.any([flags[k] for k in idx])
    return binary


def reference_confusion(labels, outputs):
    n, c = labels.shape
    a = np.zeros((c, c))
    for i in range(n):
        norm = float(max(np.sum(np.any((labels[i, :], outputs[i, :]), axis=0)), 1))
        for j in range(c):
            if labels[i, j]:
                for k in range(c):
                    if outputs[i, k]:
                        a[j, k] += 1.0 / norm
    return a


def reference_metric(weights, labels, outputs, classes):
    n, c = labels.shape
    sinus = classes.index({SINUS_RHYTHM})
    observed = np.nansum(weights * reference_confusion(labels, outputs))
    correct = np.nansum(weights * reference_confusion(labels, labels))
    inactive_outputs = np.zeros((n, c), dtype=bool)
    inactive_outputs[:, sinus] = 1
    inactive = np.nansum(weights * reference_confusion(labels, inactive_outputs))
    if correct != inactive:
        return float(observed - inactive) / float(correct - inactive)
    return 0.0


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scoring_folder(physionet_mirror):
    return physionet_mirror / CHALLENGE_2021 / "scoring"


@pytest.fixture(scope="module")
def scoring(scoring_folder):
    return load_scoring(scoring_folder)


@pytest.fixture(scope="module")
def real_dx(physionet_mirror):
    """The Dx codes of the 149 real 2021 records in the mirror."""
    headers = sorted((physionet_mirror / CHALLENGE_2021).glob("1.0.3/training/*/g1/*.hea"))
    assert len(headers) == 149
    return [dx_codes_from_header(h) for h in headers]


# -- tests ------------------------------------------------------------------------------------


def test_scored_classes_merge_equivalent_codes(scoring, scoring_folder):
    classes, weights = reference_weights(scoring_folder / "weights.csv")
    assert scoring.n_classes == 26 == len(classes)
    assert [set(c) for c in scoring.codes] == classes
    np.testing.assert_array_equal(scoring.weights, weights)
    crbbb = scoring.class_of("713427006")
    assert crbbb is not None and scoring.class_of("59118001") == crbbb  # RBBB merged into CRBBB
    assert scoring.abbreviations[crbbb] == "CRBBB|RBBB"
    assert scoring.class_of("164951009") is None  # abnormal QRS: unscored
    assert "164951009" in scoring.unscored_codes
    assert scoring.abbreviations[scoring.sinus_index] == "NSR"


def test_perfect_output_scores_one_and_always_sinus_zero(scoring, real_dx):
    labels = scoring.encode_many(real_dx)
    assert labels.sum() > 149  # several labels per record occur
    assert scoring.score(labels, labels) == pytest.approx(1.0)
    always_nsr = np.zeros_like(labels)
    always_nsr[:, scoring.sinus_index] = True
    assert scoring.score(labels, always_nsr) == pytest.approx(0.0, abs=1e-12)
    # No output at all earns nothing and loses the sinus credit: below zero.
    assert scoring.score(labels, np.zeros_like(labels)) < 0


def test_score_equals_official_loops_on_real_labels_with_merged_classes(
    scoring, scoring_folder, real_dx
):
    classes, weights = reference_weights(scoring_folder / "weights.csv")
    rng = np.random.default_rng(11)
    # Outputs listed per CODE, as a participant's CSV does: each record's true codes with some
    # dropped, plus random scored codes; merged classes appear under either of their codes.
    all_codes = [code for group in classes for code in sorted(group)]
    out_codes, out_flags = [], []
    for dxs in real_dx:
        codes = [c for c in dxs if rng.random() < 0.7]
        codes += list(rng.choice(all_codes, size=rng.integers(0, 4), replace=False))
        codes = [{"713427006": "59118001", "284470004": "63593006"}.get(c, c) for c in codes]
        out_codes.append(codes)
        out_flags.append([int(rng.random() < 0.9) for _ in codes])
    ref_labels = reference_labels(real_dx, classes)
    ref_outputs = reference_outputs(out_codes, out_flags, classes)
    ours_labels = scoring.encode_many(real_dx)
    ours_outputs = scoring.encode_many(
        [
            [c for c, f in zip(cs, fs, strict=True) if f]
            for cs, fs in zip(out_codes, out_flags, strict=True)
        ]
    )
    np.testing.assert_array_equal(ours_labels, ref_labels)
    np.testing.assert_array_equal(ours_outputs, ref_outputs)
    np.testing.assert_allclose(
        modified_confusion_matrix(ours_labels, ours_outputs),
        reference_confusion(ref_labels, ref_outputs),
    )
    expected = reference_metric(weights, ref_labels, ref_outputs, classes)
    assert 0.0 < expected < 1.0
    assert scoring.score(ours_labels, ours_outputs) == pytest.approx(expected, rel=1e-12)


def test_hand_computed_example_with_partial_credit(scoring):
    """AF labelled, AF + AFL output: the record's unit of credit is shared by the two classes of
    labels-or-outputs; the reward table gives W[AF, AF] = 1 and W[AF, AFL] = 0.5."""
    af, afl, nsr = (scoring.class_of(c) for c in ("164889003", "164890007", SINUS_RHYTHM))
    labels = np.zeros((1, 26), dtype=bool)
    labels[0, af] = True
    outputs = labels.copy()
    outputs[0, afl] = True
    a = modified_confusion_matrix(labels, outputs)
    assert a[af, af] == pytest.approx(0.5) and a[af, afl] == pytest.approx(0.5)
    observed = 0.5 * 1.0 + 0.5 * 0.5
    assert scoring.weights[af, afl] == 0.5
    inactive = 0.5 * scoring.weights[af, nsr]  # always-NSR: AF or NSR, half a unit at W[AF, NSR]
    expected = (observed - inactive) / (1.0 - inactive)
    assert scoring.score(labels, outputs) == pytest.approx(expected)


def test_header_parsing_and_bad_input(tmp_path):
    assert dx_codes_from_header("#Age: 50\n#Dx: 164889003,59118001\n") == ["164889003", "59118001"]
    assert dx_codes_from_header("# Dx: 426783006\n") == ["426783006"]
    bad = tmp_path / "X.hea"
    bad.write_text("X 12 500 5000\n#Age: 3\n")
    with pytest.raises(DataError, match="X.hea"):
        dx_codes_from_header(bad)
    with pytest.raises(DataError, match="weights.csv"):
        load_scoring(tmp_path)


def reference_read_output(text, classes):
    """The official loader of one output file: classes split on '|', matched by intersection."""
    lines = [line for line in text.splitlines() if line.strip()]
    record_id = lines[0][1:].strip()
    rec_classes = [set(e.strip().split("|")) for e in lines[1].split(",")]
    rec_binary = [
        1 if e.strip() in ("1", "True", "true", "T", "t") else 0 for e in lines[2].split(",")
    ]
    rec_scalar = [float(e) for e in lines[3].split(",")]
    binary = np.zeros(len(classes), dtype=bool)
    scalar = np.zeros(len(classes))
    for j, x in enumerate(classes):
        bv = [rec_binary[k] for k, y in enumerate(rec_classes) if x & y]
        sv = [rec_scalar[k] for k, y in enumerate(rec_classes) if x & y]
        if bv:
            binary[j] = any(bv)
            scalar[j] = np.mean(sv)
    return record_id, binary, scalar


def test_output_file_reads_back_through_the_official_loader(scoring, scoring_folder):
    classes, _ = reference_weights(scoring_folder / "weights.csv")
    rng = np.random.default_rng(3)
    prob = rng.random(scoring.n_classes)
    binary = prob >= 0.5
    text = challenge_output_text("JS00001", scoring, binary, prob)
    record_id, b, p = reference_read_output(text, classes)
    assert record_id == "JS00001"
    np.testing.assert_array_equal(b, binary)
    np.testing.assert_allclose(p, prob, rtol=1e-5)
    with pytest.raises(ValueError, match="26 outputs"):
        challenge_output_text("x", scoring, binary[:3], prob[:3])
