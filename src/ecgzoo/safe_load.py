"""The one YAML (and JSON) reader: safe tags only, no aliases, a size cap, one-line errors.

``yaml.safe_load`` refuses ``!!python`` tags but expands aliases: a 1 KB document of nested
``&a [*a, *a, ...]`` grows to gigabytes before any validation sees it (an alias bomb, in a
config or a received run folder's ``config.yaml``). ecgzoo never writes anchors or aliases
(``yaml.safe_dump`` of plain trees has none to write), so an alias is refused outright; a
document over :data:`MAX_BYTES` is refused before parsing. Errors are one-line
:class:`~ecgzoo.errors.ConfigError` naming the source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ecgzoo.errors import ConfigError, DataError

__all__ = ["MAX_BYTES", "load_yaml", "read_json", "read_yaml", "yaml_problem"]

#: The largest YAML document read (configs, spaces, grids are a few KB).
MAX_BYTES = 4 << 20


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses ``*alias`` references (the alias-bomb vector)."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"alias *{event.anchor} refused (ecgzoo reads no YAML aliases)",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line for a YAML error, keeping where it is (``line N, column M: problem``)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def load_yaml(text: str, source: str) -> Any:
    """Parse ``text`` (from ``source``, named in errors) with safe tags and no aliases."""
    if len(text) > MAX_BYTES:
        raise ConfigError(
            f"{source}: YAML of {len(text):,} characters (the limit is {MAX_BYTES:,})"
        )
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({yaml_problem(exc)})") from None
    except RecursionError:
        raise ConfigError(f"{source}: YAML nested too deeply") from None


def read_yaml(path: str | Path, what: str = "YAML", mapping: bool = False) -> Any:
    """The parsed YAML file ``path``; missing, too large, non-UTF-8 or bad YAML is one line.

    ``mapping=True`` also refuses a document whose top level is not a mapping (``what`` names
    the kind of file in the messages).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"{path}: {what} file over {MAX_BYTES:,} bytes")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} file ({exc.strerror})") from None
    tree = load_yaml(text, str(path))
    if mapping and tree is not None and not isinstance(tree, dict):
        raise ConfigError(f"{path}: {what} must be a mapping, not a {type(tree).__name__}")
    return tree


def read_json(path: str | Path, what: str = "JSON", mapping: bool = True) -> Any:
    """The parsed JSON file ``path``; missing, non-UTF-8 or invalid JSON is one line naming it.

    ``mapping=True`` (the default: every JSON file ecgzoo writes is an object) also refuses
    another top-level type.
    """
    path = Path(path)
    try:
        tree = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    except (OSError, RecursionError) as exc:
        raise DataError(f"{path}: cannot read {what} file ({exc})") from None
    if mapping and not isinstance(tree, dict):
        raise DataError(f"{path}: {what} must be a JSON object, not a {type(tree).__name__}")
    return tree
