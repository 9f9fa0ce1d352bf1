"""The metrics as torchmetrics classes (basnet_lib.metrics.torchmetrics): the same label maps give
the library's own scores, in one process and synchronised over two gloo processes."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from basnet_lib.metrics import BoundaryFScore, BoundaryIoU, ConfusionMatrix
from basnet_lib.metrics.torchmetrics import BoundaryIoUMetric, CityscapesIoU, GSCNNBoundaryF

ROOT = Path(__file__).resolve().parents[2]


def label_batches(count: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Blobby prediction and label maps, (2, 48, 64) each, with ignored pixels."""
    generator = np.random.default_rng(0)
    batches = []
    for _ in range(count):
        coarse = generator.integers(0, 19, (2, 2, 6, 8))
        maps = np.kron(coarse, np.ones((8, 8), np.int64))
        pred, target = torch.from_numpy(maps[0]), torch.from_numpy(maps[1])
        target[:, :4] = 255
        batches.append((pred, target))
    return batches


def _equal(a: torch.Tensor, b) -> bool:
    b = torch.as_tensor(b, dtype=a.dtype)
    return bool(torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(-1), b.nan_to_num(-1)))


def library_scores(batches) -> dict[str, object]:
    confusion, fscore, boundary_iou = ConfusionMatrix(), BoundaryFScore(), BoundaryIoU()
    for pred, target in batches:
        for accumulator in (confusion, fscore, boundary_iou):
            accumulator.update(pred, target)
    return {"iou": confusion.scores(), "f": fscore.scores(), "biou": boundary_iou.scores()}


def test_single_process_equals_the_library() -> None:
    batches = label_batches()
    iou, f, biou = CityscapesIoU(), GSCNNBoundaryF(), BoundaryIoUMetric()
    for pred, target in batches:
        for metric in (iou, f, biou):
            metric.update(pred, target)
    expected = library_scores(batches)
    assert iou.compute()["mIoU"].item() == expected["iou"].mean_iou
    assert _equal(iou.compute()["per_class_iou"], expected["iou"].iou)
    assert _equal(f.compute()["F"], expected["f"].mean) and _equal(f.compute()["per_class_F"], expected["f"].per_class)
    assert _equal(biou.compute()["mean"], expected["biou"].mean)
    assert not math.isnan(expected["biou"].mean[0])  # something real was compared
    iou.reset()
    assert int(iou.counts.sum()) == 0


TWO_PROCESSES = """
import sys, torch, torch.distributed as dist
sys.path.insert(0, sys.argv[3])
from test_torchmetrics import label_batches
from basnet_lib.metrics.torchmetrics import BoundaryIoUMetric, CityscapesIoU, GSCNNBoundaryF
rank = int(sys.argv[1])
dist.init_process_group("gloo", init_method=f"file://{sys.argv[2]}", rank=rank, world_size=2)
metrics = (CityscapesIoU(), GSCNNBoundaryF(), BoundaryIoUMetric())
for pred, target in label_batches()[rank::2]:  # each process half of the batches
    for metric in metrics:
        metric.update(pred, target)
results = [metric.compute() for metric in metrics]  # synchronised: sums over both processes
if rank == 0:
    torch.save(results, sys.argv[4])
dist.destroy_process_group()
"""


def test_two_gloo_processes_synchronise_to_the_library_scores(tmp_path) -> None:
    script, out = tmp_path / "two.py", tmp_path / "scores.pt"
    script.write_text(TWO_PROCESSES)
    store = tmp_path / "store"
    arguments = [str(store), str(Path(__file__).parent), str(out)]
    processes = [
        subprocess.Popen([sys.executable, str(script), str(rank), *arguments], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for rank in (0, 1)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
    iou, f, biou = torch.load(out, weights_only=True)
    expected = library_scores(label_batches())
    # Counts are integers: equal. F sums are float64 added over the processes in another order.
    assert iou["mIoU"].item() == expected["iou"].mean_iou
    assert _equal(biou["per_class"], expected["biou"].per_class)
    torch.testing.assert_close(f["per_class_F"], torch.tensor(expected["f"].per_class, dtype=torch.float64),
                               rtol=0, atol=1e-12)  # fmt: skip


def test_readme_example_runs_and_gives_the_library_scores() -> None:
    readme = (ROOT / "README.md").read_text()
    snippet = next(
        block for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "torchmetrics" in block
    )
    batches = label_batches()
    # A "model" whose logits' argmax is the prediction maps of label_batches.
    namespace = {
        "loader": [(pred, target) for pred, target in batches],
        "model": lambda pred: {"out": torch.nn.functional.one_hot(pred, 19).permute(0, 3, 1, 2).float()},
    }
    exec(snippet, namespace)
    expected = library_scores(batches)
    scores = namespace["scores"]
    assert scores["iou"]["mIoU"].item() == expected["iou"].mean_iou
    assert _equal(scores["boundary_f"]["F"], expected["f"].mean)
    assert _equal(scores["boundary_iou"]["mean"], expected["biou"].mean)
