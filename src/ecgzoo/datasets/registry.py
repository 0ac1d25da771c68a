"""Datasets as units: one :class:`DatasetSpec` per dataset, registered in one place.

A spec says everything the rest of ecgzoo needs to know about a dataset: its options section,
its task kind (``beats``, ``recordings`` or ``multilabel``), its class names (when fixed before
any data is read), the extra metrics its task logs every epoch, how to prepare it
(``prepare(options, seed) -> PreparedData``), the :class:`InputSpec` of a model trained on it,
and a few example records (ONNX parity, Grad-CAM); optional hooks say what the CLI adds for
it (its fetch-catalog database, ``evaluate --data``, ``data info``, ``data fetch``).
``load_data``, the config's data section (``datasets.data_section``), the metric names and the
run loader ask the registry; nothing in ``apply/``, ``explain/``, ``export/``, ``metrics/``,
``train/`` or ``cli/`` names a dataset.

This module imports nothing heavy (a config is checked against it before torch loads): the
built-in datasets' functions and options classes are named by ``"module:name"`` and imported
when first used. A new dataset is
one module that calls :func:`register` (see ``docs/adding-a-dataset.md``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecgzoo.errors import ConfigError
from ecgzoo.examples.classes import AAMI_CLASSES, CHALLENGE_2017_CLASSES

TASKS = ("beats", "recordings", "multilabel")
AAMI = AAMI_CLASSES
CHALLENGE_2017 = CHALLENGE_2017_CLASSES
_MULTILABEL_EPOCH = ("val_macro_auroc", "val_macro_auprc", "val_macro_f1", "val_micro_f1")


def _resolve(target: Any) -> Any:
    """An object, or ``"module:name"`` imported now (heavy modules load only when used)."""
    if target is None or not isinstance(target, str):
        return target
    module, _, name = str(target).partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset (see the module docstring). ``prepare``, ``input_spec`` and ``options``
    are objects or ``"module:name"`` strings (imported when first used); ``options`` is the
    pydantic class of the dataset's options, which becomes the section ``data.<section>`` of
    every config (``ecgzoo.datasets.data_section``); ``section`` defaults to the dataset's
    name (``None``: the options' fields sit at the top of the data section)."""

    name: str
    task: str
    prepare: Callable | str
    section: str | None = ""  # "" -> the dataset's name
    classes: tuple[str, ...] | Callable[[Any], list[str]] | None = None
    metrics: tuple[str, ...] = ()
    input_spec: Callable | str | None = None
    example_records: tuple[str, ...] = ()
    # (options, input_spec, records, root, **kw) -> NamedExamples: records by name as inputs
    examples: Callable | str | None = None
    options: type | str | None = None
    description: str = ""
    # the fetch catalog's database its records come from: `ecgzoo data fetch|prepare|info`
    # accept the dataset's name for it
    database: str | None = None
    # (options, path, reference, input_spec) -> (ArraySplit, class names, rate of the model's
    # time axis): `evaluate RUN --data PATH --reference FILE` for a recording dataset (beat
    # datasets take an annotated WFDB folder through the beat models' own path)
    external: Callable | str | None = None
    # (options) -> {"tables": [(title, rows)], "lengths": (seconds, labels)}: what
    # `ecgzoo data info` shows besides the class counts and example inputs
    info: Callable | str | None = None
    # (fetched folder) -> one line `ecgzoo data fetch` prints about the copy
    fetched: Callable | str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"dataset {self.name!r}: task {self.task!r} not in {TASKS}")

    @property
    def section_name(self) -> str | None:
        """The data-config attribute holding the options (``None``: the data section itself)."""
        return None if self.section is None else self.section or self.name

    def options_class(self) -> type | None:
        """The pydantic class of this dataset's options (imported now), or ``None``."""
        return _resolve(self.options)

    def options_of(self, data: Any) -> Any:
        """This dataset's options from a data config."""
        section = self.section_name
        if section is None:
            return data
        found = getattr(data, section, None)
        if found is not None:
            return found
        options = self.options_class()
        if options is not None:  # a data config built before this dataset was registered
            return options()
        raise ConfigError(f"data.{section}: no options for dataset {self.name!r}")

    def load(self, data: Any) -> Any:
        """``prepare(options, seed)`` for this dataset in a data config."""
        return _resolve(self.prepare)(self.options_of(data), int(data.seed))

    def class_names(self, data: Any | None = None) -> list[str] | None:
        """The class list, in order, or ``None`` where it depends on files not read yet."""
        if self.classes is None or isinstance(self.classes, tuple):
            return None if self.classes is None else list(self.classes)
        return None if data is None else self.classes(self.options_of(data))

    def model_input(self, data: Any, model_spec: Any) -> Any:
        """The ``InputSpec`` of a model trained on this dataset (``ConfigError`` if none)."""
        build = _resolve(self.input_spec)
        if build is None:
            raise ConfigError(
                f"data.dataset: models trained on {self.name!r} cannot be applied yet"
            )
        return build(self.options_of(data), model_spec)

    def load_external(self, data: Any, path: Any, reference: Any, input_spec: Any) -> Any:
        """``(ArraySplit, class names, rate)`` of an external test set (``evaluate --data``)."""
        read = _resolve(self.external)
        if read is None:
            raise ConfigError(
                f"--data: models trained on {self.name!r} cannot be scored on external "
                "recordings (beat models take a folder of annotated WFDB records)"
            )
        return read(self.options_of(data), path, reference, input_spec)

    def info_extras(self, data: Any) -> dict[str, Any]:
        """Tables (and recording lengths) ``ecgzoo data info`` shows for this dataset."""
        hook = _resolve(self.info)
        return {} if hook is None else dict(hook(self.options_of(data)))

    def fetched_line(self, folder: Any) -> str | None:
        """What ``ecgzoo data fetch`` adds about a fetched copy (``None``: nothing)."""
        hook = _resolve(self.fetched)
        return None if hook is None else str(hook(folder))

    def named_examples(
        self, data: Any, spec: Any, records: list[str] | None = None, root: Any = None, **kw: Any
    ) -> Any:
        """Records by name (default :attr:`example_records`) prepared by ``spec`` (a model's
        ``InputSpec``): what Grad-CAM explains and ONNX parity runs on."""
        read = _resolve(self.examples)
        if read is None:
            raise ConfigError(f"{self.name}: no named records to read (explain, export)")
        # None: the spec's example records, or (none named) the reader's own first records
        chosen = list(records) if records is not None else list(self.example_records) or None
        return read(self.options_of(data), spec, chosen, root, **kw)


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec, *, replace: bool = False) -> DatasetSpec:
    """Add a dataset; a name already taken is refused unless ``replace``."""
    if spec.name in _REGISTRY and not replace:
        raise ConfigError(f"dataset {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> DatasetSpec:
    """The registered dataset ``name``; ``ConfigError`` listing the known ones otherwise."""
    try:
        return _REGISTRY[str(name)]
    except KeyError:
        raise ConfigError(
            f"data.dataset: unknown dataset {name!r} (known: {', '.join(names())})"
        ) from None


def names() -> list[str]:
    return list(_REGISTRY)


def for_database(database: str) -> DatasetSpec | None:
    """The dataset made from the fetch catalog's ``database`` (``mitdb`` -> ``mitbih``)."""
    return next((s for s in _REGISTRY.values() if s.database == database), None)


def fixed_classes(name: str | None) -> tuple[str, ...] | None:
    """Class names fixed before any data is read (``None``: unknown yet, or no such dataset)."""
    spec = _REGISTRY.get(str(name)) if name is not None else None
    return None if spec is None or not isinstance(spec.classes, tuple) else spec.classes


def is_multilabel(name: str | None) -> bool:
    spec = _REGISTRY.get(str(name)) if name is not None else None
    return spec is not None and spec.task == "multilabel"


def task_metrics(name: str | None) -> tuple[str, ...] | None:
    """A multi-label dataset's own epoch metrics (``None``: the single-label defaults)."""
    spec = _REGISTRY.get(str(name)) if name is not None else None
    if spec is None or spec.task != "multilabel":
        return None
    return spec.metrics


def label_groups(class_names: list[str]) -> dict[str, tuple[str, ...]] | None:
    """The label groups a registered dataset reports these classes by (a spec's
    ``extra["label_groups"]``: ``class_names -> groups or None``), or ``None``."""
    for spec in _REGISTRY.values():
        hook = spec.extra.get("label_groups")
        groups = _resolve(hook)(list(class_names)) if hook is not None else None
        if groups is not None:
            return groups
    return None


# --------------------------------------------------------------------------- built-ins

_MULTI = _MULTILABEL_EPOCH + ("val_loss", "train_loss")
for _spec in (
    DatasetSpec(
        "mitbih", "beats", "ecgzoo.datasets.mitbih:load_mitbih", classes=AAMI,
        options="ecgzoo.datasets.mitbih_options:MitbihOptions", database="mitdb",
        input_spec="ecgzoo.datasets.input_specs:beats_for", example_records=("100",),
        examples="ecgzoo.datasets.named_records:mitbih_examples",
        description="MIT-BIH Arrhythmia Database beats (AAMI EC57 classes)",
    ),
    DatasetSpec(
        "svdb", "beats", "ecgzoo.datasets.svdb:load_svdb", classes=AAMI,
        options="ecgzoo.datasets.svdb_options:SvdbOptions", database="svdb",
        input_spec="ecgzoo.datasets.input_specs:beats_for", example_records=("802",),
        description="MIT-BIH Supraventricular Arrhythmia Database beats",
    ),
    DatasetSpec(
        "cinc2017", "recordings", "ecgzoo.datasets.cinc2017:load_cinc2017", classes=CHALLENGE_2017,
        options="ecgzoo.datasets.cinc2017_options:Cinc2017Options", database="challenge-2017",
        external="ecgzoo.datasets.cinc2017:external_split",
        info="ecgzoo.datasets.cinc2017:info_extras",
        input_spec="ecgzoo.datasets.input_specs:windows_for",
        examples="ecgzoo.datasets.named_records:cinc2017_examples",
        description="PhysioNet/CinC Challenge 2017 single-lead recordings",
    ),
    DatasetSpec(
        "cinc2021", "multilabel", "ecgzoo.datasets.cinc2021:load_cinc2021",
        options="ecgzoo.datasets.cinc2021_options:Cinc2021Options", database="challenge-2021",
        metrics=_MULTI + ("val_challenge_score",),
        input_spec="ecgzoo.datasets.input_specs:multilabel_for",
        description="PhysioNet/CinC Challenge 2021 12-lead records (multi-label)",
    ),
    DatasetSpec(
        "rhythm_windows", "multilabel", "ecgzoo.datasets.rhythm_windows:load_rhythm_windows",
        options="ecgzoo.datasets.rhythm_windows_options:RhythmWindowsOptions",
        classes=lambda options: list(options.labels), metrics=_MULTI,
        extra={"label_groups": "ecgzoo.datasets.rhythm_windows:label_groups"},
        description="rhythm windows of MIT-BIH and SVDB records (multi-label)",
    ),
    DatasetSpec(
        "ptbxl", "multilabel", "ecgzoo.datasets.ptbxl:load_ptbxl", metrics=_MULTI,
        options="ecgzoo.datasets.ptbxl_options:PtbxlOptions", database="ptb-xl",
        info="ecgzoo.datasets.ptbxl:info_extras", fetched="ecgzoo.datasets.ptbxl:release_line",
        input_spec="ecgzoo.datasets.input_specs:multilabel_for",
        extra={"label_groups": "ecgzoo.datasets.ptbxl:known_groups"},
        description="PTB-XL 12-lead ECGs, SCP statements (multi-label), official strat_fold",
    ),
    DatasetSpec(
        "kaggle_csv", "beats", "ecgzoo.datasets.kaggle_csv:load_from_config", section=None,
        options="ecgzoo.datasets.kaggle_csv_options:KaggleCsvOptions",
        classes=AAMI, input_spec="ecgzoo.datasets.input_specs:kaggle_for",
        description="the Kaggle ECG Heartbeat Categorization CSVs (Kachuee beats)",
    ),
):  # fmt: skip
    register(_spec)
