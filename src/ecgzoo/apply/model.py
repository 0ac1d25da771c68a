"""A trained model ready to apply to new recordings, run by PyTorch or ONNX Runtime.

:func:`load_model` accepts a run folder or ``pretrained:NAME``. A *beat* model (trained on
MIT-BIH or Kaggle beats) classifies heartbeats (:meth:`AppliedModel.predict_beats`); a
*recording* model (CinC 2017) labels whole recordings (:meth:`AppliedModel.predict_recordings`).
A *multilabel* model (a 2021 challenge run) gives one sigmoid per scored class for 12-lead
records (:mod:`ecgzoo.apply.multilabel`). ``engine="onnx"`` runs the ``model.onnx`` written by
``ecgzoo export`` beside the weights (single-label models only: that graph ends in a softmax).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecgzoo.errors import ConfigError, DataError, EcgzooError

BEAT_DATASETS = ("mitbih", "svdb", "kaggle_csv")
RECORDING_DATASETS = ("cinc2017",)
MULTILABEL_DATASETS = ("cinc2021",)


@dataclass
class AppliedModel:
    """A loaded model plus everything needed to prepare its inputs."""

    folder: Path
    ref: str
    kind: str  # "beat", "recording" or "multilabel"
    spec: Any  # ecgzoo.train.runfolder.ModelSpec
    config: Any  # ecgzoo.config.ExperimentConfig
    engine: str = "torch"
    torch_model: Any = None
    onnx_session: Any = None
    meta: dict = field(default_factory=dict)

    @property
    def class_names(self) -> list[str]:
        return list(self.spec.class_names)

    @property
    def fs(self) -> float:
        """The signal rate the model expects (before any transform)."""
        if self.kind == "beat":
            seg = self.segmentation
            return float(seg["fs"]) if seg["segmentation"] == "centered" else 360.0
        if self.kind == "multilabel":
            return float(self.config.data.cinc2021.fs)
        return float(self.config.data.cinc2017.fs)

    @property
    def segmentation(self) -> dict[str, Any]:
        """How beats are cut (see :func:`ecgzoo.apply.signals.beat_inputs`)."""
        dataset = self.config.data.dataset
        opts = getattr(self.config.data, dataset if dataset in ("mitbih", "svdb") else "mitbih")
        if dataset in ("mitbih", "svdb") and opts.segmentation == "centered":
            return {
                "segmentation": "centered",
                "before_s": float(opts.before_s),
                "after_s": float(opts.after_s),
                "fs": float(opts.fs),
            }
        return {"segmentation": "kachuee", "length": int(self.spec.n_samples)}

    @property
    def uses_rr(self) -> bool:
        return int(self.spec.n_features) > 0

    @property
    def side_feature_set(self) -> str | None:
        """``rr_features``, ``rr_context`` or ``None`` (no side input). A run saved before
        ``model.json`` named its set took what its config says (``rr_features`` unless
        ``rr_context`` was on)."""
        if not self.uses_rr:
            return None
        if self.spec.side_features:
            return self.spec.side_features
        from ecgzoo.data.contextset import context_set

        opts = getattr(self.config.data, str(self.config.data.dataset), None)
        return context_set(opts) or "rr_features"

    def side_features(self, peaks: np.ndarray, fs: float) -> np.ndarray | None:
        """Raw side features ``(n, n_features)`` of every beat at R ``peaks`` (samples at
        ``fs``; all the record's peaks, as the context spans the record), or ``None``."""
        if self.side_feature_set is None:
            return None
        from ecgzoo.data.contextset import features_of_set

        return features_of_set(self.side_feature_set, np.asarray(peaks), fs)

    def _proba_torch(self, x: np.ndarray, features: np.ndarray | None) -> np.ndarray:
        import torch

        from ecgzoo.train.evaluate import predict_proba

        f = None if features is None else torch.from_numpy(features)
        return predict_proba(self.torch_model, x, f, batch_size=2048)

    def _proba_onnx(self, x: np.ndarray, features: np.ndarray | None) -> np.ndarray:
        from ecgzoo.export.onnx import run_session

        return run_session(self.onnx_session, x, features)

    def proba(self, x: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` for model-ready inputs ``x`` (``(n, leads,
        samples)``) and raw (not yet standardised) side ``features``."""
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
            mean = np.asarray(self.spec.feature_mean, dtype=np.float32)
            std = np.asarray(self.spec.feature_std, dtype=np.float32)
            feats = ((np.asarray(features, dtype=np.float32) - mean) / std).astype(np.float32)
        if len(x) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        if self.engine == "onnx":
            return self._proba_onnx(x, feats)
        return self._proba_torch(x, feats)

    def predict_beats(self, signal: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
        """Probabilities for beats at ``peaks`` of a 1-D ``signal`` (mV) at ``fs``; beats too
        close to the ends get a row of NaN."""
        from ecgzoo.apply.signals import beat_inputs

        self._require("beat")
        x, kept = beat_inputs(signal, fs, peaks, self.segmentation)
        side = self.side_features(peaks, fs)
        rr = None if side is None else side[kept]
        out = np.full((len(peaks), len(self.class_names)), np.nan, dtype=np.float32)
        out[kept] = self.proba(x, rr)
        return out

    def predict_recordings(self, signals: list[np.ndarray], fs: float) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for whole single-lead recordings (mV) at ``fs``."""
        from ecgzoo.apply.predict import recording_inputs

        self._require("recording")
        x, lengths = recording_inputs(
            signals, fs, self.config.data.cinc2017, self.spec, with_lengths=True
        )
        crop = self.spec.crop_samples
        if crop and x.shape[-1] > crop and self.engine == "torch":
            from ecgzoo.train.voting import vote_proba

            # each distinct crop once, as `evaluate` does (a short record's 5 crops coincide)
            return vote_proba(self.torch_model, x, int(crop), 5, lengths)
        if crop and x.shape[-1] > crop:
            from ecgzoo.data.transforms import multi_crop

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
        signal; a recording model labels the whole signal."""
        if self.kind == "multilabel":
            raise ConfigError(f"{self.ref}: a multi-label 12-lead model; use `ecgzoo predict`")
        signal = np.asarray(signal, dtype=np.float64)
        if signal.ndim != 1:
            raise DataError(f"signal: expected one lead (1-D), got shape {signal.shape}")
        if self.kind == "recording":
            prob = self.predict_recordings([signal], fs)[0]
            return {"label": self.class_names[int(np.argmax(prob))], "probabilities": prob}
        from ecgzoo.apply.detect import detect_qrs

        peaks = detect_qrs(signal, fs)
        prob = self.predict_beats(signal, fs, peaks)
        labels = [
            self.class_names[int(np.argmax(p))] if np.all(np.isfinite(p)) else "Q" for p in prob
        ]
        return {"samples": peaks, "labels": labels, "probabilities": prob}

    def _require(self, kind: str) -> None:
        if self.kind != kind:
            other = "annotate" if self.kind == "beat" else "predict"
            raise ConfigError(f"{self.ref}: a {self.kind}-level model; use `ecgzoo {other}`")


def load_model(ref: str | Path, engine: str = "torch") -> AppliedModel:
    """Load a run folder or ``pretrained:NAME`` for applying (``engine``: torch or onnx)."""
    from ecgzoo.train.runfolder import read_run_config, resolve_run

    folder = resolve_run(ref)
    config = read_run_config(folder)
    dataset = config.data.dataset
    if dataset in BEAT_DATASETS:
        kind = "beat"
    elif dataset in RECORDING_DATASETS:
        kind = "recording"
    elif dataset in MULTILABEL_DATASETS:
        kind = "multilabel"
        if engine == "onnx":
            # the exported graph ends in a softmax; a multi-label model needs one sigmoid per label
            raise ConfigError(f"--engine: onnx is not supported for the multi-label run {folder}")
    else:
        raise ConfigError(f"{folder}: models trained on {dataset!r} cannot be applied yet")
    from ecgzoo.train.runfolder import read_spec

    model = AppliedModel(folder, str(ref), kind, read_spec(folder), config, engine)
    if engine == "torch":
        from ecgzoo.train.evaluate import load_trained_model

        model.torch_model, _ = load_trained_model(folder)
    elif engine == "onnx":
        from ecgzoo.apply.threads import apply_threads
        from ecgzoo.export.onnx import open_session

        model.onnx_session = open_session(folder / "model.onnx", folder, apply_threads())
    else:
        raise ConfigError(f"--engine: {engine!r} is not torch or onnx")
    return model
