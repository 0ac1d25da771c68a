"""A trained model ready to apply to new recordings, run by PyTorch or ONNX Runtime.

:func:`load_model` accepts a run folder or ``pretrained:NAME``. What a model eats is its
:class:`~ecgzoo.examples.input_spec.InputSpec` (``model.json``): a *beat* model (input kind
``beats``) classifies heartbeats (:meth:`AppliedModel.predict_beats`); a *recording* model
(``window``) labels whole recordings (:meth:`AppliedModel.predict_recordings`); a *multilabel*
model (``multilabel``) gives one sigmoid per class for records of named leads
(:mod:`ecgzoo.apply.multilabel`). Every input goes through ``InputSpec.prepare`` (or its parts).
``engine="onnx"`` runs the ``model.onnx`` written by ``ecgzoo export`` beside the weights
(single-label models only: that graph ends in a softmax).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import ConfigError, DataError, EcgzooError
from ecgzoo.examples.input_spec import InputSpec
from ecgzoo.examples.signal_checks import check_rate, check_signal

#: what ``AppliedModel.kind`` calls each kind of input (``InputSpec.kind``)
KIND_OF_INPUT = {
    "beats": "beat",
    "beat_features": "beat",  # a LightGBM context model: beats too, scored by its boosters
    "window": "recording",
    "multilabel": "multilabel",
}


@dataclass
class AppliedModel:
    """A loaded model plus the :class:`InputSpec` that prepares its inputs."""

    folder: Path
    ref: str
    kind: str  # "beat", "recording" or "multilabel"
    spec: Any  # ecgzoo.runs.runfolder.ModelSpec
    config: Any  # ecgzoo.config.ExperimentConfig
    engine: str = "torch"
    torch_model: Any = None
    onnx_session: Any = None
    meta: dict = field(default_factory=dict)
    input: InputSpec | None = None
    trees: tuple[list, np.ndarray] | None = None  # a tree run: fold boosters, prior weights

    @property
    def class_names(self) -> list[str]:
        return list(self.spec.class_names)

    @property
    def fs(self) -> float:
        """The signal rate the model's input is at (before any transform)."""
        return float(self.input.fs)

    @property
    def uses_rr(self) -> bool:
        return int(self.spec.n_features) > 0

    @property
    def side_feature_set(self) -> str | None:
        """``rr_features``, ``rr_context``, ``rr_ratios`` or ``None`` (no side input)."""
        return self.input.side_features if self.uses_rr else None

    def side_features(self, peaks: np.ndarray, fs: float) -> np.ndarray | None:
        """Raw side features ``(n, n_features)`` of every beat at R ``peaks`` (samples at
        ``fs``; all the record's peaks, as the context spans the record), or ``None``."""
        return self.input.raw_side_features(peaks, fs) if self.uses_rr else None

    def _proba_torch(self, x: np.ndarray, features: np.ndarray | None) -> np.ndarray:
        import torch

        from ecgzoo.train.evaluate import predict_proba

        f = None if features is None else torch.from_numpy(features)
        return predict_proba(self.torch_model, x, f, batch_size=2048)

    def _proba_onnx(self, x: np.ndarray, features: np.ndarray | None) -> np.ndarray:
        from ecgzoo.apply.onnx_runtime import run_session

        return run_session(self.onnx_session, x, features)

    def proba(self, x: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` for model-ready inputs ``x`` (``(n, leads,
        samples)``) and raw (not yet standardised) side ``features`` (a tree model: its
        context rows, ``InputSpec.record_inputs``)."""
        if self.trees is not None:
            from ecgzoo.train.trees import predict_ensemble

            if features is None or len(features) != len(x):
                raise EcgzooError(f"{self.ref}: a tree model needs one context row per beat")
            if len(x) == 0:
                return np.zeros((0, len(self.class_names)), dtype=np.float32)
            boosters, weights = self.trees
            return predict_ensemble(boosters, features, weights).astype(np.float32)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim == 2:
            x = x[:, None, :]
        if x.shape[1:] != (self.spec.n_leads, self.spec.n_samples):
            raise DataError(
                f"{self.ref}: input shape {tuple(x.shape[1:])} does not match the model's "
                f"({self.spec.n_leads}, {self.spec.n_samples})"
            )
        feats = None
        if self.uses_rr:
            if features is None:
                raise EcgzooError(f"{self.ref}: this model needs {self.spec.n_features} features")
            feats = self.input.standardise(features)
        if len(x) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        if self.engine == "onnx":
            return self._proba_onnx(x, feats)
        return self._proba_torch(x, feats)

    def predict_beats(self, signal: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
        """Probabilities for beats at ``peaks`` of a 1-D ``signal`` (mV) at ``fs``; beats too
        close to the ends get a row of NaN."""
        self._require("beat")
        prepared = self.input.prepare(signal, fs, peaks)
        out = np.full((len(peaks), len(self.class_names)), np.nan, dtype=np.float32)
        out[prepared.kept] = self.proba(prepared.x, prepared.features)
        return out

    def predict_recordings(self, signals: list[np.ndarray], fs: float) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for whole single-lead recordings (mV) at ``fs``."""
        self._require("recording")
        x, lengths = self.input.windows(signals, fs)
        crop = self.input.crop
        if crop and x.shape[-1] > crop and self.engine == "torch":
            from ecgzoo.train.voting import vote_proba

            # each distinct crop once, as `evaluate` does (a short record's 5 crops coincide)
            return vote_proba(self.torch_model, x, int(crop), 5, lengths)
        if crop and x.shape[-1] > crop:
            from ecgzoo.examples.transforms import multi_crop

            crops = multi_crop(x, crop, 5, lengths)
            flat = crops.reshape((-1,) + crops.shape[2:])
            prob = self._proba_any(flat)
            return prob.reshape(len(x), 5, -1).mean(axis=1)
        return self._proba_any(x)

    def _proba_any(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.engine == "onnx":
            return self._proba_onnx(x, None)
        return self._proba_torch(x, None)

    def predict(self, signal: np.ndarray, fs: float) -> dict[str, Any]:
        """One call for a notebook: a beat model detects and classifies the beats of a 1-D
        signal (a beat too near an end to be cut is ``"unclassified"``, with a NaN row, as in
        ``annotate``'s outputs; not Q, a class the model can call); a recording model labels
        the whole signal."""
        if self.kind == "multilabel":
            raise ConfigError(f"{self.ref}: a multi-label 12-lead model; use `ecgzoo predict`")
        fs = check_rate(fs, "model.predict: fs")
        signal = check_signal(signal, "model.predict: signal")
        if self.kind == "recording":
            prob = self.predict_recordings([signal], fs)[0]
            return {"label": self.class_names[int(np.argmax(prob))], "probabilities": prob}
        from ecgzoo.examples.detect import detect_qrs

        peaks = detect_qrs(signal, fs)
        prob = self.predict_beats(signal, fs, peaks)
        labels = [
            self.class_names[int(np.argmax(p))] if np.all(np.isfinite(p)) else "unclassified"
            for p in prob
        ]
        return {"samples": peaks, "labels": labels, "probabilities": prob}

    def _require(self, kind: str) -> None:
        if self.kind != kind:
            other = "annotate" if self.kind == "beat" else "predict"
            raise ConfigError(f"{self.ref}: a {self.kind}-level model; use `ecgzoo {other}`")


def load_model(ref: str | Path, engine: str = "torch") -> AppliedModel:
    """Load a run folder or ``pretrained:NAME`` for applying (``engine``: torch or onnx),
    through the one checked loader (:func:`ecgzoo.runs.loaded.load_run`)."""
    from ecgzoo.runs.loaded import load_run

    if engine not in ("torch", "onnx"):
        raise ConfigError(f"--engine: {engine!r} is not torch or onnx")
    run = load_run(ref, weights=engine == "torch")
    if run.tree and engine == "onnx":
        raise ConfigError(f"--engine: onnx is not supported for the LightGBM run {run.folder}")
    kind = KIND_OF_INPUT.get(run.input.kind) if run.input is not None else None
    if kind is None:
        raise ConfigError(
            f"{run.folder}: models trained on {run.config.data.dataset!r} cannot be applied yet"
        )
    if kind == "multilabel" and engine == "onnx":
        # the exported graph ends in a softmax; a multi-label model needs one sigmoid per label
        raise ConfigError(f"--engine: onnx is not supported for the multi-label run {run.folder}")
    model = AppliedModel(run.folder, str(ref), kind, run.spec, run.config, engine, input=run.input)
    if run.tree:  # text boosters, checked before LightGBM parses them (no pickle)
        from ecgzoo.train.trees import load_tree_model

        boosters, spec = load_tree_model(run.folder)
        model.trees = (boosters, np.asarray(spec.params["class_weights"], dtype=np.float64))
    elif engine == "torch":
        model.torch_model = run.model
    else:
        from ecgzoo.apply.onnx_runtime import open_session

        # one intra-op thread: run_session spreads the batches over the free cores instead
        model.onnx_session = open_session(run.folder / "model.onnx", run.folder, threads=1)
    return model
