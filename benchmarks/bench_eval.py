"""A full evaluation pass at 1024×2048, split by stage; bf16's and Winograd's effect on accuracy.

1. Stage split. :func:`basnet_lib.engine.evaluate` with ``stage_timing=True`` over a SynthCity val set
   at Cityscapes resolution (1024×2048): data loading (PNG decoding, Canny), model (forward, softmax,
   argmax), mIoU counts, boundary-F counts at the three thresholds. Two models: the paper's (full,
   ResNet-101, width 256; untrained, its time does not depend on the weights) and the trained
   ``cpu``-preset run given by ``--run-dir`` (its predictions have realistic boundaries, which is
   what the boundary-F time depends on; an untrained one is used when there is no run).
2. bf16. The ``--run-dir`` model evaluated on its own val set in fp32 and with bf16 autocast:
   mIoU, boundary F and time of each, and the differences.
3. Winograd. The ``--run-dir`` model evaluated with and without NNPACK's Winograd convolutions
   (``evaluate(winograd=...)``, on by default) on the 1024×2048 set, where its ResNet-18's one
   eligible conv (layer3.0.conv2, 128×256 maps) runs through NNPACK, and on its own val set, where
   no map is large enough (the scores must be identical there).

Writes ``results/benchmarks/eval.json``.

    python benchmarks/bench_eval.py                       # ~6 min on 2 cores
    python benchmarks/bench_eval.py --images 2 --skip-paper-model
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from basnet_lib.data.build import build_dataset
from basnet_lib.data.config import DataConfig
from basnet_lib.distributed import DistributedContext
from basnet_lib.engine.evaluate import evaluate
from basnet_lib.engine.presets import preset
from basnet_lib.engine.run_files import load_trained_model
from basnet_lib.engine.runtime import reuse_freed_memory, system_info
from basnet_lib.model import ModelConfig, build_basnet

DEFAULT_RUN = Path("results/runs/cpu/full-resnet18-seed0")
STAGES = ("data", "model", "miou", "boundary_f")


def stage_split(model: torch.nn.Module, dataset, *, label: str, context: DistributedContext) -> dict:
    metrics = evaluate(model, dataset, context=context, stage_timing=True, progress=True)
    seconds = metrics["stage_seconds"]
    images = metrics["num_images"]
    total = sum(seconds.values())
    per_image = {stage: seconds[stage] / images for stage in STAGES}
    share = {stage: seconds[stage] / total for stage in STAGES}
    metric_share = share["miou"] + share["boundary_f"]
    print(
        f"{label}: {total / images:.3f} s/image = "
        + ", ".join(f"{stage} {per_image[stage]:.4f} s ({100 * share[stage]:.1f}%)" for stage in STAGES)
        + f"; mIoU + boundary F = {100 * metric_share:.2f}% of the time"
    )
    return {
        "model": label,
        "images": images,
        "seconds_per_image": per_image,
        "share": share,
        "metrics_share": metric_share,
        "total_seconds_per_image": total / images,
    }


def _scores(metrics: dict) -> dict:
    return {key: metrics[key] for key in ("mIoU", "boundary_F", "eval_seconds")}


def _difference(new: dict, old: dict) -> dict:
    return {
        "mIoU": new["mIoU"] - old["mIoU"],
        "boundary_F": {key: new["boundary_F"][key] - old["boundary_F"][key] for key in old["boundary_F"]},
        "time_ratio": new["eval_seconds"] / old["eval_seconds"],
    }


def bf16_effect(model: torch.nn.Module, dataset, *, run_dir: Path, context: DistributedContext) -> dict:
    fp32 = _scores(evaluate(model, dataset, context=context, progress=True))
    bf16 = _scores(evaluate(model, dataset, context=context, amp=True, progress=True))
    difference = _difference(bf16, fp32)
    print(
        f"bf16 vs fp32 on {run_dir} ({len(dataset)} val images): mIoU {100 * fp32['mIoU']:.2f} → "
        f"{100 * bf16['mIoU']:.2f}, boundary F "
        + ", ".join(
            f"{100 * fp32['boundary_F'][k]:.2f} → {100 * bf16['boundary_F'][k]:.2f}"
            for k in fp32["boundary_F"]
        )
        + f"; eval time ×{difference['time_ratio']:.2f}"
    )
    return {
        "fp32": fp32,
        "bf16": bf16,
        "difference_bf16_minus_fp32": difference,
        "run_dir": str(run_dir),
        "num_images": len(dataset),
    }


def winograd_effect(model: torch.nn.Module, datasets: dict, *, context: DistributedContext) -> dict:
    results = {}
    for name, dataset in datasets.items():
        direct = _scores(evaluate(model, dataset, context=context, winograd=False, progress=True))
        winograd = _scores(evaluate(model, dataset, context=context, progress=True))
        difference = _difference(winograd, direct)
        print(
            f"winograd vs direct, {name} ({len(dataset)} images): mIoU {100 * direct['mIoU']:.4f} → "
            f"{100 * winograd['mIoU']:.4f} (Δ {100 * difference['mIoU']:+.4f} points), boundary F Δ "
            + ", ".join(f"{100 * value:+.4f}" for value in difference["boundary_F"].values())
            + f"; eval time ×{difference['time_ratio']:.2f}"
        )
        results[name] = {
            "direct": direct,
            "winograd": winograd,
            "difference_winograd_minus_direct": difference,
            "num_images": len(dataset),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=5, help="SynthCity val images at 1024x2048")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN, help="a trained run (cpu preset)")
    parser.add_argument("--skip-paper-model", action="store_true", help="skip ResNet-101 at 1024x2048")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/eval.json"))
    args = parser.parse_args()

    reuse_freed_memory()  # as `basnet evaluate` does: no page faults on every image's feature maps
    context = DistributedContext(device=torch.device("cpu"))
    large = DataConfig(
        synthcity_train=1,
        synthcity_val=args.images,
        synthcity_height=1024,
        synthcity_width=2048,
        num_workers=0,
    )
    dataset = build_dataset(large, split="val", train=False)
    trained = (args.run_dir / "checkpoint.pt").is_file()
    if trained:
        run, cpu_model = load_trained_model(args.run_dir)
        own_val = build_dataset(run.data, split="val", train=False)
    else:
        print(f"no trained run at {args.run_dir}: timing an untrained cpu-preset model instead")
        torch.manual_seed(0)
        cpu_model = build_basnet(config=preset("cpu").model)
    splits = [
        stage_split(
            cpu_model,
            dataset,
            label="cpu preset (ResNet-18, width 64)" + ("" if trained else ", untrained"),
            context=context,
        )
    ]
    if not args.skip_paper_model:
        torch.manual_seed(0)
        paper_model = build_basnet(config=replace(ModelConfig(), variant="full", backbone="resnet101"))
        splits.append(
            stage_split(paper_model, dataset, label="paper model (ResNet-101, width 256)", context=context)
        )
    payload = {
        "image_size": [1024, 2048],
        "stage_split": splits,
        "bf16": bf16_effect(cpu_model, own_val, run_dir=args.run_dir, context=context) if trained else None,
        "winograd": winograd_effect(
            cpu_model, {"1024x2048": dataset, "own val set": own_val}, context=context
        )
        if trained
        else None,
        "trained_run": str(args.run_dir) if trained else None,
        "system": system_info(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
