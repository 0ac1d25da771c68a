"""The data section of an experiment config, built from the dataset registry.

``ecgzoo.config.DataConfig`` (a leaf) holds what every run has: the dataset's name and the seed.
:func:`data_schema` adds one field per registered dataset, ``data.<section>``, typed by the
options class its :class:`~ecgzoo.datasets.registry.DatasetSpec` names (a dataset registered
later, such as a user's, gets its section as soon as it is registered). Every section is kept,
with its defaults, so a resolved config (and a run folder's ``config.yaml``) reads the same as
before the registry built it. Import-light: the options modules import pydantic only.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import Field, ValidationError, create_model, field_validator, model_validator

from ecgzoo.config import DataConfig, apply_overrides, format_validation
from ecgzoo.datasets import registry
from ecgzoo.errors import ConfigError


class RegisteredData(DataConfig):
    """The checks of the data section that need the registry."""

    @field_validator("dataset")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in registry.names():
            raise ValueError(f"unknown dataset {value!r} (known: {', '.join(registry.names())})")
        return value

    @model_validator(mode="after")
    def _top_level_options(self) -> RegisteredData:
        """Options whose fields sit at the top of the data section (``section=None``) keep
        their own cross-field rules."""
        spec = registry.get(self.dataset)
        options = spec.options_class()
        if spec.section_name is None and options is not None:
            options.model_validate({name: getattr(self, name) for name in options.model_fields})
        return self

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # the class is built per set of registered datasets: pickle the values as given and
        # rebuild them with the schema of the process that unpickles
        return (_unpickle, (self.model_dump(exclude_unset=True),))


def _unpickle(tree: dict[str, Any]) -> DataConfig:
    return data_schema().model_validate(tree)


def data_schema() -> type[DataConfig]:
    """The data section's class for the datasets registered now."""
    entries = tuple(
        (spec.name, spec.section_name, spec.options_class())
        for spec in (registry.get(name) for name in registry.names())
    )
    return _schema(entries)


@functools.lru_cache(maxsize=16)
def _schema(entries: tuple[tuple[str, str | None, type | None], ...]) -> type[DataConfig]:
    fields: dict[str, Any] = {}
    sections: dict[str, str | None] = {}
    for name, section, options in entries:
        sections[name] = section
        if options is None:
            continue
        if section is None:  # the options' fields join the data section itself
            for field, info in options.model_fields.items():
                fields.setdefault(field, (info.annotation, info))
        else:
            fields[section] = (options, Field(default_factory=options))
    schema = create_model(  # type: ignore[call-overload]
        "DataConfig", __base__=RegisteredData, __module__=__name__, **fields
    )
    schema.sections = sections
    return schema


def build_data(
    tree: dict[str, Any], overrides: list[str] | None = None, source: str = "data"
) -> DataConfig:
    """A checked data section from a mapping (``{"dataset": "mitbih", "mitbih": {...}}``) and
    ``key=value`` overrides of its keys (``mitbih.split=inter``); one-line ``ConfigError``
    naming ``source`` otherwise."""
    tree, given = apply_overrides(tree, overrides)
    schema = data_schema()
    try:
        return schema.model_validate(tree)
    except ValidationError as exc:
        named = {f"data.{key}": text for key, text in given.items()}
        message = format_validation(schema, source, exc, named, prefix=("data",))
        raise ConfigError(message) from None
