"""docs/method.md §4, §6.6, §7.1: training and evaluation engine on the smoke preset (CPU)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.overrides import TorchFunctionMode

from basnet_lib.data.build import build_dataset
from basnet_lib.distributed import DistributedContext
from basnet_lib.engine.checkpoint import CheckpointError, load_checkpoint
from basnet_lib.engine.config import RunConfig, load_run_config
from basnet_lib.engine.evaluate import evaluate
from basnet_lib.engine.export import export_predictions
from basnet_lib.engine.nonfinite import NonFiniteLossError
from basnet_lib.engine.presets import preset
from basnet_lib.engine.run_files import RunDirectoryError
from basnet_lib.engine.trainer import train
from basnet_lib.model import build_basnet

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ("config.json", "metrics.json", "history.csv", "checkpoint.pt", "training_curves.png")


def smoke(tmp_path: Path, *, variant: str = "full", **train_fields) -> RunConfig:
    run = preset("smoke", variant=variant)
    return dataclasses.replace(
        run, train=dataclasses.replace(run.train, results_dir=str(tmp_path / "runs"), **train_fields)
    )


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoint.pt")["model"]


def _scores(metrics: dict) -> dict:
    return {key: metrics[key] for key in ("mIoU", "per_class_iou", "boundary_F", "per_class_boundary_F")}


def test_run_writes_every_artifact_and_is_reused(tmp_path) -> None:
    run = smoke(tmp_path, variant="ssb_bdb")
    result = train(run, progress=False)
    assert not result.reused
    for name in ARTIFACTS:
        assert (result.run_dir / name).is_file(), name
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert 0 <= metrics["mIoU"] <= 1 and len(metrics["per_class_iou"]) == 19
    assert set(metrics["boundary_F"]) == {"0.00088", "0.001875", "0.00375"}
    assert all(0 <= value <= 1 for value in metrics["boundary_F"].values())
    history = pd.read_csv(result.run_dir / "history.csv")
    assert list(history["iteration"]) == list(range(1, run.train.iterations + 1))
    assert np.isfinite(history[["seg", "edge", "total", "lr", "images_per_second"]].to_numpy()).all()
    assert (history["edge"] > 0).all()  # ssb_bdb has a boundary output and an edge term
    # Poly schedule (docs/method.md §4.1): lr after k steps = lr0 * (1 - k/T)^0.9.
    expected_lr = run.train.learning_rate * (1 - history["iteration"] / run.train.iterations) ** 0.9
    np.testing.assert_allclose(history["lr"], expected_lr, rtol=1e-6, atol=1e-12)
    again = train(run, progress=False)
    assert again.reused and _scores(again.metrics) == _scores(result.metrics)
    other = dataclasses.replace(run, train=dataclasses.replace(run.train, learning_rate=0.02))
    with pytest.raises(
        RunDirectoryError, match=r"train.learning_rate: checkpoint has 0.01, this run asks for 0.02"
    ):
        train(other, progress=False)


def test_same_seed_same_result(tmp_path) -> None:
    first = train(smoke(tmp_path / "a"), progress=False)
    second = train(smoke(tmp_path / "b"), progress=False)
    assert _scores(first.metrics) == _scores(second.metrics)
    first_weights, second_weights = _weights(first.run_dir), _weights(second.run_dir)
    for name, tensor in first_weights.items():
        assert torch.equal(tensor, second_weights[name]), name
    third = train(smoke(tmp_path / "c", seed=1), progress=False)
    assert not torch.equal(
        first_weights["backbone.conv1.weight"], _weights(third.run_dir)["backbone.conv1.weight"]
    )


def test_killed_run_resumes_exactly(tmp_path) -> None:
    iterations = 20
    interrupted = smoke(tmp_path / "killed", iterations=iterations, checkpoint_every=5, log_every=2)
    command = [
        sys.executable, "-m", "basnet_lib.train", "--preset", "smoke", "--quiet",
        "--train.iterations", str(iterations), "--train.checkpoint_every", "5", "--train.log_every", "2",
        "--train.results_dir", interrupted.train.results_dir,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = interrupted.run_dir / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    killed_at = load_checkpoint(checkpoint)["iteration"]
    assert 0 < killed_at < iterations and not (interrupted.run_dir / "metrics.json").exists()
    with pytest.raises(RunDirectoryError, match="unfinished run"):
        train(interrupted, progress=False)

    resumed = train(interrupted, resume=True, progress=False)
    assert resumed.metrics["resumed_from"] == killed_at
    straight = train(
        smoke(tmp_path / "straight", iterations=iterations, checkpoint_every=5, log_every=2), progress=False
    )
    assert _scores(resumed.metrics) == _scores(straight.metrics)
    straight_weights = _weights(straight.run_dir)
    for name, tensor in _weights(resumed.run_dir).items():
        assert torch.equal(tensor, straight_weights[name]), name
    resumed_history = pd.read_csv(resumed.run_dir / "history.csv")
    assert list(resumed_history["iteration"]) == list(range(2, iterations + 1, 2))


def test_bad_checkpoints_and_configs_are_refused_without_touching_files(tmp_path) -> None:
    run = smoke(tmp_path, iterations=4, checkpoint_every=2)
    result = train(run, progress=False)
    (result.run_dir / "metrics.json").unlink()  # make it an unfinished run
    checkpoint = result.run_dir / "checkpoint.pt"

    def snapshot() -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in sorted(result.run_dir.iterdir())}

    changed = dataclasses.replace(run, model=dataclasses.replace(run.model, width=24))
    before = snapshot()
    with pytest.raises(
        CheckpointError, match=r"another config:\n  model.width: checkpoint has 16, this run asks for 24"
    ):
        train(changed, resume=True, progress=False)
    assert snapshot() == before

    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    before = snapshot()
    with pytest.raises(
        CheckpointError, match=r"checkpoint.pt: not a readable checkpoint \(truncated or corrupt\?\)"
    ):
        train(run, resume=True, progress=False)
    assert snapshot() == before

    torch.save({"state_dict": {}}, checkpoint)  # a checkpoint from elsewhere
    with pytest.raises(CheckpointError, match="not a BASNet training checkpoint"):
        train(run, resume=True, progress=False)


def _nan_pixels(sample: dict) -> None:
    sample["image"].fill_(float("nan"))


def test_nan_loss_stops_with_the_iteration_and_keeps_the_checkpoint(tmp_path, monkeypatch, training_data_fault) -> None:
    run = smoke(tmp_path, checkpoint_every=2)
    # The images of step 5 (samples 9 and 10 at batch 2) hold NaN: its loss is not finite.
    training_data_fault(monkeypatch, after=4 * run.train.batch_size, action=_nan_pixels)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at iteration 5: seg=nan"):
        train(run, progress=False)
    assert load_checkpoint(run.run_dir / "checkpoint.pt")["iteration"] == 4
    assert not (run.run_dir / "metrics.json").exists()


class _HostSyncCounter(TorchFunctionMode):
    """Counts tensor → Python conversions (each a host-device synchronisation on a GPU) outside
    data loading, which runs on the CPU anyway.

    ``int(tensor)`` does not pass through torch functions, so it is not seen; the others are.
    """

    SYNCING = frozenset(
        {"item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "__format__"}
    )
    DATA_LOADING = ("basnet_lib/data/", "basnet_lib/engine/sampling.py")

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in self.SYNCING and not self._loading_data():
            self.calls.append(func.__name__)
        return func(*args, **(kwargs or {}))

    def _loading_data(self) -> bool:
        return any(part in frame.filename for frame in traceback.extract_stack() for part in self.DATA_LOADING)


def test_training_steps_do_not_synchronise_between_logs(tmp_path) -> None:
    """Only history rows, checkpoints and evaluations read values back; every other step runs
    ahead: with twice the steps between them, the same conversions."""
    counts = []
    for iterations in (4, 8):
        run = smoke(tmp_path / str(iterations), iterations=iterations, log_every=iterations, checkpoint_every=iterations)
        counter = _HostSyncCounter()
        with counter:
            train(run, progress=False)
        counts.append(len(counter.calls))
    assert counts[0] == counts[1] > 0  # the counter sees the row, the checks and the evaluation


POISON_RANK_1 = """
import itertools
import os
import sys

from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.train import main

real_getitem, loaded = CityscapesSegmentation.__getitem__, itertools.count(1)


def getitem(dataset, index):
    sample = real_getitem(dataset, index)
    # Only rank 1, from step 4 on (2 samples a step per process): NaN gradients reach every process.
    if dataset.split == "train" and os.environ["RANK"] == "1" and next(loaded) > 6:
        sample["image"].fill_(float("nan"))
    return sample


CityscapesSegmentation.__getitem__ = getitem
sys.exit(main(sys.argv[1:]))
"""


def test_torchrun_non_finite_loss_on_one_process_stops_all_and_keeps_the_checkpoint(tmp_path) -> None:
    script = tmp_path / "poisoned_train.py"
    script.write_text(POISON_RANK_1)
    results_dir = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", str(script),
        "--preset", "smoke", "--quiet", "--train.batch_size", "4", "--train.iterations", "6",
        "--train.checkpoint_every", "2", "--train.results_dir", str(results_dir),
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment, timeout=300)
    assert finished.returncode != 0
    output = finished.stdout + finished.stderr
    assert "non-finite loss at iteration 4: seg=nan" in output  # rank 1's own error
    assert "non-finite loss on another process" in output  # rank 0 stops too
    checkpoint = load_checkpoint(results_dir / "full-resnet18-seed0" / "checkpoint.pt")
    assert checkpoint["iteration"] == 2
    assert all(
        torch.isfinite(value).all() for value in checkpoint["model"].values() if value.is_floating_point()
    )


def test_torchrun_two_processes_match_an_evaluation_of_the_checkpoint(tmp_path) -> None:
    results_dir = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "basnet_lib.train",
        "--preset", "smoke", "--quiet", "--train.batch_size", "4", "--train.results_dir", str(results_dir),
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=environment, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    run_dir = results_dir / "full-resnet18-seed0"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    run = load_run_config(run_dir / "config.json")
    model = build_basnet(config=run.model)
    model.load_state_dict(_weights(run_dir))
    single = evaluate(
        model,
        build_dataset(run.data, split="val", train=False),
        context=DistributedContext(device=torch.device("cpu")),
        progress=False,
    )
    # Pixel counts are integers: equal. F sums are float64 added in another order: equal to 1e-12.
    assert single["mIoU"] == metrics["mIoU"] and single["per_class_iou"] == metrics["per_class_iou"]
    for threshold, per_class in single["per_class_boundary_F"].items():
        assert per_class == pytest.approx(metrics["per_class_boundary_F"][threshold], rel=0, abs=1e-12)
    assert single["boundary_F"] == pytest.approx(metrics["boundary_F"], rel=0, abs=1e-12)


def test_multiscale_evaluation_and_test_export(tmp_path) -> None:
    result = train(smoke(tmp_path), progress=False)
    run = result.config
    model = build_basnet(config=run.model)
    model.load_state_dict(_weights(result.run_dir))
    context = DistributedContext(device=torch.device("cpu"))
    metrics = evaluate(model, build_dataset(run.data, split="val", train=False), context=context, multiscale=True,
                       progress=False)  # fmt: skip
    assert metrics["multiscale"] and 0 <= metrics["mIoU"] <= 1
    test_set = build_dataset(run.data, split="test", train=False)
    paths = export_predictions(model, test_set, tmp_path / "export", context=context, progress=False)
    assert len(paths) == len(test_set) > 0
    from basnet_lib.data.labels import TRAIN_ID_TO_LABEL_ID
    from basnet_lib.data.png_io import read_label_ids

    image_size = test_set[0]["image"].shape[-2:]
    for path in paths:
        label_ids = read_label_ids(path)
        assert label_ids.shape == tuple(image_size)
        assert set(np.unique(label_ids)) <= set(TRAIN_ID_TO_LABEL_ID)


def test_evaluate_command_reproduces_the_run_metrics(tmp_path, capsys) -> None:
    from basnet_lib.cli import main

    result = train(smoke(tmp_path, variant="baseline"), progress=False)
    assert main(["evaluate", str(result.run_dir), "--quiet", "--device", "cpu"]) == 0
    evaluated = json.loads((result.run_dir / "eval_val.json").read_text())
    assert _scores(evaluated) == _scores(result.metrics)
    assert "wrote" in capsys.readouterr().out
    # --compile: inductor with frozen weights (one compile, ~20 s); logits differ by rounding only.
    assert main(["evaluate", str(result.run_dir), "--quiet", "--device", "cpu", "--compile"]) == 0
    compiled = json.loads((result.run_dir / "eval_val.json").read_text())
    assert compiled["compiled"] is True and evaluated["compiled"] is False
    assert compiled["mIoU"] == pytest.approx(evaluated["mIoU"], rel=0, abs=1e-3)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        main(["--debug", "evaluate", str(result.run_dir), "--checkpoint", str(tmp_path / "missing.pt"), "--quiet"])


def test_bf16_autocast_on_cpu_trains_and_changes_the_arithmetic(tmp_path) -> None:
    """TrainConfig.amp: bf16 autocast on CPU (fp16 + scaler on CUDA); the loss stays fp32 and finite."""
    mixed = train(smoke(tmp_path / "bf16", iterations=2, amp=True), progress=False)
    plain = train(smoke(tmp_path / "fp32", iterations=2), progress=False)
    history = pd.read_csv(mixed.run_dir / "history.csv")
    assert np.isfinite(history[["seg", "edge", "total"]].to_numpy()).all()
    name = "backbone.conv1.weight"
    assert not torch.equal(_weights(mixed.run_dir)[name], _weights(plain.run_dir)[name])


def test_validation_during_training_writes_curves_and_leaves_training_unchanged(tmp_path) -> None:
    fields = dict(iterations=6, checkpoint_every=3, log_every=3)
    evaluated = train(smoke(tmp_path / "eval", eval_every=2, eval_images=2, **fields), progress=False)
    plain = train(smoke(tmp_path / "plain", **fields), progress=False)
    # Evaluation works on a copy and draws no random numbers: same weights and final scores.
    plain_weights = _weights(plain.run_dir)
    for name, tensor in _weights(evaluated.run_dir).items():
        assert torch.equal(tensor, plain_weights[name]), name
    assert _scores(evaluated.metrics) == _scores(plain.metrics)
    history = pd.read_csv(evaluated.run_dir / "history.csv")
    rows = history[history["val_mIoU"].notna()]
    assert list(rows["iteration"]) == [2, 4, 6]  # every eval_every steps, and the final evaluation
    assert list(rows["val_images"]) == [2, 2, 4]  # eval_images, then the whole val set
    final = rows.iloc[-1]
    assert final["val_mIoU"] == evaluated.metrics["mIoU"]
    assert final["val_F_3px"] == evaluated.metrics["boundary_F"]["0.00088"]
    assert final["val_boundary_ods_f"] == evaluated.metrics["boundary_map"]["ODS_F"]
    assert history["val_mIoU"].isna().sum() == len(history) - 3
    # Without eval_every only the final evaluation adds a point to the curve.
    plain_history = pd.read_csv(plain.run_dir / "history.csv")
    assert list(plain_history.loc[plain_history["val_mIoU"].notna(), "iteration"]) == [6]


def test_resumed_run_keeps_its_validation_curve(tmp_path, monkeypatch, training_data_fault) -> None:
    fields = dict(iterations=6, checkpoint_every=3, log_every=1, eval_every=2, eval_images=2)
    straight = train(smoke(tmp_path / "straight", **fields), progress=False)

    def stop(sample: dict) -> None:
        raise KeyboardInterrupt

    run = smoke(tmp_path / "resumed", **fields)
    with monkeypatch.context() as patch:
        training_data_fault(patch, after=4 * run.train.batch_size, action=stop)  # stopped after step 4
        with pytest.raises(KeyboardInterrupt):
            train(run, progress=False)
    resumed = train(run, resume=True, progress=False)
    assert resumed.metrics["resumed_from"] == 3
    columns = ["iteration", "val_images", "val_mIoU", "val_F_3px", "val_boundary_ods_f"]
    expected = pd.read_csv(straight.run_dir / "history.csv")[columns]
    pd.testing.assert_frame_equal(pd.read_csv(resumed.run_dir / "history.csv")[columns], expected)


def test_evaluation_scores_the_boundary_map_only_where_there_is_one(tmp_path) -> None:
    context = DistributedContext(device=torch.device("cpu"))
    run = smoke(tmp_path)
    dataset = build_dataset(run.data, split="val", train=False)
    for variant, has_map in (("full", True), ("ssb", False)):
        torch.manual_seed(0)
        model = build_basnet(config=dataclasses.replace(run.model, variant=variant, sab_probes=has_map))
        metrics = evaluate(model, dataset, context=context, progress=False)
        assert (metrics["boundary_map"] is not None) is has_map, variant
        assert set(metrics["boundary_F_present"]) == set(metrics["boundary_F"])
        if has_map:
            scores, canny = metrics["boundary_map"], metrics["canny_map"]
            assert 0 <= scores["AP"] <= 1 and scores["ODS_F"] >= scores["constant_map_F"] > 0
            assert 0 < canny["F"] < 1 and canny["edge_fraction"] == scores["edge_fraction"]
