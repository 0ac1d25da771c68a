"""The one list of metric names: what the engine logs every epoch, what ``train.monitor`` and
``tune --metric`` may name, per task.

Kept free of heavy imports so that configs can be validated without torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from ecgzoo.datasets import registry
from ecgzoo.examples.classes import AAMI_CLASSES  # noqa: F401 (re-exported)
from ecgzoo.examples.classes import CHALLENGE_2017_CLASSES as CHALLENGE_CLASSES  # noqa: F401

#: Aggregate validation metrics logged every epoch as ``val_<key>``.
VAL_KEYS: tuple[str, ...] = (
    "accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_f1",
)
#: The plain (unweighted) loss of a fixed training subset, scored like ``val_loss`` (eval mode,
#: no augmentation) each epoch: the training curve comparable with validation.
PLAIN_TRAIN_LOSS = "train_eval_loss"
#: Logged every epoch, but bookkeeping rather than a quality metric: never monitored.
BOOKKEEPING: tuple[str, ...] = ("epoch", "lr", "train_samples_per_s", "epoch_seconds")

GENERIC: tuple[str, ...] = tuple(f"val_{k}" for k in VAL_KEYS) + ("val_loss", "train_loss")
#: Every metric some task logs every epoch (``tune --metric`` chooses from these).
EPOCH_METRICS: tuple[str, ...] = (
    "val_macro_recall",
    "val_macro_f1",
    "val_macro_precision",
    "val_accuracy",
    "val_weighted_f1",
    "val_loss",
    "train_loss",
    "val_challenge_f1",
    "val_macro_auroc",
    "val_macro_auprc",
    "val_micro_f1",
    "val_challenge_score",
)
#: Aggregate validation metrics of multi-label tasks, logged every epoch as ``val_<key>``.
MULTILABEL_KEYS: tuple[str, ...] = ("macro_auroc", "macro_auprc", "macro_f1", "micro_f1")


def class_metric(class_name: str) -> str:
    """``val_f1_<class>`` as logged (``~``, the noisy class, is spelt ``noisy``)."""
    return f"val_f1_{'noisy' if class_name == '~' else class_name}"


def epoch_metrics(class_names: Sequence[str] | None, dataset: str | None = None) -> tuple[str, ...]:
    """The quality metrics logged every epoch for a task with ``class_names`` (None: unknown
    classes, the metrics every task logs); a multi-label ``dataset`` logs its own list."""
    own = registry.task_metrics(dataset)  # a multi-label dataset's own list
    if own is not None:
        return own
    names = list(GENERIC)
    if class_names is None:
        return tuple(names)
    names += [class_metric(c) for c in class_names]
    if tuple(class_names) == AAMI_CLASSES:
        names.append("val_sv_f1")  # mean F1 of S and V: the inter-patient figure of merit
    if tuple(class_names) == CHALLENGE_CLASSES:
        names.append("val_challenge_f1")
    return tuple(names)


def minimised(metric: str) -> bool:
    """Whether lower is better for ``metric`` (the losses)."""
    return metric.endswith("_loss")


def check_monitor(
    metric: str, mode: str, class_names: Sequence[str] | None, dataset: str | None = None
) -> str | None:
    """Why ``metric`` with ``mode`` cannot be monitored for such a task (None when it can).

    With unknown classes, ``val_f1_<class>`` names are accepted (the data decides them), except
    for multi-label datasets, which log aggregates only.
    """
    if metric == "epoch":  # the fixed schedule: every epoch "improves", the last one is kept
        return None if mode == "max" else "'epoch' keeps the last epoch: set monitor_mode 'max'"
    known = epoch_metrics(class_names, dataset)
    multilabel = registry.is_multilabel(dataset)
    if metric not in known:
        if (
            class_names is None
            and not multilabel
            and metric.startswith("val_f1_")
            and len(metric) > 7
        ):
            pass
        else:
            where = (
                f"the multi-label dataset {dataset}"
                if multilabel
                else f"a task with classes {', '.join(class_names)}"
                if class_names
                else "every task"
            )
            return f"{metric!r} is not logged for {where} (choose from {', '.join(known)})"
    if minimised(metric) and mode == "max":
        return f"{metric!r} is a loss: set train.monitor_mode to 'min'"
    if not minimised(metric) and mode == "min":
        return f"{metric!r} is better when higher: set train.monitor_mode to 'max'"
    return None


def loss_problem(
    dataset: str, loss: str, balanced_sampling: bool = False, record_balance: bool = False
) -> str | None:
    """Why ``loss`` does not fit ``dataset`` (None when it does): sigmoid losses (``bce``,
    ``weighted_bce``) for multi-label datasets, softmax ones for the others."""
    multilabel = registry.is_multilabel(dataset)
    sigmoid = loss in ("bce", "weighted_bce")
    if multilabel and not sigmoid:
        return f"train.loss: {dataset} is multi-label: use bce or weighted_bce (not {loss})"
    if sigmoid and not multilabel:
        return f"train.loss: {loss} is for multi-label datasets, {dataset} is single-label"
    if multilabel and balanced_sampling:
        return "train.balanced_sampling: not available for multi-label datasets"
    if multilabel and record_balance:
        return "train.record_balance_power: not available for multi-label datasets"
    return None
