"""One entry point from one CPU to N GPUs or nodes (docs/method.md §4.2, §8.5).

:func:`setup_distributed` does nothing outside ``torchrun``; under it, it joins the process group
with gloo on CPU and nccl on GPU. Only rank 0 writes files; metric counts are summed with
``all_reduce``; checkpoints hold the unwrapped model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from basnet_lib.metrics.reduction import all_reduce_sum_


@dataclass(frozen=True)
class DistributedContext:
    """Where this process runs: ``rank`` of ``world_size`` processes, on ``device``.

    ``control_group``: the process group for small CPU messages between processes (a stop request,
    :mod:`basnet_lib.engine.stop`): gloo, so that they never wait for the GPU.
    """

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    control_group: object = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(request: str) -> torch.device:
    """``"auto"`` → CUDA when available else CPU; otherwise ``torch.device(request)``."""
    if request == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(request)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {request!r} requested but CUDA is not available on this machine")
    return device


def setup_distributed(device_request: str = "auto") -> DistributedContext:
    """Join the ``torchrun`` process group if there is one (env ``WORLD_SIZE`` > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_request)
    if world_size <= 1:
        return DistributedContext(device=device)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    # Every process makes the group at the same point; with gloo the default group serves.
    control = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
    return DistributedContext(
        rank=rank, world_size=world_size, local_rank=local_rank, device=device, control_group=control
    )


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, context: DistributedContext) -> nn.Module:
    """DDP when distributed; SyncBatchNorm only with several CUDA processes (docs/method.md §4.1, §8.5)."""
    model = model.to(context.device)
    if not context.is_distributed:
        return model
    if context.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[context.local_rank])
    return DistributedDataParallel(model)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside a DDP wrapper (what checkpoints hold)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


class MainProcessError(RuntimeError):
    """Raised on every other process when rank 0's part of a :func:`run_on_main` failed."""


def run_on_main(context: DistributedContext, action: Callable[[], object]) -> None:
    """``action()`` on rank 0 only; when it fails, every process raises (rank 0 its own error),
    where the others would otherwise wait for rank 0 forever at the next collective."""
    error = None
    if context.is_main:
        try:
            action()
        except Exception as caught:  # raised below, once the other processes know
            error = caught
    failed = all_reduce_sum_(torch.tensor(int(error is not None), device=context.device))
    if error is not None:
        raise error
    if failed.item():
        raise MainProcessError("the run's first process (rank 0) failed; see its error")


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_buffers_(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics) to every process before evaluation.

    DDP broadcasts buffers at the start of each forward, so after the last training step each
    process holds its own statistics; evaluation must use rank 0's, which the checkpoint holds.
    """
    if dist.is_available() and dist.is_initialized():
        for buffer in unwrap_model(model).buffers():
            dist.broadcast(buffer, src=0)
