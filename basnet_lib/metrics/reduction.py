"""Metric state added up: merged from another evaluation, or summed over processes (docs/method.md §5.3)."""

from __future__ import annotations

import torch.distributed as dist
from torch import Tensor


def as_state_tensor(values: Tensor, *, like: Tensor) -> Tensor:
    """``values`` with the dtype and device of the metric state ``like`` (for :meth:`merge`)."""
    if values.shape != like.shape:
        raise ValueError(f"cannot merge metric state of shape {tuple(values.shape)} into {tuple(like.shape)}")
    return values.to(device=like.device, dtype=like.dtype)


def all_reduce_sum_(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` in place over all processes; a no-op outside ``torch.distributed``.

    The tensor must live where the backend can reduce it (CUDA for nccl, CPU or CUDA for gloo);
    every process must call this in the same order (metric counts, docs/method.md §5.3).
    """
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor
