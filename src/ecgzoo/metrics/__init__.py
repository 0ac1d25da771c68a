"""Evaluation metrics: generic multi-class, AAMI EC57 beat statistics, CinC 2017 challenge F1."""

from ecgzoo.metrics.aami import AAMI_SCORED, aami_markdown, aami_summary, aami_table
from ecgzoo.metrics.challenge import (
    CHALLENGE_CLASSES,
    challenge_f1_from_confusion,
    challenge_scores,
)
from ecgzoo.metrics.classification import classification_metrics, flatten_metrics, roc_auc_ovr

__all__ = [
    "AAMI_SCORED",
    "CHALLENGE_CLASSES",
    "aami_markdown",
    "aami_summary",
    "aami_table",
    "challenge_f1_from_confusion",
    "challenge_scores",
    "classification_metrics",
    "flatten_metrics",
    "roc_auc_ovr",
]
