"""Explanations: Grad-CAM maps (captum), padding-vs-signal attribution and overlays."""

from ecgzoo.explain.gradcam import (
    GradCamResult,
    compute_gradcam,
    gradcam,
    gradcam_layer,
    normalise_maps,
    padding_attribution,
)
from ecgzoo.explain.runner import explain_run

__all__ = [
    "GradCamResult",
    "compute_gradcam",
    "explain_run",
    "gradcam",
    "gradcam_layer",
    "normalise_maps",
    "padding_attribution",
]
