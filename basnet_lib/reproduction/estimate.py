"""Plan before spending: GPU-hours and memory per GPU of an experiment grid, estimated before any GPU
is booked (docs/decisions.md "GPU-hours estimate").

Each run's training step is counted on the ``meta`` device at the batch each GPU takes (the global
batch over ``gpus_per_run``; :func:`~basnet_lib.reproduction.step_cost.count_training_step`). Its
time is then either *assumed* (the step's FLOPs over an :class:`AssumedThroughput`, by default
:data:`A100_TF32`) or *measured* (the median of a few real steps on ``timing_device``). GPU-hours
are step time × iterations × GPUs: perfect scaling over the GPUs (DDP's all-reduce not counted),
no data-loading stalls, the final evaluation on val left out. Memory per GPU is the fp32 weights,
gradients, optimiser state, DDP's gradient buckets (one more copy of the gradients, with several
GPUs) and the activations saved for the backward; cuDNN workspaces, the backward's temporaries and
the caching allocator's slack are not counted. Every figure here is an estimate.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from basnet_lib.distributed import DistributedContext, resolve_device
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.sampling import per_process_batch_size
from basnet_lib.reproduction.step_cost import StepCost, StepTiming, count_training_step, time_training_steps

GIB = 2**30


@dataclass(frozen=True)
class AssumedThroughput:
    """A sustained training throughput per GPU, in FLOP/s as ``FlopCounterMode`` counts them: an
    assumption, named, with what it rests on."""

    name: str
    flop_per_second: float
    basis: str


# Forward + backward of torchvision's resnet50 on one 224×224 image, counted by FlopCounterMode as
# step_cost counts our model (tests/reproduction/test_estimate.py recounts it).
RESNET50_TRAINING_FLOP_PER_IMAGE = 24.30e9
# NVIDIA's published single-GPU ResNet-50 v1.5 training throughputs (PyTorch, DeepLearningExamples,
# ``PyTorch/Classification/ConvNets/resnet50v1.5/README.md``, "Training performance results").
A100_TF32 = AssumedThroughput(
    name="A100, TF32 convolutions",
    flop_per_second=938 * RESNET50_TRAINING_FLOP_PER_IMAGE,
    basis=(
        "NVIDIA DeepLearningExamples' ResNet-50 v1.5 for PyTorch trains 938 img/s on one A100 80GB in "
        "TF32 (pytorch-21.03 container) × 24.3 GFLOP per 224² training image as counted here = 22.8 "
        "TFLOP/s, 15% of the A100's 156 TFLOP/s TF32 peak. PyTorch convolves in TF32 on Ampere and "
        "later GPUs by default (torch.backends.cudnn.allow_tf32), so the paper preset's fp32 runs so "
        "on an A100 unless TF32 is turned off. Assumes our model sustains ResNet-50's rate."
    ),
)
V100_FP32 = AssumedThroughput(
    name="V100, fp32",
    flop_per_second=367 * RESNET50_TRAINING_FLOP_PER_IMAGE,
    basis=(
        "NVIDIA DeepLearningExamples' ResNet-50 v1.5 for PyTorch trains 367 img/s on one V100 16GB in "
        "fp32 × 24.3 GFLOP per 224² training image as counted here = 8.9 TFLOP/s, 57% of the V100's "
        "15.7 TFLOP/s fp32 peak: a GPU without TF32. Assumes our model sustains ResNet-50's rate."
    ),
)


def assumed_throughput(runs: Sequence[RunConfig]) -> AssumedThroughput:
    """The assumption for ``runs``' arithmetic: TF32's (:data:`A100_TF32`) where every run allows
    TF32 or mixed precision, else true fp32's (:data:`V100_FP32`, the paper preset's: TF32 off);
    fp32 on an A100 is somewhat faster than on a V100, so this errs on the long side."""
    fast = all(run.train.tf32 or run.train.amp for run in runs)
    return A100_TF32 if runs and fast else V100_FP32


def per_gpu_batch_size(run: RunConfig, gpus_per_run: int) -> int:
    """The images each of ``gpus_per_run`` processes takes per step (the trainer's rule)."""
    context = DistributedContext(device=torch.device("meta"), world_size=gpus_per_run)
    return per_process_batch_size(run.train.batch_size, context)


def memory_per_gpu_bytes(cost: StepCost, *, gpus_per_run: int) -> int:
    """Estimated memory of one GPU of a run: weights, gradients, optimiser state, DDP's gradient
    buckets (with several GPUs) and the activations saved for the backward."""
    buckets = cost.gradient_bytes if gpus_per_run > 1 else 0
    return (
        cost.parameter_bytes
        + cost.gradient_bytes
        + cost.optimizer_state_bytes
        + buckets
        + cost.activation_bytes
    )


def grid_estimate(
    runs: Sequence[RunConfig],
    *,
    gpus_per_run: int,
    throughput: AssumedThroughput = A100_TF32,
    timing_device: str = "",
    timing_steps: int = 5,
) -> pd.DataFrame:
    """One row per run: its GPUs, batch per GPU, iterations, FLOPs per step, step time, GPU-hours,
    hours on its GPUs and memory per GPU, all estimates.

    The step time is assumed from ``throughput`` or, with ``timing_device`` (``"cuda"``; ``"cpu"``
    in tests), measured over ``timing_steps`` real steps of one process at the per-GPU batch;
    ``step_time_from`` says which. Runs that differ only in seed or run directory are counted and
    timed once. A measured CUDA run also gets ``measured_peak_memory_gib``.
    """
    if gpus_per_run < 1:
        raise ValueError(f"gpus_per_run={gpus_per_run} must be at least 1")
    costs: dict[tuple, StepCost] = {}
    timings: dict[tuple, StepTiming] = {}
    rows = []
    for run in runs:
        batch_size = per_gpu_batch_size(run, gpus_per_run)
        key = _cost_key(run)
        if key not in costs:
            costs[key] = count_training_step(run, batch_size=batch_size)
        if timing_device and key not in timings:
            context = DistributedContext(device=resolve_device(timing_device))
            timings[key] = time_training_steps(
                run, context=context, batch_size=batch_size, steps=timing_steps
            )
        rows.append(_row(run, costs[key], timings.get(key), gpus_per_run=gpus_per_run, throughput=throughput))
    return pd.DataFrame(rows)


def _row(
    run: RunConfig,
    cost: StepCost,
    timing: StepTiming | None,
    *,
    gpus_per_run: int,
    throughput: AssumedThroughput,
) -> dict[str, object]:
    if timing is None:
        step_seconds, source = cost.flops / throughput.flop_per_second, f"assumed: {throughput.name}"
    else:
        step_seconds, source = timing.step_seconds, f"measured: {timing.steps} steps on {timing.device}"
    peak = timing.peak_memory_bytes if timing is not None else None
    return {
        "run": run.run_name,
        "variant": run.model.variant,
        "backbone": run.model.backbone,
        "seed": run.train.seed,
        "gpus": gpus_per_run,
        "batch_per_gpu": cost.batch_size,
        "crop": f"{cost.crop[0]}x{cost.crop[1]}",
        "iterations": run.train.iterations,
        "tflop_per_step": cost.flops * gpus_per_run / 1e12,
        "step_seconds": step_seconds,
        "gpu_hours": step_seconds * run.train.iterations * gpus_per_run / 3600,
        "hours_on_its_gpus": step_seconds * run.train.iterations / 3600,
        "memory_per_gpu_gib": memory_per_gpu_bytes(cost, gpus_per_run=gpus_per_run) / GIB,
        "measured_peak_memory_gib": float("nan") if peak is None else peak / GIB,
        "step_time_from": source,
    }


def _cost_key(run: RunConfig) -> tuple:
    """What a step's cost depends on: the model, the crop and batch, the loss, the optimiser, the
    precision and layout, the CPU threads (not the seed, the run directory or the schedule's length)."""
    train = run.train
    return (
        run.model,
        run.data.crop_size,
        train.batch_size,
        run.loss,
        train.optimizer,
        train.amp,
        train.channels_last,
        train.threads,
    )


def grid_estimate_text(
    runs: Sequence[RunConfig],
    *,
    gpus_per_run: int,
    throughput: AssumedThroughput = A100_TF32,
    timing_device: str = "",
    timing_steps: int = 5,
) -> str:
    """What ``basnet reproduce --dry-run`` prints: the :func:`grid_estimate` table, its totals,
    and how the estimate was obtained and what it assumes."""
    table = grid_estimate(
        runs,
        gpus_per_run=gpus_per_run,
        throughput=throughput,
        timing_device=timing_device,
        timing_steps=timing_steps,
    )
    if table.empty:
        return "Estimate: no runs planned."
    shown = pd.DataFrame(
        {
            "run": table["run"],
            "GPUs": table["gpus"],
            "batch/GPU": table["batch_per_gpu"],
            "crop": table["crop"],
            "iterations": table["iterations"].map("{:,}".format),
            "TFLOP/step": table["tflop_per_step"].map("{:.2f}".format),
            "step (s)": table["step_seconds"].map("{:.3f}".format),
            "GPU-hours": table["gpu_hours"].map("{:.1f}".format),
            "hours/run": table["hours_on_its_gpus"].map("{:.1f}".format),
            "GiB/GPU": table["memory_per_gpu_gib"].map("{:.1f}".format),
        }
    )
    if table["measured_peak_memory_gib"].notna().any():
        shown["measured peak GiB"] = table["measured_peak_memory_gib"].map("{:.1f}".format)
    lines = [
        f"GPU-hours estimate (an estimate, not a measurement); runs planned: {len(table)}, GPUs per run: "
        f"{gpus_per_run}",
        "",
        shown.to_string(index=False),
        "",
        f"total: {len(table)} jobs on {gpus_per_run} GPU(s) each, {table['gpu_hours'].sum():,.1f} GPU-hours; "
        f"at most {table['memory_per_gpu_gib'].max():.1f} GiB per GPU (estimates)",
        "",
        "How this was estimated:",
        *(
            textwrap.fill(line, width=100, subsequent_indent="  ")
            for line in _method_lines(table, throughput=throughput, measured=bool(timing_device))
        ),
    ]
    return "\n".join(lines)


def _method_lines(table: pd.DataFrame, *, throughput: AssumedThroughput, measured: bool) -> list[str]:
    if measured:
        step_time = (
            f"- Step time {table['step_time_from'].iloc[0]} (the median, after warm-up steps), "
            "one process at the batch per GPU, on a synthetic batch."
        )
    else:
        step_time = (
            f"- Step time assumed: the step's FLOPs / {throughput.flop_per_second / 1e12:.1f} TFLOP/s sustained "
            f"per GPU ({throughput.name}). Basis: {throughput.basis}"
        )
    return [
        "- FLOPs and activations: one training step of each run's model at the batch per GPU, run on "
        "PyTorch's meta device (shapes only, nothing computed); FlopCounterMode counts convolutions and "
        "matrix products, forward + backward.",
        step_time,
        "- GPU-hours = step time x iterations x GPUs per run: perfect scaling (DDP's all-reduce not "
        "counted), no data-loading stalls; the final evaluation on val is not included.",
        "- Memory per GPU: fp32 weights, gradients, optimiser state, DDP's gradient buckets (several "
        "GPUs) and the activations saved for the backward; cuDNN workspaces, the backward's "
        "temporaries and the allocator's caching come on top (mixed precision runs: activations "
        "counted in fp32, an upper bound).",
    ]
