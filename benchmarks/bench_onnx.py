"""ONNX export: agreement of onnxruntime with PyTorch, and onnxruntime's CPU speed against eager.

1. Agreement. The trained ``cpu``-preset run (``--run-dir``) exported with
   :func:`basnet_lib.deploy.onnx_export.export_onnx` and run with onnxruntime (CPU) and in PyTorch
   as ``evaluate`` runs it (``prepare_for_inference`` defaults) on SynthCity val images at 256×512
   (the run's own val set, read from its files) and at 512×1024 (the same val scenes rendered at
   that size by the generator): largest absolute logit difference per output and the share of
   pixels whose class (argmax) agrees.
2. Speed. onnxruntime against our eager default (``prepare_for_inference`` defaults under
   ``torch.inference_mode()``) in this process on the same image, round-robin (one eager call, one
   onnxruntime call per round, after ``--warmup`` rounds): the cpu-preset model at 256×512 and
   the paper's model (full, ResNet-101, width 256, random init) at 512×1024. Both run with
   ``--threads`` threads (``torch.set_num_threads``; onnxruntime's ``intra_op_num_threads``, one
   inter-op thread). Medians of the calls, and the median of per-round ratios onnxruntime/eager.

Writes ``results/benchmarks/onnx.json``.

    python benchmarks/bench_onnx.py                         # ~10 min on 2 busy cores
    python benchmarks/bench_onnx.py --skip-paper-model --check-images 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import onnxscript
import torch
from torch import nn

from basnet_lib.data.build import build_dataset
from basnet_lib.deploy.onnx_export import (
    check_onnx,
    export_onnx,
    onnx_inputs,
    onnxruntime_session,
    synthcity_images,
)
from basnet_lib.engine.run_files import load_trained_model
from basnet_lib.engine.runtime import reuse_freed_memory, system_info
from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.speed.inference import prepare_for_inference

DEFAULT_RUN = Path("results/runs/cpu/full-resnet18-seed0")
EXPORTER = (
    "torch.onnx.export(dynamo=True): torch.export capture (non-strict fails on the boundary branch's "
    "size-keyed cache, the strict TorchDynamo capture succeeds), onnxscript translation; "
    "dynamic batch, H and W (multiples of 8)"
)


def timed_export(model: nn.Module, path: Path) -> float:
    started = time.perf_counter()
    export_onnx(model, path, overwrite=True)
    return time.perf_counter() - started


def agreement(model: nn.Module, path: Path, images: np.ndarray, *, label: str, threads: int) -> dict:
    check = check_onnx(model, path, images, threads=threads)
    print(
        f"{label}: {len(images)} images, max abs logit difference "
        + ", ".join(f"{name} {value:.3g}" for name, value in check.max_abs_difference.items())
        + f"; argmax agreement {100 * check.argmax_agreement:.4f}%"
    )
    return {
        "images": len(images),
        "max_abs_difference": check.max_abs_difference,
        "argmax_agreement": check.argmax_agreement,
        "pixels": check.pixels,
    }


def speed(
    model: nn.Module, path: Path, image: np.ndarray, *, label: str, threads: int, warmup: int, repeats: int
) -> dict:
    inputs = onnx_inputs(image)
    session = onnxruntime_session(path, threads=threads)
    eager = prepare_for_inference(model)
    torch_inputs = (torch.from_numpy(inputs["image"]), torch.from_numpy(inputs["gradient_map"]))
    eager_seconds, onnx_seconds = [], []
    for round_index in range(warmup + repeats):
        started = time.perf_counter()
        with torch.inference_mode():
            torch_out = eager(*torch_inputs)["out"]
        middle = time.perf_counter()
        onnx_out = session.run(["out"], inputs)[0]
        finished = time.perf_counter()
        if round_index >= warmup:
            eager_seconds.append(middle - started)
            onnx_seconds.append(finished - middle)
    ratios = [
        onnx_time / eager_time for onnx_time, eager_time in zip(onnx_seconds, eager_seconds, strict=True)
    ]
    result = {
        "model": label,
        "size": f"{image.shape[0]}x{image.shape[1]}",
        "warmup": warmup,
        "repeats": repeats,
        "eager_seconds": statistics.median(eager_seconds),
        "onnxruntime_seconds": statistics.median(onnx_seconds),
        "ratio_onnxruntime_over_eager": statistics.median(ratios),
        "eager_all": eager_seconds,
        "onnxruntime_all": onnx_seconds,
        "max_abs_difference_out": float(np.abs(onnx_out - torch_out.numpy()).max()),
        "argmax_agreement": float((onnx_out.argmax(1) == torch_out.argmax(1).numpy()).mean()),
    }
    print(
        f"{label} {result['size']}: eager {result['eager_seconds']:.3f} s, onnxruntime "
        f"{result['onnxruntime_seconds']:.3f} s, onnxruntime/eager ×{result['ratio_onnxruntime_over_eager']:.2f}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--check-images", type=int, default=16, help="val images per size for the agreement")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds, cpu-preset model")
    parser.add_argument("--paper-repeats", type=int, default=3, help="timed rounds, paper model")
    parser.add_argument("--skip-paper-model", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/onnx.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reuse_malloc = reuse_freed_memory()  # as `basnet evaluate` runs the eager model

    run, cpu_model = load_trained_model(args.run_dir)
    val = build_dataset(run.data, split="val", train=False)
    count = min(args.check_images, len(val))
    val_images = np.stack([val.read_arrays(index)[0] for index in range(count)])
    large_images = synthcity_images(max(1, count // 2), height=512, width=1024, seed=run.data.synthcity_seed)
    payload: dict = {"exporter": EXPORTER, "threads": args.threads, "run_dir": str(args.run_dir)}
    with tempfile.TemporaryDirectory() as folder:
        cpu_path = Path(folder) / "cpu.onnx"
        payload["export_seconds"] = {"cpu_preset": timed_export(cpu_model, cpu_path)}
        payload["onnx_bytes"] = {"cpu_preset": cpu_path.stat().st_size}
        payload["agreement"] = {
            "256x512": agreement(cpu_model, cpu_path, val_images, label="val 256x512", threads=args.threads)
            | {"source": "the run's val set (files)"},
            "512x1024": agreement(
                cpu_model, cpu_path, large_images, label="val 512x1024", threads=args.threads
            )
            | {"source": "the same val scenes rendered at 512x1024"},
        }
        cpu_label = "cpu preset (full, resnet18, width 64, trained)"
        payload["speed"] = [
            speed(
                cpu_model,
                cpu_path,
                val_images[0],
                label=cpu_label,
                threads=args.threads,
                warmup=args.warmup,
                repeats=args.repeats,
            )
        ]
        cpu_path.unlink()
        if not args.skip_paper_model:
            paper_model = build_basnet(
                config=ModelConfig(variant="full", backbone="resnet101", width=256)
            ).eval()
            paper_path = Path(folder) / "paper.onnx"
            payload["export_seconds"]["paper"] = timed_export(paper_model, paper_path)
            payload["onnx_bytes"]["paper"] = paper_path.stat().st_size
            paper_label = "paper (full, resnet101, width 256, random init)"
            payload["speed"].append(
                speed(
                    paper_model,
                    paper_path,
                    large_images[0],
                    label=paper_label,
                    threads=args.threads,
                    warmup=args.warmup,
                    repeats=args.paper_repeats,
                )
            )
    payload["versions"] = {
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxscript": onnxscript.__version__,
    }
    payload["malloc_reuses_freed_memory"] = reuse_malloc
    payload["system"] = system_info()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
