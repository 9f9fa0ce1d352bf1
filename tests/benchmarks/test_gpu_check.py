"""benchmarks/gpu_check.py's checks, each run on the CPU at a tiny size: what they report on a GPU
machine is computed by the same code (docs/performance.md "GPU")."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest
import torch

from basnet_lib.engine.presets import preset

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def gpu_check():
    """The script as a module; its folder stays on ``sys.path`` so that the DDP check's spawned
    processes can import it too (they inherit the parent's path)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        yield importlib.import_module("gpu_check")


def _smoke(batch_size: int = 2):
    run = preset("smoke", variant="full")
    return dataclasses.replace(run, train=dataclasses.replace(run.train, batch_size=batch_size))


@pytest.mark.parametrize("precision_name", ["fp32", "amp"])
def test_training_case_on_cpu(gpu_check, precision_name: str) -> None:
    precision = next(p for p in gpu_check.PRECISIONS if p.name == precision_name)
    case = gpu_check.training_case(_smoke(), precision, device="cpu", batch_size=2, steps=2, warmup=1)
    assert case["precision"] == precision_name and case["amp"] == precision.amp
    assert case["loss_finite"] is True and case["step_seconds"] > 0
    assert case["images_per_second"] == pytest.approx(2 / case["step_seconds"])
    assert case["peak_memory_mib"] is None  # CUDA only


def test_paper_run_needs_no_weight_file(gpu_check) -> None:
    run = gpu_check.paper_run()
    assert run.model.pretrained_backbone is False
    assert (run.model.backbone, run.data.crop_size, run.train.batch_size, run.train.amp) == (
        "resnet101",
        (480, 480),
        8,
        False,
    )


@pytest.mark.slow  # two spawned processes import torch and the library (~5-15 s on 2 busy cores)
def test_ddp_case_on_cpu(gpu_check) -> None:
    case = gpu_check.ddp_case(_smoke(batch_size=4), device_type="cpu", batch_size=4, steps=1, warmup=0)
    assert case["backend"] == "gloo" and case["world_size"] == 2
    assert case["weights_equal_across_ranks"] is True and case["loss_finite"] is True
    assert [rank["rank"] for rank in case["ranks"]] == [0, 1]
    # Each rank trained on its own batch, so only DDP's gradient averaging keeps the weights equal.
    assert case["ranks"][0]["last_loss"] != case["ranks"][1]["last_loss"]
    assert case["sync_batchnorm_layers"] == 0  # SyncBatchNorm with several CUDA processes only


def test_ddp_case_is_skipped_without_two_gpus(gpu_check) -> None:
    if torch.cuda.device_count() >= 2:
        pytest.skip("this machine has 2 GPUs: the check would run")
    case = gpu_check.ddp_case(_smoke(), device_type="cuda", batch_size=8, steps=1, warmup=1)
    assert case == {"skipped": f"{torch.cuda.device_count()} CUDA device(s); DDP over 2 needs 2"}


def test_boundary_fscore_case_on_cpu(gpu_check) -> None:
    case = gpu_check.boundary_fscore_case(device="cpu", height=96, width=160)
    assert case["equal"] is True and case["max_abs_difference"] == 0
    assert all(0 < f < 1 for f in case["mean_F"])  # boundaries that match in part: a real comparison


def test_random_label_maps_differ_in_part(gpu_check) -> None:
    pred, gt = gpu_check.random_label_maps(64, 96)
    labelled = gt != 255
    assert (~labelled).any() and (pred != 255).all()
    agreement = (pred[labelled] == gt[labelled]).float().mean()
    assert 0.6 < agreement < 0.95


def test_inference_case_on_cpu(gpu_check) -> None:
    case = gpu_check.inference_case(_smoke(), device="cpu", height=64, width=128)
    assert case["probabilities_finite"] is True and case["seconds"] > 0 and case["peak_memory_mib"] is None


def test_without_cuda_nothing_is_written(gpu_check, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--out", str(out)]) == 0
    assert not out.exists()
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["gpu_check: no CUDA device on this machine; nothing measured, nothing written"]
