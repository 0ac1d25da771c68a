"""Explain a trained run: Grad-CAM overlays per record and class, and a padding summary.

``explain_run(RUN, RECORDS, OUT_DIR)`` is what ``ecgzoo explain RUN RECORD...`` runs:

* ``RUN``: a run folder or ``pretrained:NAME``; the model is rebuilt from it, and its records
  are read with the run's own data options (same length, padding, sampling rate, transform).
* RECORD: a record name of the run's dataset, read and labelled by that dataset's named-records
  hook (``DatasetSpec.examples``) and prepared by the run's ``InputSpec``. For a recording
  dataset the record is one input (a CinC 2017 name such as ``A00001``, labelled by the
  reference the run trained on). For a beat dataset, ``100`` explains ``beats_per_class`` beats
  (default 2) of every class present in that record, evenly spaced through it, and ``100:1234``
  the beat whose R peak (annotation, at the record's rate) is nearest sample 1234 (within
  0.5 s); the beats are segmented exactly as in training, with their side features when the
  model uses them.
* Targets: with ``classes``, one map per listed class for every record; without, the predicted
  class and, when it differs, the true class.

Outputs in ``OUT_DIR``: one PNG per record and target class, ``<record>_<class>.png`` (class
``~`` is written ``noisy``; a beat's record is ``100_s1234``), and ``summary.json`` /
``summary.md``: per record and target, the prediction, the attribution on the zero padding
versus the signal, and the padding's share of the input (see :func:`padding_attribution`).
Zero padding is located from the loader's real lengths for recordings (the header's sample
count after resampling and pad/trim) and, for beats, as the run of exact zeros that ends the
beat (Kachuee beats are zero-padded to 187 samples; centred beats have none).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecgzoo.datasets import registry
from ecgzoo.errors import EcgzooError
from ecgzoo.explain.gradcam import (
    compute_gradcam,
    padding_attribution,
)
from ecgzoo.explain.summary import summary_markdown

_SLUGS = {"~": "noisy"}


def _slug(text: str) -> str:
    text = _SLUGS.get(text, text)
    return re.sub(r"[^A-Za-z0-9_\-]", lambda m: f"x{ord(m.group()):02x}", text)


# --------------------------------------------------------------------------- explain_run


def default_out_dir(run: str) -> Path:
    """Where ``explain`` writes without ``--out``: ``RUN/explain`` for a run folder, and
    ``./explain-NAME`` for ``pretrained:NAME`` (never into the installed package)."""
    from ecgzoo.runs.runfolder import PRETRAINED_PREFIX

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


def displayed_signal(x: np.ndarray, spec: Any) -> np.ndarray:
    """The trace drawn under a Grad-CAM map, from one model input ``(channels, samples)``: the
    beat itself for a model fed the beat and the beat minus the record's median beat (that
    second channel is a difference, not a signal to read), else the mean over the leads."""
    if getattr(spec, "median_channel", False):
        return np.asarray(x[0])
    return np.asarray(x).mean(axis=0)


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

    ``run``: a run folder or ``pretrained:NAME``. ``records``: record names of the run's
    dataset; ``NAME:SAMPLE`` picks one beat of a beat dataset (see the module docstring).
    ``classes``: explain these classes for every record (default: predicted, plus true when
    different). ``root``: the database folder (the one the dataset's reader opens), default
    the fetched copy. Writes the PNGs and
    ``summary.json`` / ``summary.md`` into ``out_dir`` and returns the summary.
    """
    from ecgzoo.explain.overlay import filler_name, plot_signal_cam, plot_spectrogram_cam
    from ecgzoo.runs.loaded import load_run
    from ecgzoo.runs.runfolder import atomic_write_text, write_json
    from ecgzoo.train.evaluate import predict_inputs, predict_proba

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
    if beats_per_class < 1:
        raise EcgzooError(f"beats_per_class must be at least 1 (got {beats_per_class})")
    # the dataset reads its named records, prepared by the model's InputSpec
    ex = registry.get(dataset).named_examples(
        config.data, loaded.input, records, root, beats_per_class=beats_per_class
    )
    if ex.x.shape[1:] != (spec.n_leads, spec.n_samples):
        raise EcgzooError(
            f"{folder}: records prepared as {ex.x.shape[1:]} but the model expects "
            f"({spec.n_leads}, {spec.n_samples})"
        )

    feats = loaded.input.standardise(ex.features)
    feats = None if feats is None else torch.from_numpy(feats)
    # the probabilities `predict` and `evaluate` report (crop voting for a model trained on
    # crops); the Grad-CAM map itself explains one pass over the whole input (`one_pass`)
    prob = predict_inputs(model, spec, ex.x, feats, ex.lengths)
    one_pass = predict_proba(model, ex.x, feats)
    voted = bool(spec.crop_samples) and ex.x.shape[-1] > spec.crop_samples
    fill = loaded.input.fill
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
                "probabilities_one_pass": {
                    c: float(p) for c, p in zip(names, one_pass[i], strict=True)
                },
                "length_s": float(ex.lengths[i] / fs),
                "input_s": float(spec.n_samples / fs),
                "padding_share": pad["records"][k]["padding_share"],
                "targets": [],
            },
        )
        tname = names[target]
        png = f"{_slug(rid)}_{_slug(tname)}.png"
        vote = ", 5-crop vote" if voted else ""
        title = (
            f"{rid}   true {true}   predicted {predicted} (p={prob[i, pred[i]]:.2f}{vote})   "
            f"Grad-CAM for {tname} (p={one_pass[i, target]:.2f} whole input)"
        )
        pad_k = pad["records"][k]
        signal = displayed_signal(ex.x[i], loaded.input)
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
                fill=fill,
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
                fill=fill,
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
        "fill": fill,
        "filler": filler_name(fill),
        "probability_rule": "5-crop vote (as predict/evaluate)" if voted else "one pass",
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
