"""The GPU-hours estimate: a step counted on the meta device equals the same step run on a CPU, the
paper's step is counted in seconds, and the grid's arithmetic and text say what they assume
(docs/decisions.md "GPU-hours estimate")."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import resnet50

from basnet_lib.distributed import DistributedContext
from basnet_lib.engine.presets import preset
from basnet_lib.model import build_basnet
from basnet_lib.reproduction.estimate import (
    A100_TF32,
    RESNET50_TRAINING_FLOP_PER_IMAGE,
    AssumedThroughput,
    grid_estimate,
    grid_estimate_text,
    memory_per_gpu_bytes,
)
from basnet_lib.reproduction.experiments import planned_runs
from basnet_lib.reproduction.step_cost import count_training_step, time_training_steps


def _smoke(variant: str = "full", *, seed: int = 0, batch_size: int = 4):
    run = preset("smoke", variant=variant, seed=seed)
    return dataclasses.replace(run, train=dataclasses.replace(run.train, batch_size=batch_size))


@pytest.mark.parametrize("variant", ["full", "baseline"])
def test_meta_count_equals_a_real_cpu_step(variant: str) -> None:
    run = _smoke(variant)
    counted = count_training_step(run, batch_size=2, device="meta")
    measured = count_training_step(run, batch_size=2, device="cpu")  # real tensors, real arithmetic
    assert counted == measured
    assert counted.flops > 1e9 and counted.activation_bytes > 1e6
    parameters = sum(p.nbytes for p in build_basnet(config=run.model).parameters())
    assert counted.parameter_bytes == counted.gradient_bytes == parameters
    assert counted.optimizer_state_bytes == parameters  # SGD's momentum buffers


def test_step_cost_grows_with_the_batch() -> None:
    run = _smoke()
    two, four = (count_training_step(run, batch_size=batch) for batch in (2, 4))
    assert four.flops == 2 * two.flops
    # Linear up to a small part that does not grow with the batch (< 1% here).
    assert four.activation_bytes == pytest.approx(2 * two.activation_bytes, rel=1e-2)
    assert four.activation_bytes > 1.9 * two.activation_bytes
    assert four.parameter_bytes == two.parameter_bytes


def test_the_paper_step_is_counted_in_seconds() -> None:
    run = preset("paper", variant="full", backbone="resnet101", data_root="/nowhere")
    started = time.perf_counter()
    cost = count_training_step(run, batch_size=8)
    seconds = time.perf_counter() - started
    assert seconds < 15  # ~1-3 s on this project's shared 2-core machine
    # Forward + backward is about 3 forwards (ResNet-101 + decoder at 480², ~0.5 TFLOP per image forward).
    assert 8e12 < cost.flops < 16e12
    assert cost.parameter_bytes / 4 == pytest.approx(64.749e6, abs=1e3)  # fp32; docs/usage.md: 64.749 M


def test_the_assumed_throughput_rests_on_resnet50s_count() -> None:
    with torch.device("meta"):
        model = resnet50()
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, 224, 224, device="meta")).sum().backward()
    assert counter.get_total_flops() == pytest.approx(RESNET50_TRAINING_FLOP_PER_IMAGE, rel=1e-3)
    assert A100_TF32.flop_per_second == pytest.approx(938 * RESNET50_TRAINING_FLOP_PER_IMAGE)


def test_grid_arithmetic() -> None:
    throughput = AssumedThroughput(name="test GPU", flop_per_second=1e12, basis="made up for the test")
    runs = [_smoke(variant, seed=seed) for variant in ("baseline", "full") for seed in (0, 1)]
    table = grid_estimate(runs, gpus_per_run=2, throughput=throughput)
    assert list(table["run"]) == [run.run_name for run in runs]
    assert (table["batch_per_gpu"] == 2).all() and (table["gpus"] == 2).all()
    full = table[table["variant"] == "full"]
    assert full["step_seconds"].nunique() == 1  # seeds share one count
    cost = count_training_step(runs[-1], batch_size=2)
    row = full.iloc[0]
    assert row["step_seconds"] == pytest.approx(cost.flops / 1e12)
    assert row["tflop_per_step"] == pytest.approx(2 * cost.flops / 1e12)
    assert row["gpu_hours"] == pytest.approx(row["step_seconds"] * runs[0].train.iterations * 2 / 3600)
    assert row["hours_on_its_gpus"] == pytest.approx(row["gpu_hours"] / 2)
    # Two GPUs: DDP's gradient buckets are one more copy of the gradients.
    assert row["memory_per_gpu_gib"] * 2**30 == memory_per_gpu_bytes(cost, gpus_per_run=2)
    assert memory_per_gpu_bytes(cost, gpus_per_run=2) - memory_per_gpu_bytes(cost, gpus_per_run=1) == (
        cost.gradient_bytes
    )
    assert table["step_time_from"].eq("assumed: test GPU").all()
    with pytest.raises(ValueError, match="batch_size 4 over 3 processes"):
        grid_estimate(runs, gpus_per_run=3)


def test_measured_step_time_on_a_device() -> None:
    run = _smoke(batch_size=2)
    timing = time_training_steps(
        run, context=DistributedContext(device=torch.device("cpu")), batch_size=2, steps=2, warmup=1
    )
    assert timing.steps == 2 and len(timing.losses) == 2 and timing.loss_finite
    assert timing.step_seconds > 0 and timing.peak_memory_bytes is None  # peak memory: CUDA only
    table = grid_estimate([run], gpus_per_run=1, timing_device="cpu", timing_steps=1)
    assert table.at[0, "step_time_from"] == "measured: 1 steps on cpu"
    text = grid_estimate_text([run], gpus_per_run=1, timing_device="cpu", timing_steps=1)
    assert "- Step time measured: 1 steps on cpu" in text and "Basis" not in text
    assert table.at[0, "gpu_hours"] == pytest.approx(
        table.at[0, "step_seconds"] * run.train.iterations / 3600
    )


def test_text_of_the_paper_grid() -> None:
    runs = planned_runs(
        preset_name="paper",
        variants=["ssb"],
        backbones=["resnet50"],
        seeds=[0, 1],
        data_root="/data/cityscapes",
    )
    text = grid_estimate_text(runs, gpus_per_run=4)
    table = grid_estimate(runs, gpus_per_run=4)
    assert text.startswith("GPU-hours estimate (an estimate, not a measurement)")
    assert f"{table['gpu_hours'].sum():,.1f} GPU-hours" in text
    assert "ssb-resnet50-seed1" in text and "80,000" in text
    assert "22.8 TFLOP/s" in text and "938 img/s" in text  # the assumption and its basis
    assert "meta device" in text and "perfect scaling" in text
    assert (table["batch_per_gpu"] == 2).all()


def test_dry_run_plans_the_paper_grid_without_a_dataset_and_writes_nothing(tmp_path, capsys) -> None:
    from basnet_lib.cli import main

    results_root = tmp_path / "paper"
    assert main(["reproduce", "--preset", "paper", "--backbones", "resnet50", "--variants", "baseline", "--seeds",
                 "0", "1", "--gpus-per-run", "2", "--results-root", str(results_root), "--dry-run"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("basnet reproduce --preset paper: 2 runs, one local job each, 2 GPU(s) per job\n")
    assert "an estimate, not a measurement" in out and "(V100, fp32)" in out  # the paper preset: TF32 off
    assert "\nbaseline-resnet50-seed1     2          4 480x480     80,000" in out  # 4 of the 8 images per GPU
    assert not results_root.exists()  # nothing trained, nothing written
