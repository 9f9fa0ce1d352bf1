"""GPU check for the first GPU machine (docs/performance.md "GPU"): under 10 minutes on one GPU.

The paper preset's model (``full``, ResNet-101, width 256; random weights: ImageNet's are not needed
to time a step) trains on a synthetic batch of 8 × 480×480 for ``--steps`` steps after warm-up in
three precisions: fp32 (TF32 off), TF32 (on for matrix products and cuDNN convolutions) and AMP
(fp16 autocast + GradScaler, as ``--train.amp true``): step time, peak allocated memory, finite
losses, and the FLOP rate against the meta-device count (``reproduction.step_cost``). Then DDP over
2 GPUs (nccl, SyncBatchNorm, 2 spawned processes, global batch 8) when there are 2, else recorded as
skipped; the dense boundary F-score on CUDA against the sparse one on the CPU, on random label maps
at 1024×2048 (must be equal); and the evaluation of one 1024×2048 image (``engine.evaluate.predict``
on the model under ``speed.prepare_for_inference``) with its time and peak memory. Writes
``results/benchmarks/gpu.json`` with ``engine.runtime.system_info()``.

Each check is a function of a device, tested on the CPU at tiny sizes
(tests/benchmarks/test_gpu_check.py). Without CUDA the script prints one line, writes nothing and
exits 0.

    python benchmarks/gpu_check.py
    python benchmarks/gpu_check.py --steps 10 --out /tmp/gpu.json
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from basnet_lib.distributed import DistributedContext, cleanup_distributed, setup_distributed, unwrap_model
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.evaluate import predict
from basnet_lib.engine.presets import preset
from basnet_lib.engine.runtime import cpu_threads, cuda_tf32, system_info
from basnet_lib.engine.training_state import TrainingState
from basnet_lib.metrics.boundary_fscore import GSCNN_THRESHOLDS, boundary_fscores, boundary_radii
from basnet_lib.model import build_basnet
from basnet_lib.reproduction.estimate import memory_per_gpu_bytes
from basnet_lib.reproduction.step_cost import (
    count_training_step,
    time_training_steps,
    train_synthetic_steps,
    without_weight_files,
)
from basnet_lib.speed import prepare_for_inference

MIB = 2**20
EVALUATION_SIZE = (1024, 2048)  # a Cityscapes image


@dataclass(frozen=True)
class Precision:
    """How a training case runs its float32 arithmetic."""

    name: str
    tf32: bool  # torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    amp: bool  # TrainConfig.amp: fp16 autocast + GradScaler on CUDA (bf16 autocast on a CPU)


PRECISIONS = (
    Precision("fp32", tf32=False, amp=False),
    Precision("tf32", tf32=True, amp=False),
    Precision("amp", tf32=False, amp=True),
)


def paper_run(*, variant: str = "full", backbone: str = "resnet101") -> RunConfig:
    """The paper preset's run, random weights (synthetic batches: no data root is read)."""
    return without_weight_files(preset("paper", variant=variant, backbone=backbone, data_root="synthetic"))


def training_case(
    run: RunConfig, precision: Precision, *, device: str, batch_size: int, steps: int, warmup: int
) -> dict[str, object]:
    """Step time, peak memory and finite losses of one precision; out of memory is a result too."""
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, amp=precision.amp))
    case = {
        "precision": precision.name,
        "tf32": precision.tf32,
        "amp": precision.amp,
        "batch_size": batch_size,
    }
    context = DistributedContext(device=torch.device(device))
    try:
        with cuda_tf32(precision.tf32):
            timing = time_training_steps(
                run, context=context, batch_size=batch_size, steps=steps, warmup=warmup
            )
    except torch.OutOfMemoryError as error:
        return {**case, "error": f"out of memory: {str(error).splitlines()[0]}"}
    finally:
        _release_memory(device)
    peak = timing.peak_memory_bytes
    return {
        **case,
        "device": timing.device,
        "steps": timing.steps,
        "step_seconds": timing.step_seconds,
        "images_per_second": batch_size / timing.step_seconds,
        "peak_memory_mib": None if peak is None else peak / MIB,
        "loss_finite": timing.loss_finite,
        "first_loss": timing.losses[0],
        "last_loss": timing.losses[-1],
    }


def ddp_case(
    run: RunConfig, *, device_type: str, world_size: int = 2, batch_size: int, steps: int, warmup: int
) -> dict[str, object]:
    """``world_size`` spawned processes training ``run`` under DDP (nccl and SyncBatchNorm on CUDA,
    gloo on a CPU) at the global ``batch_size``: per-rank step time and whether every rank ends
    with the same weights. Skipped, with the reason, on fewer CUDA devices than processes."""
    if device_type == "cuda" and torch.cuda.device_count() < world_size:
        return {
            "skipped": f"{torch.cuda.device_count()} CUDA device(s); DDP over {world_size} needs {world_size}"
        }
    with tempfile.TemporaryDirectory() as folder:
        arguments = (world_size, _free_port(), run, device_type, batch_size, steps, warmup, folder)
        mp.spawn(_ddp_worker, args=arguments, nprocs=world_size, join=True)
        ranks = [json.loads((Path(folder) / f"rank{rank}.json").read_text()) for rank in range(world_size)]
    return {
        "world_size": world_size,
        "global_batch_size": batch_size,
        "backend": ranks[0]["backend"],
        "sync_batchnorm_layers": ranks[0]["sync_batchnorm_layers"],
        "weights_equal_across_ranks": all(rank["weights_equal_across_ranks"] for rank in ranks),
        "loss_finite": all(rank["loss_finite"] for rank in ranks),
        "ranks": ranks,
    }


def _ddp_worker(
    rank: int,
    world_size: int,
    port: int,
    run: RunConfig,
    device_type: str,
    batch_size: int,
    steps: int,
    warmup: int,
    folder: str,
) -> None:
    """One DDP process: joins the group as ``torchrun`` would have it join, trains, compares weights."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    context = setup_distributed(device_type)
    try:
        with cpu_threads(run.train.threads):  # as the trainer sets them for the run
            state = TrainingState.create(without_weight_files(run), context, checkpoint=None)
            timing = train_synthetic_steps(
                run,
                state,
                device=context.device,
                batch_size=batch_size // world_size,
                steps=steps,
                warmup=warmup,
                batch_seed=rank,  # each rank its own images: equal weights then need DDP's averaging
            )
        # Per-tensor sums of the weights: the same on every rank when DDP averaged the gradients.
        sums = torch.stack([p.detach().double().sum() for p in unwrap_model(state.model).parameters()])
        low, high = sums.clone(), sums.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        peak = timing.peak_memory_bytes
        result = {
            "rank": rank,
            "device": timing.device,
            "backend": dist.get_backend(),
            "sync_batchnorm_layers": sum(isinstance(m, nn.SyncBatchNorm) for m in state.model.modules()),
            "step_seconds": timing.step_seconds,
            "peak_memory_mib": None if peak is None else peak / MIB,
            "loss_finite": timing.loss_finite,
            "last_loss": timing.losses[-1],
            "weights_equal_across_ranks": bool(torch.equal(low, high)),
        }
        (Path(folder) / f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        cleanup_distributed()


def random_label_maps(height: int, width: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(prediction, ground truth) trainId maps: 16×16-pixel blocks of random classes, an ignored
    band in the ground truth, and a prediction that differs in a fifth of the blocks and in 1% of
    the pixels, so both maps have boundaries of every kind."""
    generator = torch.Generator().manual_seed(seed)
    blocks = (-(-height // 16), -(-width // 16))
    gt = torch.randint(0, 19, blocks, generator=generator)
    changed = torch.rand(blocks, generator=generator) < 0.2
    pred = torch.where(changed, torch.randint(0, 19, blocks, generator=generator), gt)
    gt, pred = (m.repeat_interleave(16, 0).repeat_interleave(16, 1)[:height, :width] for m in (gt, pred))
    noisy = torch.rand(height, width, generator=generator) < 0.01
    pred = torch.where(noisy, torch.randint(0, 19, (height, width), generator=generator), pred)
    gt[: height // 10] = 255
    return pred, gt


def boundary_fscore_case(*, device: str, height: int, width: int) -> dict[str, object]:
    """The dense boundary F on ``device`` against the sparse one on the CPU (both exact: equal)."""
    pred, gt = random_label_maps(height, width)
    radii = boundary_radii(GSCNN_THRESHOLDS, height=height, width=width)
    started = time.perf_counter()
    sparse = boundary_fscores(pred, gt, radii=radii, method="sparse")
    sparse_seconds = time.perf_counter() - started
    pred_on_device, gt_on_device = pred.to(device), gt.to(device)
    boundary_fscores(pred_on_device, gt_on_device, radii=radii, method="dense")  # warm-up
    _synchronize(device)
    started = time.perf_counter()
    dense = boundary_fscores(pred_on_device, gt_on_device, radii=radii, method="dense")
    _synchronize(device)
    dense_seconds = time.perf_counter() - started
    return {
        "size": [height, width],
        "radii": list(radii),
        "dense_device": device,
        "equal": bool(torch.equal(dense.cpu(), sparse)),
        "max_abs_difference": float((dense.cpu() - sparse).abs().max()),
        "mean_F": [float(value) for value in sparse.mean(dim=1)],
        "sparse_cpu_seconds": sparse_seconds,
        "dense_seconds": dense_seconds,
    }


def inference_case(run: RunConfig, *, device: str, height: int, width: int) -> dict[str, object]:
    """One image through ``predict`` on the model as evaluation prepares it: time and peak memory."""
    torch.manual_seed(0)
    model = prepare_for_inference(build_basnet(config=without_weight_files(run).model).to(device))
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(1, 3, height, width, generator=generator).to(device)
    canny = (torch.rand(1, 1, height, width, generator=generator) < 0.1).float().to(device)
    predict(model, image, canny)  # warm-up (cuDNN's algorithm search)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
    _synchronize(device)
    started = time.perf_counter()
    prediction = predict(model, image, canny)
    _synchronize(device)
    seconds = time.perf_counter() - started
    finite = bool(torch.isfinite(prediction.probabilities).all())
    peak = torch.cuda.max_memory_allocated(device) / MIB if device.startswith("cuda") else None
    del model, prediction
    _release_memory(device)
    return {
        "size": [height, width],
        "device": device,
        "seconds": seconds,
        "peak_memory_mib": peak,
        "probabilities_finite": finite,
    }


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _release_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per case")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8, help="the paper's batch, on one GPU")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/gpu.json"))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device on this machine; nothing measured, nothing written")
        return 0
    started, device, run = time.perf_counter(), "cuda:0", paper_run()
    cost = count_training_step(run, batch_size=args.batch_size)
    training = []
    for precision in PRECISIONS:
        case = training_case(
            run, precision, device=device, batch_size=args.batch_size, steps=args.steps, warmup=args.warmup
        )
        if "step_seconds" in case:
            case["achieved_tflop_per_second"] = cost.flops / case["step_seconds"] / 1e12
        training.append(case)
        print(f"train {precision.name}: {json.dumps(case)}", flush=True)
    ddp = ddp_case(
        run, device_type="cuda", batch_size=args.batch_size, steps=args.steps // 2, warmup=args.warmup
    )
    print(f"ddp: {json.dumps(ddp)}", flush=True)
    fscore = boundary_fscore_case(device=device, height=EVALUATION_SIZE[0], width=EVALUATION_SIZE[1])
    print(f"boundary F: {json.dumps(fscore)}", flush=True)
    inference = inference_case(run, device=device, height=EVALUATION_SIZE[0], width=EVALUATION_SIZE[1])
    print(f"inference: {json.dumps(inference)}", flush=True)
    estimate = {
        "what": "meta-device count of the same step (reproduction.step_cost), an estimate",
        "tflop_per_step": cost.flops / 1e12,
        "memory_mib": memory_per_gpu_bytes(cost, gpus_per_run=1) / MIB,
        "activation_mib": cost.activation_bytes / MIB,
    }
    payload = {
        "run": {
            "preset": "paper",
            "variant": run.model.variant,
            "backbone": run.model.backbone,
            "crop": list(run.data.crop_size),
            "batch_size": args.batch_size,
            "weights": "random",
        },
        "estimate": estimate,
        "training": training,
        "ddp": ddp,
        "boundary_fscore": fscore,
        "inference": inference,
        "seconds": time.perf_counter() - started,
        "system": system_info(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
