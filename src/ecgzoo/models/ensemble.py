"""An ensemble: the mean of its member models' probabilities, as one model.

``Ensemble(n_leads, n_samples, n_classes, n_features=0, members=[...], combine="softmax")``
builds each member from the registry (``members``: ``{"name": ..., "params": {...}}`` per
member; every member takes the ensemble's signal arguments; default: one ``resnet1d``).
``forward`` returns the log of the members' mean softmax (``combine="softmax"``), so a
softmax of the output gives exactly the mean probability: argmax, losses, crop voting, ONNX
export and Grad-CAM need no ensemble-specific code. With ``combine="sigmoid"`` (multi-label
members) it returns the logit of the members' mean sigmoid.

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
        self.fixed_length = any(getattr(m, "fixed_length", False) for m in built)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, features)
        logits = torch.stack([m(x, features) for m in self.members])  # (members, batch, classes)
        if self.combine == "softmax":
            # log of the mean probability, computed stably in log space
            log_p = torch.log_softmax(logits.float(), dim=-1)
            return torch.logsumexp(log_p, dim=0) - torch.log(torch.tensor(float(len(logits))))
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
