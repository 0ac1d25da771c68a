"""Explain a trained run: Grad-CAM overlays per record and class, and a padding summary.

``explain_run(RUN, RECORDS, OUT_DIR)`` is what ``ecgzoo explain RUN RECORD...`` runs:

* ``RUN``: a run folder or ``pretrained:NAME``; the model is rebuilt from it, and its records
  are read with the run's own data options (same length, padding, sampling rate, transform).
* cinc2017 runs: a RECORD is a challenge record name (``A00001``), read from ``training2017/``
  and labelled by the reference the run trained on (``REFERENCE-v3.csv`` or ``REFERENCE.csv``).
* mitbih runs: a RECORD is a record number, ``100``, which explains ``beats_per_class`` beats
  (default 2) of every AAMI class present in that record, evenly spaced through it; or
  ``100:1234``, the beat whose R peak (annotation, at 360 Hz) is nearest sample 1234 (within
  0.5 s). The beats are segmented exactly as in training, with their RR side features when the
  model uses them.
* Targets: with ``classes``, one map per listed class for every record; without, the predicted
  class and, when it differs, the true class.

Outputs in ``OUT_DIR``: one PNG per record and target class, ``<record>_<class>.png`` (class
``~`` is written ``noisy``; a beat's record is ``100_s1234``), and ``summary.json`` /
``summary.md``: per record and target, the prediction, the attribution on the zero padding
versus the signal, and the padding's share of the input (see :func:`padding_attribution`).
Zero padding is located from the loader's real lengths for cinc2017 (the header's sample count
after resampling and pad/trim) and, for MIT-BIH beats, as the run of exact zeros that ends the
beat (Kachuee beats are zero-padded to 187 samples; centred beats have none).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecgzoo.errors import EcgzooError
from ecgzoo.explain.gradcam import (
    compute_gradcam,
    padding_attribution,
)
from ecgzoo.explain.summary import summary_markdown

_SLUGS = {"~": "noisy"}
_BEAT_RE = re.compile(r"^(\d+):(\d+)$")
_BEAT_TOLERANCE_S = 0.5


def _slug(text: str) -> str:
    text = _SLUGS.get(text, text)
    return re.sub(r"[^A-Za-z0-9_\-]", lambda m: f"x{ord(m.group()):02x}", text)


# --------------------------------------------------------------------------- loading records


class _Examples:
    """Inputs to explain: ``x`` ``(n, leads, samples)``, labels, ids, real lengths, features."""

    def __init__(self, x, y, ids, lengths, features=None, extra=None):
        self.x = np.asarray(x, dtype=np.float32)
        self.y = np.asarray(y, dtype=np.int64)
        self.ids = list(ids)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.features = features
        self.extra = extra or [{} for _ in self.ids]


def _trailing_zero_lengths(x: np.ndarray) -> np.ndarray:
    """Real samples of each example: everything up to the last non-zero sample (any lead)."""
    nonzero = np.any(x != 0, axis=1)  # (n, samples)
    last = x.shape[-1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0).astype(np.int64)


def _cinc2017_examples(options, spec, records: list[str], root: Path | None) -> _Examples:
    from ecgzoo.data import cinc2017

    root = Path(root) if root is not None else _fetch_cinc2017()
    source = cinc2017.training_source(root)
    ref, _ = cinc2017.reference_for(options.labels, root, source)
    unknown = [r for r in records if r not in ref]
    if unknown:
        raise EcgzooError(
            f"unknown record {unknown[0]!r}: not a challenge-2017 record "
            f"(names look like A00001; {len(ref)} records in {root})"
        )
    signals, labels, ids = cinc2017.load_recordings(
        source, {r: ref[r] for r in records}, fs=cinc2017.FS
    )
    x, lengths = spec.windows(signals, cinc2017.FS)  # the model's InputSpec, as in training
    order = {r: i for i, r in enumerate(ids)}
    idx = np.array([order[r] for r in records])
    y = cinc2017.label_index(labels)
    return _Examples(x[idx], y[idx], records, lengths[idx])


def _fetch_cinc2017() -> Path:
    from ecgzoo.data import cinc2017
    from ecgzoo.data.physionet import fetch

    return Path(fetch(*cinc2017.DATABASE, progress=False))


def _parse_mitbih(spec: str) -> tuple[str, int | None]:
    match = _BEAT_RE.match(spec)
    if match:
        return match.group(1), int(match.group(2))
    return spec, None


def _mitbih_examples(
    spec, records: list[str], root: Path | None, beats_per_class: int
) -> _Examples:
    from ecgzoo.data import mitbih

    db_dir = Path(root) if root is not None else mitbih.default_db_dir()
    available = set(mitbih.list_records(db_dir))
    xs, ys, ids, feats, extra = [], [], [], [], []
    for text in records:
        name, sample = _parse_mitbih(text)
        if name not in available:
            raise EcgzooError(
                f"unknown record {text!r}: not an MIT-BIH record (use 100, or 100:SAMPLE for "
                "one beat)"
            )
        rec = mitbih.read_record(db_dir, name)
        prepared = spec.prepare(rec.signal, rec.fs, rec.samples)  # as the training beats
        peaks, labels = rec.samples[prepared.kept], rec.labels[prepared.kept]
        if sample is not None:
            if len(peaks) == 0:
                raise EcgzooError(f"unknown record {text!r}: record {name} has no kept beats")
            i = int(np.argmin(np.abs(peaks - sample)))
            if abs(int(peaks[i]) - sample) > _BEAT_TOLERANCE_S * rec.fs:
                raise EcgzooError(
                    f"unknown record {text!r}: no beat of record {name} within "
                    f"{_BEAT_TOLERANCE_S} s of sample {sample} (nearest R peak: {int(peaks[i])})"
                )
            chosen = [i]
        else:
            chosen = []
            for c in np.unique(labels):
                members = np.flatnonzero(labels == c)
                k = min(beats_per_class, len(members))
                picks = np.unique(np.round(np.linspace(0, len(members) - 1, k)).astype(int))
                chosen.extend(members[picks].tolist())
            chosen.sort()
        for i in chosen:
            xs.append(prepared.x[i])
            ys.append(int(labels[i]))
            ids.append(f"{name}_s{int(peaks[i])}")
            if prepared.features is not None:
                feats.append(prepared.features[i])
            extra.append({"mitbih_record": name, "r_peak_sample_360hz": int(peaks[i])})
    x = np.stack(xs).astype(np.float32)
    features = np.stack(feats).astype(np.float32) if feats else None
    return _Examples(x, ys, ids, _trailing_zero_lengths(x), features, extra)


# --------------------------------------------------------------------------- explain_run


def default_out_dir(run: str) -> Path:
    """Where ``explain`` writes without ``--out``: ``RUN/explain`` for a run folder, and
    ``./explain-NAME`` for ``pretrained:NAME`` (never into the installed package)."""
    from ecgzoo.train.runfolder import PRETRAINED_PREFIX

    text = str(run)
    if text.startswith(PRETRAINED_PREFIX):
        return Path(f"explain-{_slug(text[len(PRETRAINED_PREFIX) :])}")
    return Path(text) / "explain"


def writable_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` and check a file can be written in it; one line naming it if not."""
    import tempfile

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except FileExistsError:
        raise EcgzooError(f"--out: {out_dir} is a file, not a folder") from None
    except OSError as exc:
        raise EcgzooError(
            f"--out: cannot write to {out_dir} ({exc.strerror or exc}); choose another folder"
        ) from None
    return out_dir


def explain_run(
    run: str,
    records: list[str],
    out_dir: Path,
    classes: list[str] | None = None,
    *,
    root: Path | None = None,
    beats_per_class: int = 2,
) -> dict[str, Any]:
    """Grad-CAM overlays and a padding-vs-signal table for ``records`` of a trained run.

    ``run``: a run folder or ``pretrained:NAME``. ``records``: challenge record names for a
    cinc2017 run; ``100`` or ``100:SAMPLE`` for a mitbih run (see the module docstring).
    ``classes``: explain these classes for every record (default: predicted, plus true when
    different). ``root``: the database folder (cinc2017: the one holding ``training2017/``;
    mitbih: the one holding ``100.hea``), default the fetched copy. Writes the PNGs and
    ``summary.json`` / ``summary.md`` into ``out_dir`` and returns the summary.
    """
    from ecgzoo.explain.overlay import plot_signal_cam, plot_spectrogram_cam
    from ecgzoo.train.evaluate import predict_proba
    from ecgzoo.train.loaded import load_run
    from ecgzoo.train.runfolder import atomic_write_text, write_json

    records = [str(r) for r in records]
    if not records:
        raise EcgzooError("explain: name at least one record")
    loaded = load_run(run)  # the checks every command applies (classes, finite weights)
    folder, model, spec, config = loaded.folder, loaded.model, loaded.spec, loaded.config
    out_dir = writable_dir(Path(out_dir))  # before the Grad-CAM work, not after it
    names = list(spec.class_names)
    if classes is not None:
        bad = [c for c in classes if c not in names]
        if bad:
            raise EcgzooError(f"unknown class {bad[0]!r} (the run's classes: {', '.join(names)})")
    dataset = config.data.dataset
    if loaded.tree:
        raise EcgzooError(f"explain: {run} is a tree model (Grad-CAM needs a network)")
    if dataset == "cinc2017":
        ex = _cinc2017_examples(config.data.cinc2017, loaded.input, records, root)
    elif dataset == "mitbih":
        if beats_per_class < 1:
            raise EcgzooError(f"beats_per_class must be at least 1 (got {beats_per_class})")
        ex = _mitbih_examples(loaded.input, records, root, beats_per_class)
    else:
        raise EcgzooError(f"explain: runs trained on {dataset!r} have no named records to read")
    if ex.x.shape[1:] != (spec.n_leads, spec.n_samples):
        raise EcgzooError(
            f"{folder}: records prepared as {ex.x.shape[1:]} but the model expects "
            f"({spec.n_leads}, {spec.n_samples})"
        )

    feats = loaded.input.standardise(ex.features)
    feats = None if feats is None else torch.from_numpy(feats)
    prob = predict_proba(model, ex.x, feats)
    pred = prob.argmax(axis=1)
    pairs: list[tuple[int, int]] = []
    for i in range(len(ex.ids)):
        if classes is not None:
            pairs += [(i, names.index(c)) for c in classes]
        else:
            pairs.append((i, int(pred[i])))
            if int(ex.y[i]) != int(pred[i]):
                pairs.append((i, int(ex.y[i])))
    idx = np.array([p[0] for p in pairs])
    targets = np.array([p[1] for p in pairs])
    result = compute_gradcam(
        model, ex.x[idx], targets, features=None if feats is None else feats[idx], batch_size=8
    )
    pad = padding_attribution(result.cam_time, ex.lengths[idx])

    fs = float(spec.sampling_rate)
    rows: dict[int, dict[str, Any]] = {}
    for k, (i, target) in enumerate(pairs):
        rid = ex.ids[i]
        true, predicted = names[int(ex.y[i])], names[int(pred[i])]
        row = rows.setdefault(
            i,
            {
                "record": rid,
                **ex.extra[i],
                "true": true,
                "predicted": predicted,
                "probability": float(prob[i, pred[i]]),
                "probabilities": {c: float(p) for c, p in zip(names, prob[i], strict=True)},
                "length_s": float(ex.lengths[i] / fs),
                "input_s": float(spec.n_samples / fs),
                "padding_share": pad["records"][k]["padding_share"],
                "targets": [],
            },
        )
        tname = names[target]
        png = f"{_slug(rid)}_{_slug(tname)}.png"
        title = (
            f"{rid}   true {true}   predicted {predicted} (p={prob[i, pred[i]]:.2f})   "
            f"Grad-CAM for {tname} (p={prob[i, target]:.2f})"
        )
        pad_k = pad["records"][k]
        signal = ex.x[i].mean(axis=0)
        if result.grid == "spectrogram" and result.hop is not None:
            spectrogram = result.spectrogram[k] if result.spectrogram is not None else None
            plot_spectrogram_cam(
                out_dir / png,
                signal,
                spectrogram if spectrogram is not None else np.zeros_like(result.cam[k]),
                result.cam[k],
                result.cam_time[k],
                fs,
                int(result.hop),
                int(result.nperseg),
                length=int(ex.lengths[i]),
                title=title,
                pad_fraction=pad_k["padding_fraction"],
            )
        else:
            plot_signal_cam(
                out_dir / png,
                signal,
                result.cam_time[k],
                fs,
                length=int(ex.lengths[i]),
                title=title,
                pad_fraction=pad_k["padding_fraction"],
            )
        row["targets"].append(
            {
                "class": tname,
                "probability": float(prob[i, target]),
                "png": png,
                "padding_fraction": pad_k["padding_fraction"],
                "signal_fraction": pad_k["signal_fraction"],
                "padding_ratio": pad_k["padding_ratio"],
            }
        )

    summary = {
        "run": str(run),
        "model": spec.name,
        "layer": result.layer,
        "grid": result.grid,
        "dataset": dataset,
        "fill": loaded.input.fill,
        "class_names": names,
        "target_rule": "listed classes" if classes is not None else "predicted + true",
        "sampling_rate": fs,
        "records": [rows[i] for i in sorted(rows)],
        "mean": pad["mean"],
        "n_maps": len(pairs),
    }
    write_json(out_dir / "summary.json", summary)
    atomic_write_text(out_dir / "summary.md", summary_markdown(summary))
    return summary
