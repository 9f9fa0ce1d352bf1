"""Metric counts summed over two gloo processes equal one process over all images
(docs/method.md §5.3, §8.5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from basnet_lib.metrics import BoundaryFScore, ConfusionMatrix

WORLD_SIZE = 2


def _batches(num_images: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 19, size=(num_images, 6, 8)).repeat(4, axis=1).repeat(4, axis=2)
    gt[:, :4, :6] = 255
    pred = np.where(rng.random(gt.shape) < 0.8, gt, rng.integers(0, 19, size=gt.shape))
    pred[pred == 255] = 0
    return torch.from_numpy(pred), torch.from_numpy(gt)


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        pred, gt = _batches()
        confusion, fscore = ConfusionMatrix(), BoundaryFScore()
        # Rank r evaluates images r, r + 2, ... (as a DistributedSampler would).
        confusion.update(pred[rank::WORLD_SIZE], gt[rank::WORLD_SIZE])
        fscore.update(pred[rank::WORLD_SIZE], gt[rank::WORLD_SIZE])
        confusion.reduce_()
        fscore.reduce_()
        torch.save(
            {"counts": confusion.counts, "f_sums": fscore.f_sums, "image_counts": fscore.image_counts},
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def test_reduce_sums_over_processes(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    pred, gt = _batches()
    confusion, fscore = ConfusionMatrix(), BoundaryFScore()
    confusion.update(pred, gt)
    fscore.update(pred, gt)
    for rank in range(WORLD_SIZE):
        state = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert torch.equal(state["counts"], confusion.counts)
        assert torch.equal(state["image_counts"], fscore.image_counts)
        torch.testing.assert_close(state["f_sums"], fscore.f_sums, rtol=0, atol=1e-12)


def test_reduce_is_a_no_op_outside_torch_distributed() -> None:
    pred, gt = _batches()
    confusion = ConfusionMatrix()
    confusion.update(pred, gt)
    before = confusion.counts.clone()
    confusion.reduce_()
    assert torch.equal(confusion.counts, before)
