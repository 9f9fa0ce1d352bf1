"""Inference in fresh processes, with glibc's default malloc and with ``reuse_freed_memory``.

``benchmarks/bench_model.py`` times every model in one process, where how many page faults a model
takes depends on what ran before it (glibc adapts its mmap threshold as blocks are freed). Here
each (model, malloc setting) pair runs alone in a new process, as a user's script would: build,
two warm-up calls, ``--repeats`` timed calls. Reported per pair: median seconds, minor page faults
per call, maximum resident memory. Models: torchvision's DeepLabV3 run as a user would (NCHW,
``eval()``, ``no_grad``) and our full BASNet through ``prepare_for_inference`` (our defaults),
ResNet-101 at 512×1024. Writes ``results/benchmarks/allocator.json`` and ``.md``.

    python benchmarks/bench_allocator.py        # ~5 min on 2 cores
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

from basnet_lib.engine.runtime import reuse_freed_memory, system_info
from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.reproduction.architecture import torchvision_deeplabv3
from basnet_lib.speed.inference import prepare_for_inference

MODELS = ("deeplabv3_user", "full_ours")
SETTINGS = ("default", "reuse_freed_memory")


def measure(model_name: str, setting: str, backbone: str, size: tuple[int, int], repeats: int) -> dict:
    """Runs in a fresh (spawned) process."""
    if setting == "reuse_freed_memory" and not reuse_freed_memory():
        raise RuntimeError("this C library did not accept the malloc settings (not glibc?)")
    torch.manual_seed(0)
    image = torch.randn(1, 3, *size)
    gradient_map = torch.rand(1, 4, *size)
    if model_name == "deeplabv3_user":
        model = torchvision_deeplabv3(backbone).eval()

        def call():
            with torch.no_grad():
                return model(image)["out"]
    else:
        model = prepare_for_inference(build_basnet(config=ModelConfig(variant="full", backbone=backbone)))

        def call():
            with torch.inference_mode():
                return model(image, gradient_map)["out"]

    for _ in range(2):
        call()
    times, faults = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return {
        "model": model_name,
        "malloc": setting,
        "seconds": statistics.median(times),
        "times": times,
        "minor_faults_per_call": statistics.median(faults),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "| model | malloc | time (s) | minor page faults per call | max RSS (MB) |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['malloc']} | {row['seconds']:.3f} | "
            f"{row['minor_faults_per_call']:,.0f} | {row['max_rss_mb']:.0f} |"
        )
    by_key = {(row["model"], row["malloc"]): row["seconds"] for row in rows}
    lines.append("")
    for setting in SETTINGS:
        if ("full_ours", setting) in by_key and ("deeplabv3_user", setting) in by_key:
            ratio = by_key[("full_ours", setting)] / by_key[("deeplabv3_user", setting)]
            lines.append(f"full (ours) / DeepLabV3 (user), both with {setting} malloc: {ratio:.2f}  ")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbone", default="resnet101")
    parser.add_argument("--size", default="512x1024")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/allocator.json"))
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    context = multiprocessing.get_context("spawn")
    rows = []
    for setting in SETTINGS:
        for model_name in MODELS:
            with context.Pool(1) as pool:
                row = pool.apply(measure, (model_name, setting, args.backbone, size, args.repeats))
            print(
                f"{model_name:>15} {setting:>18}: {row['seconds']:.3f} s, "
                f"{row['minor_faults_per_call']:,.0f} faults per call"
            )
            rows.append(row)
    table = markdown(rows)
    print(table)
    payload = {"rows": rows, "args": {**vars(args), "out": str(args.out)}, "system": system_info()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(table)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
