"""Signal quality (``ecgzoo.apply.quality``, per 10 s window) on MIT-BIH's noisy records and
on noise-stress style mixtures, against NeuroKit2's ``ecg_quality`` (zhao2018).

Per record (the ``read_record`` lead): the share of windows marked unusable, and QRS detection
(the vote, 150 ms) over all beats and over the usable windows only (reference beats and
detections alike). Mixtures: record 100 with 5 minutes (10:00-15:00) of added noise at a set
SNR (RMS of the record over RMS of the noise). The noise is record 105's MLII over its worst
minute (the largest doubt index), band-passed 0.5-40 Hz: real artefact with 105's own beats
in it, the hardest kind for a detector. Reported: share of the noisy and of the clean windows
marked.

    nice python benchmarks/signal_quality.py --zhao
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from ecgzoo.apply import quality
from ecgzoo.apply.scoring import match_beats
from ecgzoo.datasets.mitbih import default_db_dir, read_record
from ecgzoo.examples import qrs_vote

RECORDS = ("100", "105", "108", "119", "201", "203", "207", "208", "232")


def detect(signal: np.ndarray, fs: float):
    peaks, cand, scores = qrs_vote.detect_vote_scored(signal, fs)
    q = quality.assess(cand, scores, fs, len(signal), quality.flat_windows(signal, fs, 0))
    return peaks, q


def se_ppv(ref: np.ndarray, found: np.ndarray, fs: float) -> str:
    ri, _ = match_beats(ref, found, fs)
    tp, fn, fp = len(ri), len(ref) - len(ri), len(found) - len(ri)
    return f"{100 * tp / max(tp + fn, 1):.2f} / {100 * tp / max(tp + fp, 1):.2f} (FN {fn}, FP {fp})"


def zhao(signal: np.ndarray, fs: float) -> tuple[float, float]:
    """Share of 10 s windows zhao2018 calls Unacceptable, and ms per window."""
    import neurokit2 as nk

    w = int(10 * fs)
    verdicts = []
    t = time.process_time()
    for s in range(0, len(signal) - w + 1, w):
        verdicts.append(nk.ecg_quality(signal[s : s + w], sampling_rate=int(fs), method="zhao2018"))
    ms = 1000 * (time.process_time() - t) / max(len(verdicts), 1)
    return 100 * np.mean([v == "Unacceptable" for v in verdicts]), ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zhao", action="store_true", help="also NeuroKit2 zhao2018")
    parser.add_argument("--snr", type=float, nargs="+", default=[6.0, 0.0, -6.0])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    db = default_db_dir()
    print("| record | unusable % | Se / +P all beats | Se / +P usable windows | zhao2018 % |")
    for name in RECORDS:
        rec = read_record(db, name)
        peaks, q = detect(rec.signal, rec.fs)
        keep_ref = q.beat_usable(rec.samples)
        keep = q.beat_usable(peaks)
        z = " | {:.0f} % ({:.1f} ms/window)".format(*zhao(rec.signal, rec.fs)) if args.zhao else ""
        print(
            f"| {name} | {100 * np.mean(~q.usable):.1f} | {se_ppv(rec.samples, peaks, rec.fs)} | "
            f"{se_ppv(rec.samples[keep_ref], peaks[keep], rec.fs)}{z} |"
        )
    clean = read_record(db, "100")
    noisy = read_record(db, "105")
    fs = clean.fs
    _, q105 = detect(noisy.signal, fs)
    w = int(quality.WINDOW_S * fs)
    per_min = np.convolve(np.nan_to_num(q105.index, nan=0.0), np.ones(6), mode="valid")
    worst = int(np.argmax(per_min)) * w
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, [0.5, 40], btype="bandpass", fs=fs, output="sos")
    noise = sosfiltfilt(sos, noisy.signal[worst : worst + 6 * w])
    a, b = int(600 * fs), int(900 * fs)
    tiled = np.resize(noise, b - a)
    rms_sig = np.sqrt(np.mean((clean.signal - clean.signal.mean()) ** 2))
    rms_noise = np.sqrt(np.mean(tiled**2))
    print(f"\nnoise: record 105 from {worst / fs:.0f} s (its worst minute), band-passed")
    print("| SNR dB | noisy windows marked | clean windows marked | Se / +P all | Se / +P usable |")
    for snr in args.snr:
        sig = clean.signal.copy()
        sig[a:b] += tiled * rms_sig / rms_noise / (10 ** (snr / 20))
        peaks, q = detect(sig, fs)
        win = np.arange(len(q.usable))
        in_noise = (win * w >= a) & ((win + 1) * w <= b)
        keep_ref = q.beat_usable(clean.samples)
        keep = q.beat_usable(peaks)
        print(
            f"| {snr:g} | {100 * np.mean(~q.usable[in_noise]):.0f} % | "
            f"{100 * np.mean(~q.usable[~in_noise]):.1f} % | {se_ppv(clean.samples, peaks, fs)} | "
            f"{se_ppv(clean.samples[keep_ref], peaks[keep], fs)} |"
        )


if __name__ == "__main__":
    main()
