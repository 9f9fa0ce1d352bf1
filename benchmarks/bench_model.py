"""Model speed against torchvision's DeepLabV3, in one process (issue: performance).

For each backbone and input size, every Table 1 variant and torchvision's ``deeplabv3_resnet*`` of
the same backbone are timed round-robin in this process (so drift in machine speed hits all rows
alike): inference latency (median over ``--repeats`` after warm-up) and, at 480×480, the SGD
training step of the joint loss. Settings of a row:

- ``user``: how a user runs torchvision's model: default (NCHW) memory format, fp32, ``eval()`` and
  ``torch.no_grad()`` (training: ``train()``, NCHW).
- ``ours``: our defaults, :func:`basnet_lib.speed.inference.prepare_for_inference` (channels_last,
  BatchNorm folded into the convolutions, large 3×3 convolutions by Winograd) under ``torch.inference_mode()``; training: channels_last
  (``TrainConfig.channels_last``). Applied to DeepLabV3 too, it is the same-settings peer.
- ``bf16``: ``ours`` + bfloat16 autocast. ``compile``: ``ours`` + ``torch.compile`` (inductor) with frozen weights (``prepare_for_inference(compiled=True)``).

The whole process, peers included, runs with :func:`basnet_lib.engine.runtime.reuse_freed_memory` (as our
``train`` and ``evaluate`` do): with glibc's default thresholds a model's page faults, and so its
time, depended on which models ran before it in the process (``--default-malloc`` to compare).

FLOPs come from torch's FLOP counter on the meta device (convolutions and matrix products; a dilated
kernel counts every tap, also those falling into zero padding, which oneDNN skips, so achieved
FLOP/s of dilated models is over-stated). The practical peak is the faster of a 4096² fp32 matrix
product and a channels_last 2048→2048 1×1 convolution on 64×64 (oneDNN), timed at the start and the
end of this run; the highest is used. Peak memory comes from a fresh process per
row (CPU: max RSS of the whole process; CUDA: max allocated). Writes ``results/benchmarks/model.json``
and ``results/benchmarks/model.md`` (the table in docs/performance.md).

    python benchmarks/bench_model.py                      # the full set (~40 min on 2 cores)
    python benchmarks/bench_model.py --backbones resnet101 --sizes 512x1024 --tasks inference --no-memory
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from basnet_lib.engine.runtime import reuse_freed_memory, system_info
from basnet_lib.loss import joint_loss
from basnet_lib.model import ModelConfig, build_basnet, variant_names, variant_row
from basnet_lib.reproduction.architecture import count_parameters, torchvision_deeplabv3
from basnet_lib.speed.inference import float32_outputs, prepare_for_inference

PEER = "deeplabv3"
TRAIN_SIZE = (480, 480)
SETTINGS = ("user", "ours", "bf16", "compile")


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    task: str  # "inference" | "train"
    model: str  # PEER or a Table 1 variant
    backbone: str
    size: tuple[int, int]
    setting: str  # one of SETTINGS
    batch: int = 1


def build(row: Row, device: str) -> nn.Module:
    torch.manual_seed(0)
    if row.model == PEER:
        model = torchvision_deeplabv3(row.backbone)
    else:
        model = build_basnet(config=ModelConfig(variant=row.model, backbone=row.backbone))
    model = model.to(device)
    if row.task == "train":
        model.train()
        return model.to(memory_format=torch.channels_last) if row.setting != "user" else model
    if row.setting == "user":
        return model.eval()
    # The peer keeps torchvision's ASPP: only our settings apply to it, not our modules.
    return prepare_for_inference(model, bf16=row.setting == "bf16", compiled=row.setting == "compile")


def make_inputs(row: Row, device: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    height, width = row.size
    image = torch.randn(row.batch, 3, height, width, generator=generator)
    canny = (torch.rand(row.batch, 1, height, width, generator=generator) > 0.9).float()
    inputs = {"image": image, "gradient_map": torch.cat([image, canny], dim=1)}
    if row.task == "train":
        inputs["labels"] = torch.randint(0, 19, (row.batch, height, width), generator=generator)
        inputs["edges"] = (torch.rand(row.batch, 1, height, width, generator=generator) > 0.9).float()
    if row.setting != "user":
        inputs = {
            k: v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v
            for k, v in inputs.items()
        }
    return {key: value.to(device) for key, value in inputs.items()}


def takes_gradient_map(row: Row) -> bool:
    return row.model in variant_names() and variant_row(row.model).boundary_branch


def make_step(row: Row, model: nn.Module, inputs: dict[str, torch.Tensor]):
    """A zero-argument callable running one forward (inference) or one SGD step (train)."""
    args = (inputs["image"], inputs["gradient_map"]) if takes_gradient_map(row) else (inputs["image"],)
    if row.task == "inference":
        if row.setting == "user":

            def infer():
                with torch.no_grad():
                    return model(*args)["out"]
        else:

            def infer():
                with torch.inference_mode():
                    return model(*args)["out"]

        return infer
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    autocast = row.setting == "bf16"

    def train_step():
        with torch.autocast(inputs["image"].device.type, dtype=torch.bfloat16, enabled=autocast):
            outputs = model(*args)
        outputs = float32_outputs(outputs)
        terms = joint_loss(outputs, labels=inputs["labels"], edge_target=inputs["edges"])
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()

    return train_step


def count_flops(row: Row) -> float:
    """FLOPs of one forward (inference) or forward + backward (train), counted on the meta device."""
    meta_row = Row(row.task, row.model, row.backbone, row.size, "user", row.batch)
    cpu_inputs = make_inputs(meta_row, "cpu")
    with torch.device("meta"):
        model = build(meta_row, "meta")
        inputs = {key: torch.empty_like(value, device="meta") for key, value in cpu_inputs.items()}
        args = (inputs["image"], inputs["gradient_map"]) if takes_gradient_map(row) else (inputs["image"],)
        with FlopCounterMode(display=False) as counter:
            if row.task == "inference":
                with torch.no_grad():
                    model(*args)
            else:
                outputs = model(*args)
                joint_loss(outputs, labels=inputs["labels"], edge_target=inputs["edges"])["total"].backward()
    return float(counter.get_total_flops())


def matmul_peak(device: str, size: int = 4096, repeats: int = 5) -> float:
    """FLOP/s of a large fp32 matrix product (median of ``repeats``): the practical peak."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    out = torch.empty(size, size, device=device)
    torch.mm(a, b, out=out)
    times = []
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        torch.mm(a, b, out=out)
        synchronize(device)
        times.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(times)


def conv_peak(device: str, channels: int = 2048, side: int = 64, repeats: int = 5) -> float:
    """FLOP/s of a large channels_last 1×1 convolution (a matrix product run by oneDNN/cuDNN)."""
    x = torch.randn(1, channels, side, side, device=device).contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(channels, channels, 1, bias=False).to(device, memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        conv(x)
        for _ in range(repeats):
            synchronize(device)
            started = time.perf_counter()
            conv(x)
            synchronize(device)
            times.append(time.perf_counter() - started)
    return 2 * side * side * channels * channels / statistics.median(times)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_memory(row: Row, device: str, reuse_malloc: bool) -> dict[str, float]:
    """Peak memory of one call (weights, inputs and activations) in this fresh process.

    With ``reuse_malloc`` the process uses the timing process's malloc setting.

    CPU: the process's resident-set high-water mark, reset after building the model (Linux
    ``/proc/self/clear_refs``) so the copy made while preparing it is not counted.
    """
    if reuse_malloc:
        reuse_freed_memory()
    model = build(row, device)
    step = make_step(row, model, make_inputs(row, device))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")
    step()
    synchronize(device)
    if device.startswith("cuda"):
        return {"peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20}
    status = Path("/proc/self/status").read_text()
    high_water_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return {"peak_memory_mb": high_water_kb / 1024}


def measure_group(
    rows: list[Row], *, device: str, warmup: int, repeats: int, label: str
) -> dict[Row, list[float]]:
    """Time every row of a group round-robin: warm-up for all, then ``repeats`` rounds."""
    steps = {}
    for row in tqdm(rows, desc=f"{label}: build + warm-up", leave=False):
        model = build(row, device)
        steps[row] = make_step(row, model, make_inputs(row, device))
        for _ in range(warmup):
            steps[row]()
        synchronize(device)
    times: dict[Row, list[float]] = {row: [] for row in rows}
    for _ in tqdm(range(repeats), desc=f"{label}: timing", leave=False):
        for row in rows:
            synchronize(device)
            started = time.perf_counter()
            steps[row]()
            synchronize(device)
            times[row].append(time.perf_counter() - started)
    return times


def groups(args) -> list[tuple[str, list[Row]]]:
    """(label, rows) timed together: the peer and our variants of one backbone, task and size."""
    result = []
    for backbone in args.backbones:
        for size in args.sizes if "inference" in args.tasks else []:
            large = size[0] * size[1] > 512 * 1024
            variants = args.large_variants if large else args.variants
            rows = [
                Row("inference", PEER, backbone, size, "user"),
                Row("inference", PEER, backbone, size, "ours"),
            ]
            rows += [Row("inference", variant, backbone, size, "ours") for variant in variants]
            rows.append(Row("inference", "full", backbone, size, "user"))
            if not large and backbone == args.options_backbone:
                for setting in args.options:
                    rows += [
                        Row("inference", PEER, backbone, size, setting),
                        Row("inference", "full", backbone, size, setting),
                    ]
            result.append((f"{backbone} {size[0]}x{size[1]} inference", rows))
        if "train" in args.tasks:
            rows = [Row("train", PEER, backbone, TRAIN_SIZE, "user", args.train_batch)]
            rows += [Row("train", PEER, backbone, TRAIN_SIZE, "ours", args.train_batch)]
            rows += [
                Row("train", variant, backbone, TRAIN_SIZE, "ours", args.train_batch)
                for variant in args.variants
            ]
            if "bf16" in args.options and backbone == args.options_backbone:
                rows += [
                    Row("train", model, backbone, TRAIN_SIZE, "bf16", args.train_batch)
                    for model in (PEER, "full")
                ]
            result.append((f"{backbone} train {TRAIN_SIZE[0]}x{TRAIN_SIZE[1]}", rows))
    return result


def summarize(row: Row, times: list[float], flops: float, peak: float, parameters: int) -> dict:
    median = statistics.median(times)
    return {
        **asdict(row),
        "seconds_median": median,
        "seconds_all": times,
        "gflop": flops / 1e9,
        "achieved_gflop_per_s": flops / median / 1e9,
        "fraction_of_matmul_peak": flops / median / peak,
        "parameters_m": parameters / 1e6,
    }


def add_ratios(results: list[dict]) -> None:
    """Time and FLOP ratios of each row to the peer of its group (user and same settings).

    A time ratio is the median over rounds of (this row's time / the peer's time in the same
    round): rows of a group are timed round-robin, so each pair ran seconds apart and a slow
    phase of the machine hits both.
    """

    def key(r, setting):
        return (r["task"], r["backbone"], tuple(r["size"]), setting)

    def paired(row, peer):
        return statistics.median(a / b for a, b in zip(row["seconds_all"], peer["seconds_all"], strict=True))

    peers = {key(r, r["setting"]): r for r in results if r["model"] == PEER}
    for r in results:
        user_peer = peers.get(key(r, "user"))
        same_peer = peers.get(key(r, r["setting"]))
        if user_peer:
            r["time_ratio_vs_peer_user"] = paired(r, user_peer)
        if same_peer:
            r["time_ratio_vs_peer_same_settings"] = paired(r, same_peer)
            r["flop_ratio_vs_peer"] = r["gflop"] / same_peer["gflop"]


def markdown(results: list[dict], peak_gflops: float) -> str:
    lines = [
        f"Practical peak (the faster of a 4096² fp32 matrix product and a 2048→2048 1×1 convolution, this run): {peak_gflops:.0f} GFLOP/s.",
        "",
        "| task | backbone | size | model | setting | time (s) | vs DeepLabV3 user | vs DeepLabV3 same settings "
        "| FLOP ratio | GFLOP | GFLOP/s | % of peak | peak MB | params (M) |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        size = f"{r['size'][0]}×{r['size'][1]}" + (f" ×{r['batch']}" if r["batch"] > 1 else "")
        lines.append(
            f"| {r['task']} | {r['backbone']} | {size} | {r['model']} | {r['setting']} | {r['seconds_median']:.3f} "
            f"| {_fmt(r.get('time_ratio_vs_peer_user'))} | {_fmt(r.get('time_ratio_vs_peer_same_settings'))} "
            f"| {_fmt(r.get('flop_ratio_vs_peer'))} | {r['gflop']:.0f} | {r['achieved_gflop_per_s']:.0f} "
            f"| {100 * r['fraction_of_matmul_peak']:.0f} | {_fmt(r.get('peak_memory_mb'), 0)} | {r['parameters_m']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def parse_size(text: str) -> tuple[int, int]:
    height, width = text.lower().split("x")
    return int(height), int(width)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbones", nargs="+", default=["resnet50", "resnet101"])
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(512, 1024), (1024, 2048)])
    parser.add_argument("--variants", nargs="+", default=list(variant_names()), choices=variant_names())
    parser.add_argument(
        "--large-variants",
        nargs="+",
        default=["baseline", "full"],
        choices=variant_names(),
        help="variants timed at sizes above 512x1024 (each call takes ~25 s on 2 cores)",
    )
    parser.add_argument(
        "--options",
        nargs="*",
        default=["bf16", "compile"],
        choices=["bf16", "compile"],
        help="extra settings timed for DeepLabV3 and full at the first size",
    )
    parser.add_argument("--options-backbone", default="resnet101")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument("--tasks", nargs="+", default=["inference", "train"], choices=["inference", "train"])
    parser.add_argument("--no-memory", action="store_true", help="skip the per-row peak-memory processes")
    parser.add_argument(
        "--default-malloc",
        action="store_true",
        help="leave glibc's malloc thresholds alone (default: basnet_lib.engine.runtime.reuse_freed_memory, "
        "as our train and evaluate do, for every row in this process)",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/model.json"))
    parser.add_argument("--render", action="store_true", help="only recompute ratios and the table of --out")
    args = parser.parse_args()
    if args.render:
        payload = json.loads(args.out.read_text())
        add_ratios(payload["rows"])
        write(payload, args.out)
        return

    reuse_malloc = not args.default_malloc and reuse_freed_memory()
    print(f"glibc malloc reuses freed memory: {reuse_malloc}")
    peak_start = max(matmul_peak(args.device), conv_peak(args.device))
    print(f"practical peak (start): {peak_start / 1e9:.0f} GFLOP/s")
    measured: list[tuple[Row, list[float]]] = []
    for label, rows in groups(args):
        times = measure_group(rows, device=args.device, warmup=args.warmup, repeats=args.repeats, label=label)
        for row in rows:
            print(f"{label:>32} {row.model:>9} {row.setting:>7}: {statistics.median(times[row]):.3f} s")
        measured += list(times.items())
    peak_end = max(matmul_peak(args.device), conv_peak(args.device))
    peak = max(peak_start, peak_end)
    print(f"practical peak (end): {peak_end / 1e9:.0f} GFLOP/s")

    results = []
    flop_cache: dict[tuple, float] = {}
    context = multiprocessing.get_context("spawn")
    for row, times in tqdm(measured, desc="FLOPs and memory", leave=False):
        flop_key = (row.task, row.model, row.backbone, row.size, row.batch)
        if flop_key not in flop_cache:
            flop_cache[flop_key] = count_flops(row)
        with torch.device("meta"):
            parameters = count_parameters(
                build(Row(row.task, row.model, row.backbone, row.size, "user"), "meta")
            )
        result = summarize(row, times, flop_cache[flop_key], peak, parameters)
        if not args.no_memory and row.setting != "compile":
            with context.Pool(1) as pool:
                result.update(pool.apply(peak_memory, (row, args.device, reuse_malloc)))
        results.append(result)
    add_ratios(results)

    payload = {
        "rows": results,
        "malloc_reuses_freed_memory": reuse_malloc,
        "matmul_peak_gflop_per_s": {"start": peak_start / 1e9, "end": peak_end / 1e9, "used": peak / 1e9},
        "args": {key: value for key, value in vars(args).items() if key != "out"} | {"out": str(args.out)},
        "system": system_info(),
    }
    write(payload, args.out)


def write(payload: dict, out: Path) -> None:
    table = markdown(payload["rows"], payload["matmul_peak_gflop_per_s"]["used"])
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(table)
    print(f"wrote {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
