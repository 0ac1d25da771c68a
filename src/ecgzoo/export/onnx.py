"""ONNX export of a trained model, checked against PyTorch on real recordings.

The exported graph takes ``x`` ``(batch, leads, samples)`` float32 (and ``features``
``(batch, n_features)``, already standardised, for models with side features) and returns class
probabilities (the softmax is part of the graph). It is written to a temporary file, run by
ONNX Runtime on real data (MIT-BIH record 100's beats for beat models, the first CinC 2017
recordings for recording models) next to PyTorch, and renamed to ``model.onnx`` only when
every probability agrees within :data:`PARITY_TOL`. A run folder gets ``model.onnx`` beside
its weights; a ``pretrained:`` model (inside the installed package) gets it under
``$ECGZOO_HOME/onnx/NAME/``.

The file says what it is, so it can be used without ecgzoo: its ``metadata_props`` hold the
class names (the order of ``prob``'s columns) and the input the model expects (sampling rate,
window, leads, side features and their standardisation), read from the run's ``model.json``
(:func:`input_description`); ONNX Runtime shows them as ``session.get_modelmeta()
.custom_metadata_map``. It is written with the permissions of any new file (0644 under the
usual umask), not the 0600 of a temporary file.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.apply.onnx_runtime import (  # noqa: F401
    WEIGHTS_KEY,
    onnx_path_for,
    open_session,
    run_session,
    weights_digest,
)
from ecgzoo.errors import ConfigError, EcgzooError

PARITY_TOL = 1e-4
OPSET = 17


class _Probabilities:
    """Builds the ``torch.nn.Module`` that ends in a softmax (torch imported lazily)."""

    @staticmethod
    def wrap(model: Any, with_features: bool) -> Any:
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = model

            def forward(self, x: torch.Tensor, features: torch.Tensor | None = None):
                return torch.softmax(self.inner(x, features if with_features else None), dim=1)

        return Wrapped().eval()


def export_model(model: Any, path: Path, x: np.ndarray, features: np.ndarray | None) -> None:
    """``torch.onnx.export`` (TorchScript exporter, dynamic batch) of ``model`` to ``path``."""
    import torch

    wrapped = _Probabilities.wrap(model, features is not None)
    args: tuple = (torch.from_numpy(x[:4]),)
    names = ["x"]
    if features is not None:
        args += (torch.from_numpy(features[:4]),)
        names.append("features")
    axes = {n: {0: "batch"} for n in [*names, "prob"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            args,
            str(path),
            input_names=names,
            output_names=["prob"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def real_examples(applied: Any, n: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
    """Model-ready real inputs ``(x, standardised features)`` for the parity check: the example
    records of the run's dataset (``DatasetSpec.example_records``), prepared by the model's
    ``InputSpec``."""
    from ecgzoo.datasets import registry

    spec = applied.input
    dataset = registry.get(str(applied.config.data.dataset))
    ex = dataset.named_examples(applied.config.data, spec, beats_per_class=n)
    x = ex.x[:n]
    if spec.crop and x.shape[-1] > spec.crop:
        x = x[..., : spec.crop]
    feats = None if ex.features is None else spec.standardise(ex.features[:n])
    return np.ascontiguousarray(x, dtype=np.float32), feats


def parity(model: Any, session: Any, x: np.ndarray, features: np.ndarray | None) -> float:
    """Largest absolute difference of the probabilities, PyTorch vs ONNX Runtime."""
    import torch

    from ecgzoo.train.evaluate import predict_proba

    f = None if features is None else torch.from_numpy(features)
    ref = predict_proba(model, x, f)
    got = run_session(session, x, features)
    return float(np.max(np.abs(ref - got)))


def input_description(applied: Any, graph_samples: int) -> dict[str, str]:
    """The ONNX metadata of a model: everything ``model.json`` says about its input and
    outputs (one reader, so a richer ``model.json`` input spec flows through unchanged), plus
    the length the exported graph takes (``graph_samples``: the crop for a crop-trained model)."""
    saved = json.loads((Path(applied.folder) / "model.json").read_text())
    fs = float(saved["sampling_rate"])
    n_features = int(saved.get("n_features") or 0)
    described: dict[str, Any] = {
        "x": ["batch", int(saved["n_leads"]), int(graph_samples)],
        "x_units": "mV, one row per lead, float32",
        "sampling_rate_hz": fs,
        "window_s": graph_samples / fs,
        "leads": int(saved["n_leads"]),
        "trained_length_samples": int(saved["n_samples"]),
        "crop_samples": saved.get("crop_samples"),
    }
    if n_features:
        described["features"] = [
            "batch",
            n_features,
            f"side features {saved.get('side_features') or 'rr_features'}, standardised "
            "before the graph: (f - feature_mean) / feature_std",
        ]
        described["feature_mean"] = saved.get("feature_mean")
        described["feature_std"] = saved.get("feature_std")
    # what the model eats, as training wrote it (beat cut, fiducial, leads, transform ...)
    described["spec"] = applied.input.to_json()
    classes = list(saved["class_names"])
    return {
        "ecgzoo.model": str(saved["name"]),
        "ecgzoo.class_names": json.dumps(classes),
        "ecgzoo.output": f"prob (batch, {len(classes)}): class probabilities (softmax), "
        "columns in ecgzoo.class_names order",
        "ecgzoo.input": json.dumps(described),
        "ecgzoo.model_json": json.dumps(saved),
        WEIGHTS_KEY: weights_digest(Path(applied.folder)),
    }


def write_metadata(path: Path, meta: dict[str, str]) -> None:
    """Set ``meta`` as the ONNX file's ``metadata_props`` (and a one-line doc string)."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    described = json.loads(meta["ecgzoo.input"])
    classes = ", ".join(json.loads(meta["ecgzoo.class_names"]))
    model.doc_string = (
        f"ecgzoo {meta['ecgzoo.model']}: classes {classes}; "
        f"input x {described['x']} at {described['sampling_rate_hz']:g} Hz"
    )
    onnx.save(model, str(path))


def export_run(run: str | Path, out: Path | None = None) -> dict[str, Any]:
    """Export ``run`` (a run folder or ``pretrained:NAME``) and check parity; returns
    ``{"path", "max_abs_diff", "n_examples"}``. Nothing is left behind when it fails."""
    from ecgzoo.runs.loaded import load_run

    applied = load_run(run)  # the checks every command applies
    if applied.tree:
        raise ConfigError(f"{run}: a tree model; ONNX export is for torch networks")
    if applied.input is None:
        raise ConfigError(f"{run}: models of this dataset take no recording; nothing to export")
    # the wrapper's softmax would be wrong for sigmoid labels
    if applied.input.kind == "multilabel":
        raise ConfigError(f"{run}: ONNX export of a multi-label run is not supported yet")
    target = Path(out) if out is not None else onnx_path_for(applied.folder)
    if target.is_dir():  # before the export's work, not at the final rename
        raise EcgzooError(f"{target}: is a folder; give the .onnx file to write")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EcgzooError(f"{target.parent}: cannot create the folder ({exc.strerror})") from None
    if not os.access(target.parent, os.W_OK):
        raise EcgzooError(f"{target.parent}: not writable; choose another --out")
    x, feats = real_examples(applied)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        try:
            export_model(applied.model, Path(tmp), x, feats)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise EcgzooError(
                f"{applied.spec.name}: cannot be exported to ONNX ({type(exc).__name__}: {first})"
            ) from None
        session = open_session(Path(tmp))
        diff = parity(applied.model, session, x, feats)
        if not diff <= PARITY_TOL:
            raise EcgzooError(
                f"{run}: ONNX Runtime differs from PyTorch by {diff:.2e} (> {PARITY_TOL:g}); "
                "not written"
            )
        write_metadata(Path(tmp), input_description(applied, int(x.shape[-1])))
        from ecgzoo.paths import default_file_mode

        os.chmod(tmp, default_file_mode())  # mkstemp made it 0600
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return {"path": target, "max_abs_diff": diff, "n_examples": int(len(x))}
