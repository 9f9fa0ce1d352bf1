"""Merging metric state (docs/method.md §5.3); summing over processes is
:func:`basnet_lib.distributed.all_reduce_sum_`."""

from __future__ import annotations

from torch import Tensor


def as_state_tensor(values: Tensor, *, like: Tensor) -> Tensor:
    """``values`` with the dtype and device of the metric state ``like`` (for :meth:`merge`)."""
    if values.shape != like.shape:
        raise ValueError(f"cannot merge metric state of shape {tuple(values.shape)} into {tuple(like.shape)}")
    return values.to(device=like.device, dtype=like.dtype)


__all__ = ["as_state_tensor"]
