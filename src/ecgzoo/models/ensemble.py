"""An ensemble: the mean of its member models' probabilities, as one model.

``Ensemble(n_leads, n_samples, n_classes, n_features=0, members=[...], combine="softmax")``
builds each member from the registry (``members``: ``{"name": ..., "params": {...}}`` per
member; every member takes the ensemble's signal arguments; default: one ``resnet1d``).
``forward`` returns the log of the members' mean softmax (``combine="softmax"``), so a
softmax of the output gives exactly the mean probability: argmax, losses, crop voting, ONNX
export and Grad-CAM need no ensemble-specific code. With ``combine="sigmoid"`` (multi-label
members) it returns the logit of the members' mean sigmoid.

``decision_weights`` (softmax only; one positive number per class, chosen out of fold by
``ecgzoo ensemble --operating-point``) add ``log(w)`` to that output: its softmax is then
``p * w / sum(p * w)`` and its argmax ``argmax(p * w)``, a prior correction that every command
applying the model (evaluate, annotate, predict, ONNX export) applies with no code of its own.

``feature_affine`` (one ``{"scale": [...], "shift": [...]}`` per member): the side features
arrive standardised with the ensemble's ``model.json`` statistics (the first member's); member
``k`` trained on its own fold's statistics gets ``features * scale + shift``, exactly its own
standardisation (``scale = std_0 / std_k``, ``shift = (mean_0 - mean_k) / std_k``).

``ecgzoo ensemble`` joins trained runs into one (``ecgzoo.train.ensemble``): the usual use is a
k-fold ensemble whose members share a test split and validate on different folds.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn as nn

from ecgzoo.models.base import EcgModel, default_gradcam_layer

# keeps the multi-label logit finite when every member is certain
_EPS = 1e-6


class Ensemble(EcgModel):
    """Mean of member models' probabilities (see the module docstring)."""

    name = "ensemble"

    def __init__(
        self,
        n_leads: int,
        n_samples: int,
        n_classes: int,
        n_features: int = 0,
        members: list[dict[str, Any]] | None = None,
        combine: Literal["softmax", "sigmoid"] = "softmax",
        decision_weights: list[float] | None = None,
        feature_affine: list[dict[str, list[float]]] | None = None,
    ) -> None:
        super().__init__(n_leads, n_samples, n_classes, n_features)
        from ecgzoo.models.registry import build_model

        if members is None:  # the registry's contract: every model builds from its defaults
            members = [{"name": "resnet1d"}]
        if not members:
            raise ValueError("members: an ensemble needs at least one member model")
        if combine not in ("softmax", "sigmoid"):
            raise ValueError(f"combine: {combine!r} is not softmax or sigmoid")
        built = []
        for i, member in enumerate(members):
            if not isinstance(member, dict) or not isinstance(member.get("name"), str):
                raise ValueError(f"members[{i}]: expected {{name: ..., params: {{...}}}}")
            if member["name"] == self.name:
                raise ValueError(f"members[{i}]: an ensemble cannot hold an ensemble")
            built.append(
                build_model(
                    member["name"],
                    n_leads,
                    n_samples,
                    n_classes,
                    n_features,
                    **dict(member.get("params") or {}),
                )
            )
        self.members = nn.ModuleList(built)
        self.combine = combine
        log_w = torch.zeros(n_classes)
        if decision_weights is not None:
            w = torch.tensor([float(v) for v in decision_weights])
            if combine != "softmax" or w.shape != (n_classes,) or not bool((w > 0).all()):
                raise ValueError(
                    f"decision_weights: {n_classes} positive numbers for a softmax ensemble"
                )
            log_w = torch.log(w)
        # not in the state dict: the weights live in model.json's params (the members' files
        # stay the members' own)
        self.register_buffer("log_decision_weights", log_w, persistent=False)
        scale, shift = torch.ones(len(built), n_features), torch.zeros(len(built), n_features)
        if feature_affine is not None:
            try:
                scale = torch.tensor([[float(v) for v in a["scale"]] for a in feature_affine])
                shift = torch.tensor([[float(v) for v in a["shift"]] for a in feature_affine])
            except (KeyError, TypeError, ValueError):
                scale = torch.zeros(0)
            if scale.shape != (len(built), n_features) or shift.shape != scale.shape:
                raise ValueError(
                    f"feature_affine: one {{scale, shift}} of {n_features} numbers per member"
                )
        self.register_buffer("feature_scale", scale, persistent=False)
        self.register_buffer("feature_shift", shift, persistent=False)
        self.fixed_length = any(getattr(m, "fixed_length", False) for m in built)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        logits = torch.stack(
            [
                m(x, None if features is None else features * a + b)
                for m, a, b in zip(
                    self.members, self.feature_scale, self.feature_shift, strict=True
                )
            ]
        )  # (members, batch, classes)
        if self.combine == "softmax":
            # log of the mean probability, computed stably in log space
            log_p = torch.log_softmax(logits.float(), dim=-1)
            mean = torch.logsumexp(log_p, dim=0) - torch.log(torch.tensor(float(len(logits))))
            return mean + self.log_decision_weights
        p = torch.sigmoid(logits.float()).mean(dim=0).clamp(_EPS, 1 - _EPS)
        return torch.log(p) - torch.log1p(-p)

    def gradcam_layer(self) -> nn.Module:
        """The first member's Grad-CAM layer (:meth:`gradcam_layers` gives all of them)."""
        return self.gradcam_layers()[0]

    def gradcam_layers(self) -> list[nn.Module]:
        """Each member's Grad-CAM layer: the ensemble's map is the sum of the members' maps,
        each taken with the gradient of the ensemble's own output."""
        return [
            m.gradcam_layer() if isinstance(m, EcgModel) else default_gradcam_layer(m)
            for m in self.members
        ]
