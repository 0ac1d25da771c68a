"""Evaluation metrics: generic multi-class, AAMI EC57 beat statistics, CinC 2017 challenge F1.

The names below load on first use: validating a config reads ``ecgzoo.metrics.names``, and
importing the package must not pull in scikit-learn for that (a config mistake is refused in
well under a second, issue 22).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AAMI_SCORED": "aami",
    "aami_markdown": "aami",
    "aami_summary": "aami",
    "aami_table": "aami",
    "sv_counts": "aami",
    "UNCOUNTED": "aami",
    "NOT_MATCHED": "aami",
    "with_detection": "aami",
    "CHALLENGE_CLASSES": "challenge",
    "challenge_f1_from_confusion": "challenge",
    "challenge_scores": "challenge",
    "classification_metrics": "classification",
    "flatten_metrics": "classification",
    "roc_auc_ovr": "classification",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'ecgzoo.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ecgzoo.metrics.{_WHERE[name]}"), name)
