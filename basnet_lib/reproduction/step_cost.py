"""What one training step of a run costs: counted on the ``meta`` device without computing anything,
or timed on a real device (docs/decisions.md "GPU-hours estimate").

:func:`count_training_step` runs one forward, loss, backward and optimiser step of the run's model
on tensors that have shapes but no data: ``FlopCounterMode`` counts the FLOPs (a multiply-add is 2
FLOPs; convolutions and matrix products only, element-wise ops, pooling and interpolation are not
counted) and a saved-tensors hook sums the bytes autograd keeps for the backward. For the paper's
ResNet-101 at 8 × 480² this takes about a second on a CPU. :func:`time_training_steps` runs real
steps on a device, as the trainer does, for the measured step time and peak memory.

The counted model is the plain one, without the CPU speed passes of ``prepare_for_training``: on
CUDA they change no kernel's work (the ASPPs' tap-by-tap weight gradient is CPU-only), so the plain
model's count is what a GPU computes.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from basnet_lib.data.labels import NUM_CLASSES
from basnet_lib.distributed import DistributedContext
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.optimization import build_optimizer
from basnet_lib.engine.runtime import cpu_threads
from basnet_lib.engine.sampling import TrainingBatch
from basnet_lib.engine.training_state import TrainingState
from basnet_lib.gradient_map import stack_gradient_map
from basnet_lib.loss import joint_loss
from basnet_lib.model import build_basnet


@dataclass(frozen=True)
class StepCost:
    """One process's training step of ``batch_size`` images at ``crop`` (H, W), counted.

    ``flops``: forward + backward (convolutions and matrix products); the byte counts are fp32
    weights, their gradients, the optimiser's state and the activations autograd saves for the
    backward (deduplicated by storage; the inputs included, the weights not).
    """

    batch_size: int
    crop: tuple[int, int]
    flops: float
    parameter_bytes: int
    gradient_bytes: int
    optimizer_state_bytes: int
    activation_bytes: int


@dataclass(frozen=True)
class StepTiming:
    """Real steps of one process: the median step time after warm-up, the device's peak allocated
    memory (CUDA only, else ``None``) and every timed step's total loss."""

    device: str
    batch_size: int
    steps: int
    step_seconds: float
    peak_memory_bytes: int | None
    losses: tuple[float, ...]

    @property
    def loss_finite(self) -> bool:
        return all(torch.isfinite(torch.tensor(self.losses)).tolist())


def without_weight_files(run: RunConfig) -> RunConfig:
    """``run`` with a randomly initialised backbone: a step costs the same without ImageNet weights."""
    return dataclasses.replace(run, model=run.model.without_imagenet_weights())


def synthetic_batch(
    run: RunConfig, *, batch_size: int, device: torch.device | str, seed: int = 0
) -> TrainingBatch:
    """A training batch of the run's crop size with random content (normalized image, Canny map,
    trainIds with an ignored border, edge target), on ``device`` (``meta`` included)."""
    height, width = run.data.crop_size
    generator = torch.Generator().manual_seed(seed)
    image = torch.randn(batch_size, 3, height, width, generator=generator)
    canny = (torch.rand(batch_size, 1, height, width, generator=generator) < 0.1).float()
    labels = torch.randint(0, NUM_CLASSES, (batch_size, height, width), generator=generator)
    labels[:, :2] = 255  # the ignore label takes the loss's masking path too
    edges = (torch.rand(batch_size, 1, height, width, generator=generator) < 0.1).float()
    memory_format = torch.channels_last if run.train.channels_last else torch.contiguous_format
    return TrainingBatch(
        image=image.to(device).contiguous(memory_format=memory_format),
        gradient_map=stack_gradient_map(image, canny).to(device).contiguous(memory_format=memory_format),
        labels=labels.to(device),
        edges=edges.to(device),
    )


def count_training_step(run: RunConfig, *, batch_size: int, device: str = "meta") -> StepCost:
    """FLOPs and memory of one training step of ``run``'s model at ``batch_size`` images.

    ``device="meta"`` counts without computing; any other device runs the same step for real
    (at a small size, to check the count against).
    """
    with cpu_threads(run.train.threads):  # a real CPU step at the run's thread count, as the trainer's
        with torch.device(device):
            model = build_basnet(config=without_weight_files(run).model)
        memory_format = torch.channels_last if run.train.channels_last else torch.contiguous_format
        model = model.to(memory_format=memory_format).train()
        batch = synthetic_batch(run, batch_size=batch_size, device=device)
        optimizer = build_optimizer(model, run.train)
        flops, activation_bytes = _counted_forward_backward(model, batch, run)
        optimizer.step()  # creates the optimiser's state (momentum buffers, Adam moments)
    parameter_bytes = sum(parameter.nbytes for parameter in model.parameters())
    return StepCost(
        batch_size=batch_size,
        crop=run.data.crop_size,
        flops=flops,
        parameter_bytes=parameter_bytes,
        gradient_bytes=sum(p.grad.nbytes for p in model.parameters() if p.grad is not None),
        optimizer_state_bytes=_optimizer_state_bytes(optimizer),
        activation_bytes=activation_bytes,
    )


def _counted_forward_backward(model: nn.Module, batch: TrainingBatch, run: RunConfig) -> tuple[float, int]:
    """FLOPs of the forward, loss and backward, and the bytes autograd saved for the backward
    (each storage once; the weights, which exist anyway, not)."""
    weight_storages = {_storage_id(parameter) for parameter in model.parameters()}
    saved: dict[int, int] = {}

    def remember(tensor: Tensor) -> Tensor:
        if _storage_id(tensor) not in weight_storages:
            saved[_storage_id(tensor)] = tensor.untyped_storage().nbytes()
        return tensor

    with FlopCounterMode(display=False) as counter:
        with torch.autograd.graph.saved_tensors_hooks(remember, lambda tensor: tensor):
            outputs = model(batch.image, batch.gradient_map)
            terms = joint_loss(outputs, labels=batch.labels, edge_target=batch.edges, config=run.loss)
        terms["total"].backward()
    return float(counter.get_total_flops()), sum(saved.values())


def time_training_steps(
    run: RunConfig, *, context: DistributedContext, batch_size: int, steps: int = 5, warmup: int = 2
) -> StepTiming:
    """Median time of ``steps`` real training steps of ``run`` in this process, after ``warmup``:
    the model set up as the trainer sets it up (``TrainingState``: speed passes, channels_last, DDP
    and SyncBatchNorm under ``torch.distributed``), then :func:`train_synthetic_steps`. Reseeds
    torch's global generator (``TrainingState.create``)."""
    with cpu_threads(run.train.threads):  # as the trainer sets them for the run
        state = TrainingState.create(without_weight_files(run), context, checkpoint=None)
        return train_synthetic_steps(
            run, state, device=context.device, batch_size=batch_size, steps=steps, warmup=warmup
        )


def train_synthetic_steps(
    run: RunConfig,
    state: TrainingState,
    *,
    device: torch.device,
    batch_size: int,
    steps: int,
    warmup: int,
    batch_seed: int = 0,
) -> StepTiming:
    """``warmup + steps`` training steps of ``state`` on one synthetic batch of ``batch_size`` images
    (drawn from ``batch_seed``); the median time of the last ``steps``.

    The step is the trainer's (:meth:`TrainingState.step`), with equal class weights where the run
    balances classes, so that the weighted loss's work is timed too. A synthetic batch makes the
    time the model's, not the data loading's. CUDA is synchronised after each step.
    """
    batch = synthetic_batch(run, batch_size=batch_size, device=device, seed=batch_seed)
    on_cuda = device.type == "cuda"
    if on_cuda:
        torch.cuda.reset_peak_memory_stats(device)
    state.model.train()
    seconds, losses = [], []
    for step in range(warmup + steps):
        started = time.perf_counter()
        terms = state.step(batch, run.loss, amp=run.train.amp, class_weights=_uniform_class_weights(run))
        if on_cuda:
            torch.cuda.synchronize(device)
        if step >= warmup:
            seconds.append(time.perf_counter() - started)
            losses.append(terms["total"].detach())
    return StepTiming(
        device=f"{device} ({torch.cuda.get_device_name(device)})" if on_cuda else str(device),
        batch_size=batch_size,
        steps=steps,
        step_seconds=statistics.median(seconds),
        peak_memory_bytes=torch.cuda.max_memory_allocated(device) if on_cuda else None,
        losses=tuple(float(loss) for loss in losses),
    )


def _uniform_class_weights(run: RunConfig) -> tuple[float, ...]:
    """Class weights of the run's form (none without class balancing) for a batch whose labels are
    random: their values do not change a step's cost."""
    return (1.0,) * NUM_CLASSES if run.loss.class_balance else ()


def _storage_id(tensor: Tensor) -> int:
    """An identity of the memory under ``tensor`` (views share it), also for ``meta`` tensors,
    whose data pointers are all 0."""
    return tensor.untyped_storage()._cdata


def _optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(
        value.nbytes
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, Tensor)
    )
