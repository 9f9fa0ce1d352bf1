"""Training throughput and peak memory per variant (issue: training engine).

For each preset and Table 1 variant, a fresh process builds the preset's model and runs SGD steps
of the joint loss on synthetic batches of the preset's crop and batch size (so the figure is the
model's step, not data loading), after warm-up steps. Reports the median step time, images/s, the
process's peak memory (CPU: max RSS; CUDA: max allocated), and the full model's step time relative
to ``baseline`` measured in the same run. Writes ``results/benchmarks/train.json``.

    python benchmarks/bench_train.py                    # cpu preset, 4 variants + paper R101 480x480
    python benchmarks/bench_train.py --skip-paper --steps 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import time
from pathlib import Path

import torch

from basnet_lib.engine.presets import preset
from basnet_lib.engine.runtime import system_info
from basnet_lib.loss import LossConfig, joint_loss
from basnet_lib.model import build_basnet, variant_names
from basnet_lib.speed import prepare_for_training


def measure(preset_name: str, variant: str, batch_size: int, steps: int, warmup: int, device: str) -> dict:
    """One (preset, variant) measurement; runs in its own process so peak memory is its own."""
    run = preset(preset_name, variant=variant, data_root="unused" if preset_name == "paper" else "")
    model_config = run.model
    if preset_name == "paper":  # no ImageNet weights needed to time a step
        from dataclasses import replace

        model_config = replace(model_config, pretrained_backbone=False)
    torch.manual_seed(0)
    # As the trainer does: channels_last unless the preset turns it off (TrainConfig.channels_last).
    memory_format = torch.channels_last if run.train.channels_last else torch.contiguous_format
    model = prepare_for_training(build_basnet(config=model_config)).to(device, memory_format=memory_format).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    height, width = run.data.crop_size
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(batch_size, 3, height, width, generator=generator).to(device)
    canny = (torch.rand(batch_size, 1, height, width, generator=generator) > 0.9).float().to(device)
    labels = torch.randint(0, 19, (batch_size, height, width), generator=generator).to(device)
    edges = (torch.rand(batch_size, 1, height, width, generator=generator) > 0.9).float().to(device)
    gradient_map = torch.cat([image, canny], dim=1).contiguous(memory_format=memory_format)
    image = image.contiguous(memory_format=memory_format)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(warmup + steps):
        started = time.perf_counter()
        outputs = model(image, gradient_map)
        terms = joint_loss(outputs, labels=labels, edge_target=edges, config=LossConfig())
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - started)
    step_seconds = statistics.median(times)
    if device.startswith("cuda"):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {
        "preset": preset_name,
        "variant": variant,
        "backbone": model_config.backbone,
        "width": model_config.width,
        "crop": [height, width],
        "batch_size": batch_size,
        "steps": steps,
        "step_seconds_median": step_seconds,
        "images_per_second": batch_size / step_seconds,
        "peak_memory_mb": peak_mb,
        "device": device,
        "channels_last": run.train.channels_last,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variants", nargs="+", default=list(variant_names()), choices=variant_names())
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--skip-paper", action="store_true", help="skip the paper preset's ResNet-101 480x480"
    )
    parser.add_argument(
        "--paper-batch",
        type=int,
        default=0,
        help="paper preset batch (default: 8 on GPU, 2 on CPU to keep it short)",
    )
    parser.add_argument("--paper-steps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/train.json"))
    args = parser.parse_args()

    jobs = [
        ("cpu", variant, preset("cpu").train.batch_size, args.steps, args.warmup) for variant in args.variants
    ]
    if not args.skip_paper:
        paper_batch = args.paper_batch or (8 if args.device.startswith("cuda") else 2)
        jobs += [("paper", variant, paper_batch, args.paper_steps, 1) for variant in ("baseline", "full")]
    context = multiprocessing.get_context("spawn")
    rows = []
    for preset_name, variant, batch_size, steps, warmup in jobs:
        with context.Pool(1) as pool:
            row = pool.apply(measure, (preset_name, variant, batch_size, steps, warmup, args.device))
        rows.append(row)
        print(
            f"{preset_name:>5} {variant:>8} {row['backbone']:>9} batch {batch_size} crop {row['crop']}: "
            f"{row['step_seconds_median']:.3f} s/step, {row['images_per_second']:.2f} img/s, "
            f"peak {row['peak_memory_mb']:.0f} MB"
        )
    ratios = {}
    for preset_name in ("cpu", "paper"):
        by_variant = {row["variant"]: row for row in rows if row["preset"] == preset_name}
        if "baseline" in by_variant and "full" in by_variant:
            ratio = by_variant["full"]["step_seconds_median"] / by_variant["baseline"]["step_seconds_median"]
            ratios[preset_name] = ratio
            print(f"{preset_name}: full / baseline step time = {ratio:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"rows": rows, "full_over_baseline_step_time": ratios, "system": system_info()}, indent=2)
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
