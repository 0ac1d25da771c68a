"""Label-free adaptation of a trained model to one recording: AdaBN (Li et al. 2016, "Revisiting
batch normalization for practical domain adaptation").

A patient's beats differ from the training patients' in amplitude, width and noise; batch norm
layers normalise with the *training* statistics. :func:`adapt_batchnorm` re-estimates the mean
and variance of every batch norm layer of the trunk on the unlabelled inputs of one recording
(its beats), leaving all learnt weights as they are. It reads inputs only, never a label.
The batch norm of the side features (``ClassifierHead.feature_norm``) is left alone: re-centring
the RR context on one record would erase what makes a premature beat premature there.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

ADAPTATIONS = ("none", "adabn")


def adapt_batchnorm(
    model: nn.Module,
    x: torch.Tensor,
    features: torch.Tensor | None = None,
    batch_size: int = 1024,
) -> nn.Module:
    """A copy of ``model`` whose trunk batch norm statistics are those of inputs ``x`` (one
    recording's examples, ``(n, leads, samples)``; ``features`` their standardised side input).

    The copy is in eval mode; ``model`` is not changed. Fewer than 2 examples: an unchanged copy.
    """
    adapted = copy.deepcopy(model).eval()
    if len(x) < 2:
        return adapted
    skip = {id(m) for name, m in adapted.named_modules() if name.endswith("feature_norm")}
    norms = [
        m for m in adapted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and id(m) not in skip
    ]  # fmt: skip
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the record's batches
        m.train()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            f = None if features is None else features[start : start + batch_size]
            chunk = x[start : start + batch_size]
            if len(chunk) < 2:  # batch norm in training mode needs two examples
                break
            adapted(chunk, f)
    return adapted.eval()
