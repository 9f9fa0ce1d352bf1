"""The one check of what the metric accumulators are given: integer trainId maps (docs/method.md §5.1, §5.2)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def checked_label_maps(pred: Tensor | np.ndarray, target: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
    """``pred`` and ``target`` as integer tensors of one shape (numpy arrays are taken as they are).

    Floats are refused rather than truncated: probabilities in [0, 1) would all count as class 0,
    and NaN as whatever the cast makes of it.

    Raises:
        TypeError: not a tensor or array, or not integer-valued (the message says to take the argmax).
        ValueError: the two differ in shape.
    """
    maps = tuple(_as_label_map(name, values) for name, values in (("pred", pred), ("target", target)))
    if maps[0].shape != maps[1].shape:
        raise ValueError(f"pred {tuple(maps[0].shape)} and target {tuple(maps[1].shape)} differ in shape")
    return maps[0], maps[1]


def _as_label_map(name: str, values: Tensor | np.ndarray) -> Tensor:
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(np.ascontiguousarray(values))
    if not isinstance(values, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor or numpy.ndarray of integer trainIds, got {type(values).__name__}"
        )
    if values.is_floating_point() or values.is_complex():
        nan = " and holds NaN" if values.is_floating_point() and bool(torch.isnan(values).any()) else ""
        raise TypeError(
            f"{name} is {str(values.dtype).removeprefix('torch.')}{nan}: metrics take integer trainId maps "
            "(take the argmax of the logits, e.g. logits.argmax(1))"
        )
    return values
