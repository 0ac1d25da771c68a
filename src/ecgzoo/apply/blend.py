"""Several beat models averaged on the same detected beats: ``annotate --model A --model B``.

Each member keeps its own InputSpec (its fiducial, cut, median channel, side features or
context rows), so a neural beat model and a LightGBM context model can be averaged even though
they eat different inputs (issue 19, round D: on SVDB the pair beat the CNN ensembles alone;
``docs/notes/beats7.md``). A torch ensemble of one InputSpec is ``ecgzoo ensemble`` instead.
The probabilities are averaged with equal weights; a beat is classified when every member can
cut it. Only adaptations that act on the averaged probabilities apply (``none``,
``prior_em``); the members' own networks are left as trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgzoo.apply.model import AppliedModel
from ecgzoo.errors import ConfigError

BLEND_ADAPTATIONS = ("none", "prior_em")


@dataclass
class ModelBlend:
    """Beat models averaged with equal weights (two or more, the same classes)."""

    members: list[AppliedModel]

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise ConfigError("--model: a blend needs two or more models")
        first = self.members[0]
        for m in self.members:
            if m.kind != "beat":
                raise ConfigError(f"--model {m.ref}: only beat models can be averaged")
            if m.class_names != first.class_names:
                raise ConfigError(
                    f"--model {m.ref}: classes {m.class_names} differ from {first.ref}'s "
                    f"{first.class_names}"
                )
            if m.input.segmentation == "kachuee":
                raise ConfigError(f"--model {m.ref}: a fixed-window (kachuee) model; alone only")

    @property
    def ref(self) -> str:
        return " + ".join(m.ref for m in self.members)

    @property
    def class_names(self) -> list[str]:
        return self.members[0].class_names

    def check_adaptation(self, adapt: str) -> None:
        if adapt not in BLEND_ADAPTATIONS:
            raise ConfigError(
                f"--adapt {adapt}: a blend of models takes {' or '.join(BLEND_ADAPTATIONS)}"
            )

    @staticmethod
    def average(probabilities: list[np.ndarray]) -> np.ndarray:
        return np.mean(np.stack(probabilities), axis=0).astype(np.float32)


def members_of(model: AppliedModel | ModelBlend) -> list[AppliedModel]:
    """The models a (possibly blended) model is made of."""
    return model.members if isinstance(model, ModelBlend) else [model]
