"""ecgzoo: deep-learning ECG arrhythmia classifiers on real PhysioNet data.

The public API (``load_model``, ``annotate``, ``predict``, ``export_onnx``, ``datasets``) is
imported on first use, so ``import ecgzoo`` stays cheap and has no side effects.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["annotate", "datasets", "export_onnx", "load_model", "predict"]


def __getattr__(name: str) -> Any:
    if name in ("annotate", "export_onnx", "load_model", "predict"):
        from ecgzoo import api

        return getattr(api, name)
    if name == "datasets":
        import importlib

        return importlib.import_module("ecgzoo.datasets")
    raise AttributeError(f"module 'ecgzoo' has no attribute {name!r}")
