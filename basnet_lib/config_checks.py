"""The checks every config dataclass runs on its fields, and the one reading of a boolean from text.

A config is frozen and checked when it is made (``ModelConfig``, ``DataConfig``, ``LossConfig``,
``TrainConfig``), so a bad value stops a run before it builds a model or touches a file. Errors
name the class and the field as the command line spells it (``TrainConfig.batch_size=0``).
"""

from __future__ import annotations

import math

TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# The largest float32: a hyper-parameter that multiplies float32 tensors (a learning rate, a loss
# weight) must fit, or the step fails with torch's "cannot be converted to type float without overflow".
FLOAT32_MAX = 3.4028234663852886e38


def check_int(owner: object, name: str, *, minimum: int, option: str = "") -> None:
    """``owner.name`` is an integer (not a bool) of at least ``minimum``; ``option`` names the
    command-line option that sets it where that is not ``--section.name``."""
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        spelled = f" ({option})" if option else ""
        raise ValueError(f"{type(owner).__name__}.{name}={value!r}{spelled} must be an integer >= {minimum}")


def check_number(
    owner: object,
    name: str,
    *,
    minimum: float = -math.inf,
    maximum: float = math.inf,
    open_minimum: bool = False,
    open_maximum: bool = False,
    why: str = "",
) -> None:
    """``owner.name`` is a finite int or float (not a bool) between ``minimum`` and ``maximum``
    (excluded where ``open_*``); ``why`` says where a bound comes from."""
    value = getattr(owner, name)
    bounds = []
    if minimum > -math.inf:
        bounds.append(f"{'>' if open_minimum else '>='} {minimum}")
    if maximum < math.inf:
        bounds.append(f"{'<' if open_maximum else '<='} {maximum:g}")
    is_number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    within = is_number and (value > minimum if open_minimum else value >= minimum)
    within = within and (value < maximum if open_maximum else value <= maximum)
    if not within:
        reason = f" ({why})" if why else ""
        raise ValueError(
            f"{type(owner).__name__}.{name}={value!r} must be a finite number {' and '.join(bounds)}".rstrip() + reason
        )


def check_choice(owner: object, name: str, choices: tuple[str, ...]) -> None:
    """``owner.name`` is one of ``choices``."""
    value = getattr(owner, name)
    if value not in choices:
        raise ValueError(f"{type(owner).__name__}.{name}={value!r}: expected one of {choices}")


def parse_bool(text: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``, any case) as a bool; the
    command line's flags and the notebooks' parameters read booleans this way."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {text!r}")
