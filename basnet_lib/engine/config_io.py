"""JSON round-trip for the project's frozen config dataclasses.

Every concern (model, data, training, loss) has one frozen dataclass whose fields are exactly the
notebook's papermill parameters; this module saves one beside each result and reads it back,
refusing unknown or missing fields so that a config from another version fails loudly.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

from basnet_lib.engine.file_writes import write_atomically

ConfigT = TypeVar("ConfigT")


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain dict of a config dataclass (tuples become lists, as JSON would make them)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(config_type: type[ConfigT], values: dict[str, Any], *, source: str = "dict") -> ConfigT:
    """Build ``config_type`` from ``values``; unknown fields are an error that names them."""
    known = {field.name for field in dataclasses.fields(config_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"{source}: unknown {config_type.__name__} field(s) {unknown}; expected a subset of {sorted(known)}"
        )
    types = typing.get_type_hints(config_type)
    converted = {}
    for field in dataclasses.fields(config_type):
        if field.name not in values:
            continue
        value = values[field.name]
        if dataclasses.is_dataclass(types[field.name]):
            # A section of a composed config (e.g. RunConfig.model).
            if not isinstance(value, dict):
                raise ValueError(f"{source}: section {field.name!r} must be an object, got {value!r}")
            value = config_from_dict(types[field.name], value, source=f"{source} [{field.name}]")
        elif isinstance(value, list) and isinstance(field.default, tuple):
            value = tuple(value)  # JSON has no tuples: give tuple-typed defaults their type back.
        converted[field.name] = value
    try:
        return config_type(**converted)
    except (ValueError, TypeError) as error:  # a field's check; a section's error names the file already
        message = str(error)
        raise ValueError(message if message.startswith(source) else f"{source}: {message}") from None


def save_config(config: Any, path: str | Path) -> Path:
    """Write ``config`` as indented JSON to ``path`` (parents created; atomically, a failure is a
    :class:`~basnet_lib.engine.file_writes.FileWriteError` naming ``path``)."""
    text = json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n"
    return write_atomically(Path(path), text.encode())


def read_config_json(path: str | Path, config_type: type) -> dict[str, Any]:
    """The JSON object of a config file, with errors that name the file."""
    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such config file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a JSON object of {config_type.__name__} fields")
    return values


def load_config(config_type: type[ConfigT], path: str | Path) -> ConfigT:
    """Read a config written by :func:`save_config`, with errors that name the file (a run's
    ``config.json``: :func:`basnet_lib.engine.config.load_run_config`)."""
    return config_from_dict(config_type, read_config_json(path, config_type), source=str(path))
