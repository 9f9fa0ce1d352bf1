"""Notebook parameters as papermill hands them over, parsed and checked against their declared type.

papermill's ``-p NAME VALUE`` turns ``1`` into an int, ``1.5`` into a float, ``True`` into a bool
and everything else into text: ``-p seeds "[0, 1]"`` arrives as the string ``"[0, 1]"``, which a
notebook would iterate character by character. A parameters cell declares each parameter's type by
its default (``seeds: list = [0, 1, 2]``: a list of whole numbers); :func:`parameter_value` turns
what arrived into that type, or raises one clear error naming the parameter.
"""

from __future__ import annotations

import ast
import json
import numbers
import os
from collections.abc import Iterable

from basnet_lib.config_checks import FALSE_WORDS, TRUE_WORDS, parse_bool

LIST_FORMS = "a JSON list such as '[0, 1]' or comma-separated such as '0,1'"


def parameter_value(name: str, value: object, default: object) -> object:
    """``value`` of parameter ``name`` as the type of its ``default``: lists (their items of the
    type of the default's items; text when it is empty) from a list, a JSON list or comma-separated
    text, or one item; whole numbers from ints, integral floats or text; booleans from bools or
    text as :func:`basnet_lib.config_checks.parse_bool` reads it; text from text (or a path) only.

    Raises:
        ValueError: ``value`` cannot be read as that type (the message names the parameter).
    """
    if isinstance(default, list | tuple):
        item_type = type(default[0]) if default else str
        return parsed_list(name, value, item_type)
    return parsed_scalar(name, value, type(default))


def parsed_list(name: str, value: object, item_type: type) -> list:
    """``value`` as a list of ``item_type`` (see :func:`parameter_value`)."""
    if isinstance(value, str):
        items = _list_from_text(name, value)
    elif isinstance(value, Iterable):
        items = list(value)  # a list, a tuple, a range, an array
    else:
        items = [value]  # papermill's -p seeds 3 gives the int 3
    return [parsed_scalar(f"{name}[{index}]", item, item_type) for index, item in enumerate(items)]


def parsed_scalar(name: str, value: object, kind: type) -> object:
    """``value`` as one ``kind`` (int, float, bool or str; see :func:`parameter_value`)."""
    if kind is bool:
        return _boolean(name, value)
    if kind is int:
        return whole_number(name, value)
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"parameter {name}: expected a number, got {value!r}")
    if kind is str and isinstance(value, os.PathLike):
        return os.fspath(value)  # results_root as a Path (a notebook's set-up cell run twice)
    if not isinstance(value, kind):
        raise ValueError(
            f"parameter {name}: expected {kind.__name__}, got {value!r} ({type(value).__name__}); "
            "papermill's -r NAME VALUE passes a value as text"
        )
    return value


def whole_number(name: str, value: object) -> int:
    """``value`` as an int: ints, integral floats (``1.0``) and digit text; refuses ``1.5``, bools."""
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"parameter {name}: expected a whole number, got {value!r}") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"parameter {name}: expected a whole number, got {value!r}")
    return int(value)  # also numpy's integers


def _list_from_text(name: str, text: str) -> list:
    text = text.strip()
    if not text.startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    for parse in (json.loads, ast.literal_eval):  # JSON, or a Python list with 'single quotes'
        try:
            items = parse(text)
        except (ValueError, SyntaxError):
            continue
        if isinstance(items, list):
            return items
    raise ValueError(f"parameter {name}: expected {LIST_FORMS}, got {text!r}")


def _boolean(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return parse_bool(value)
    raise ValueError(f"parameter {name}: expected True or False, got {value!r}")
