"""Detection on two leads (``annotate --detect-leads gaps``, the default): a lead's skipped beats
are taken from the other lead, a false peak of the other lead between two found beats is not, nor
one where the lead's own vote has no candidate."""

from __future__ import annotations

import numpy as np
import pytest

from ecgzoo.errors import ConfigError
from ecgzoo.examples.detect import MATCH_S, detect_qrs, fill_gaps, support


def test_fill_gaps_by_reference_values() -> None:
    fs = 100.0
    beats = np.arange(0, 100 * 80, 80)  # RR 0.8 s, 100 beats
    first = np.r_[beats[:40], beats[40:70:2], beats[70:]]  # skips every other beat in 40-69
    false_peak = beats[10] + 40  # half way between two beats the first lead found
    second = np.sort(np.r_[beats, false_peak])
    out = fill_gaps(first, second, fs)
    np.testing.assert_array_equal(out, beats)  # the skipped 15 back, the false peak not
    np.testing.assert_array_equal(fill_gaps(first, np.zeros(0, dtype=int), fs), first)
    np.testing.assert_array_equal(fill_gaps(np.zeros(0, dtype=int), second, fs), second)
    near = fill_gaps(beats, beats + int(MATCH_S * fs) - 1, fs)  # the same beats, a little later
    np.testing.assert_array_equal(near, beats)
    # a pause of 2.4 RR after beat 20: a second-lead peak 0.3 RR into it fills it unless a
    # margin of 0.5 RR is asked (round ML2's G2)
    paused = np.r_[beats[:21], beats[21:] + 112]
    t_wave = paused[20] + 24
    second = np.sort(np.r_[paused, t_wave])
    assert t_wave in fill_gaps(np.delete(paused, 21), second, fs, margin_rr=0.0)
    assert t_wave not in fill_gaps(np.delete(paused, 21), second, fs, margin_rr=0.5)


def test_confirmed_fill_by_reference_values() -> None:
    """Round CF: a filled-in peak needs a candidate of the first lead's vote within 150 ms
    scoring at least ``min_score``; with no candidate near, it is not added at any score."""
    fs = 100.0
    beats = np.arange(0, 100 * 80, 80)
    first = np.r_[beats[:40], beats[40:70:2], beats[70:]]  # skips 41, 43, ..., 69
    skipped = np.setdiff1d(beats, first)
    # the first lead's candidates: its beats (0.9), the skipped beats 14 samples off (0.05,
    # except 41 at 0.3), and none near 43
    cand = np.sort(np.r_[first, np.setdiff1d(skipped, [beats[43]]) + 14])
    scores = np.where(np.isin(cand, first), 0.9, 0.05)
    scores[cand == beats[41] + 14] = 0.3
    np.testing.assert_array_equal(
        support(np.r_[beats[41], beats[43], beats[45] - 1], cand, scores, fs), [0.3, -1, 0.05]
    )
    any_candidate = fill_gaps(first, beats, fs, confirm=(cand, scores), min_score=0.0)
    np.testing.assert_array_equal(any_candidate, np.setdiff1d(beats, [beats[43]]))
    high = fill_gaps(first, beats, fs, confirm=(cand, scores), min_score=0.1)
    np.testing.assert_array_equal(high, np.union1d(first, [beats[41]]))
    unchecked = fill_gaps(first, beats, fs, confirm=(cand, scores), min_score=None)
    np.testing.assert_array_equal(unchecked, beats)  # round ML's G
    # a chunk where the first lead found nothing: the check still applies
    alone = fill_gaps(np.zeros(0, dtype=int), beats, fs, confirm=(cand, scores), min_score=0.1)
    np.testing.assert_array_equal(alone, np.union1d(first, [beats[41]]))


def test_fill_gaps_on_record_100(mitdb_dir) -> None:
    """Record 100's first lead with every other peak of its first ten minutes taken away: the
    second lead (V5) gives them back, each within 150 ms of a reference beat."""
    import wfdb

    from ecgzoo.apply.scoring import match_beats, reference_beats

    rec = wfdb.rdrecord(str(mitdb_dir / "100"))
    fs = float(rec.fs)
    first = detect_qrs(rec.p_signal[:, 0], fs)
    second = detect_qrs(rec.p_signal[:, 1], fs)
    early = np.flatnonzero(first < 600 * fs)
    dropped = first[early[1::2]]
    skipping = np.setdiff1d(first, dropped)
    filled = fill_gaps(skipping, second, fs)
    ref, _ = reference_beats(mitdb_dir / "100")
    ri_full, _ = match_beats(ref, first, fs)
    ri, ti = match_beats(ref, filled, fs)
    assert len(ri) >= len(ri_full) - 0.05 * len(dropped)  # 95 % of the dropped beats back
    assert len(filled) - len(ti) <= 2  # no more than two detections off every reference beat


def test_annotate_detects_on_two_leads_by_default(mitdb_dir, tmp_path) -> None:
    from ecgzoo.api import annotate

    def score(**options) -> dict:
        ann = annotate(
            mitdb_dir / "100", "pretrained:mitbih-inter", write=False, reference="atr", **options
        )
        detected_on = ["MLII"] if options.get("detect_leads") == "one" else ["MLII", "V5"]
        assert ann[0].summary["detected_on"] == detected_on
        return ann[0].score

    one, checked = score(detect_leads="one"), score()  # the default: gaps, checked (round CF)
    unchecked = score(detect_leads="gaps-unchecked")
    assert checked["tp"] >= one["tp"] and checked["tp"] + checked["fn"] == 2273
    assert checked["fp"] <= one["fp"] + 2
    assert unchecked["tp"] >= checked["tp"] and unchecked["fp"] >= checked["fp"]
    no_quality = score(quality=False)  # the check needs the vote's candidates, not quality
    assert (no_quality["tp"], no_quality["fp"]) == (checked["tp"], checked["fp"])
    with pytest.raises(ConfigError, match="--detect-leads"):
        annotate(mitdb_dir / "100", "pretrained:mitbih-inter", write=False, detect_leads="all")


def test_a_dropped_second_lead_leaves_the_first_alone(mitdb_dir, tmp_path) -> None:
    """Record 100's first 10 minutes with its second lead NaN for two of them (a lead that
    dropped out): the default two-lead detection falls back to the first lead for that chunk,
    with exactly its beats, instead of failing the record."""
    import wfdb

    from ecgzoo.api import annotate

    signal = wfdb.rdrecord(str(mitdb_dir / "100"), sampto=216_000).p_signal.T.copy()
    signal[1, 72_000:115_200] = np.nan
    path = tmp_path / "dropped.npy"
    np.save(path, signal.astype(np.float32))

    def peaks(**options) -> np.ndarray:
        found = annotate(path, "pretrained:mitbih-inter", fs=360.0, write=False, **options)
        return found[0].annotation.samples

    np.testing.assert_array_equal(peaks(), peaks(detect_leads="one"))


def test_the_fill_lead_is_an_ecg_lead() -> None:
    """A blood-pressure or breathing channel's pulses are no QRS: never a fill lead."""
    from ecgzoo.apply.annotate import fill_lead

    assert fill_lead(["MLII", "V1"], 0) == 1
    assert fill_lead(["ABP", "MLII", "V5"], 1) == 2
    assert fill_lead(["ECG", "BP", "EEG (C4-A1)", "Resp (sum)"], 0) is None
    assert fill_lead(["I", "II", "III"], 1) == 0
    assert fill_lead(["lead0"], 0) is None


def test_the_default_detection_on_svdb_865(svdb_dir) -> None:
    """Reference values (round CF, notes/beats20.md): SVDB 865's first lead skips 1,285 of its
    3,162 beats in long SVT runs; its gaps filled from the second lead where the first lead's vote
    agrees leave 504 missed, with no more false beats than the first lead's 10."""
    import wfdb

    from ecgzoo.apply.scoring import match_beats, reference_beats
    from ecgzoo.examples.qrs_vote import detect_vote_scored

    rec = wfdb.rdrecord(str(svdb_dir / "865"))
    fs = float(rec.fs)
    first, cand, scores = detect_vote_scored(rec.p_signal[:, 0], fs)
    second = detect_qrs(rec.p_signal[:, 1], fs)
    ref, _ = reference_beats(svdb_dir / "865")

    def missed_false(peaks: np.ndarray) -> tuple[int, int]:
        ri, ti = match_beats(ref, peaks, fs)
        return len(ref) - len(ri), len(peaks) - len(ti)

    assert len(ref) == 3162 and missed_false(first) == (1285, 10)
    assert missed_false(fill_gaps(first, second, fs, confirm=(cand, scores))) == (504, 10)
