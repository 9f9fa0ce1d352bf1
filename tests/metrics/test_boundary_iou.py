"""Boundary IoU (docs/method.md §5.4): equal to the literal per-class erosion on every case, reducible
like the other metrics, and refusing bad input in one line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from basnet_lib.metrics.boundary_fscore import GSCNN_THRESHOLDS, boundary_radii
from basnet_lib.metrics.boundary_iou import BoundaryIoU, band_width, boundary_iou_counts
from basnet_lib.metrics.reference import reference_boundary_iou_counts

K = 19


def _random_maps(seed: int, shape: tuple[int, int], classes: int = K, blobs: bool = True) -> np.ndarray:
    generator = np.random.default_rng(seed)
    if not blobs:
        return generator.integers(0, classes, shape, dtype=np.uint8)
    coarse = generator.integers(0, classes, (max(1, shape[0] // 8), max(1, shape[1] // 8)), dtype=np.uint8)
    return np.kron(coarse, np.ones((8, 8), np.uint8))[: shape[0], : shape[1]].copy()


def _cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    pred, gt = _random_maps(1, (64, 96)), _random_maps(2, (64, 96))
    ignored = gt.copy()
    ignored[10:30, 20:50] = 255  # an ignore region inside, and one on the border
    ignored[:, :5] = 255
    absent = _random_maps(3, (48, 48), classes=5)  # classes 5..18 in neither map
    one_sided = absent.copy()
    one_sided[20:30, 20:30] = 17  # a class only the prediction has
    border = np.zeros((40, 60), np.uint8)
    border[:15, :] = 3  # masks touching the border
    return {
        "random blobs": (pred, gt),
        "noise": (_random_maps(4, (33, 47), blobs=False), _random_maps(5, (33, 47), blobs=False)),
        "ignore regions": (pred, ignored),
        "classes absent from one side": (one_sided, absent),
        "masks cut by the border": (np.roll(border, 5, axis=1), border),
        "one row": (_random_maps(6, (8, 400))[:1].copy(), _random_maps(7, (8, 400))[:1].copy()),
    }


@pytest.mark.parametrize("name", list(_cases()))
@pytest.mark.parametrize("pixels", [1, 2, 5, 17])
def test_counts_equal_the_literal_erosion(name: str, pixels: int) -> None:
    pred, gt = _cases()[name]
    expected = reference_boundary_iou_counts(pred, gt, pixels=pixels, num_classes=K)
    intersection, union = boundary_iou_counts(torch.from_numpy(pred), torch.from_numpy(gt), pixels=(pixels,))
    assert intersection[0].tolist() == expected[0].tolist() and union[0].tolist() == expected[1].tolist()


def test_the_dense_path_agrees_with_the_reference() -> None:
    from basnet_lib.metrics.boundary_iou import _counts_dense

    for name, (pred, gt) in _cases().items():
        for pixels in (1, 3):
            expected = reference_boundary_iou_counts(pred, gt, pixels=pixels, num_classes=K)
            # The path GPU tensors take, run on the CPU.
            intersection, union = _counts_dense(torch.from_numpy(pred), torch.from_numpy(gt), pixels, K, 255)
            assert intersection.tolist() == expected[0].tolist(), name
            assert union.tolist() == expected[1].tolist(), name


def test_accumulator_reduces_like_the_other_metrics_and_scores_present_classes() -> None:
    cases = list(_cases().values())[:3]
    whole, first, second = (BoundaryIoU(bands=(0.05, 0.02)) for _ in range(3))
    for pred, gt in cases:
        whole.update(pred, gt)
    first.update(*cases[0])
    for pred, gt in cases[1:]:
        second.update(pred, gt)
    first.merge(second)
    assert torch.equal(first.intersection, whole.intersection) and torch.equal(first.union, whole.union)
    scores = whole.scores()
    for band_index, per_class in enumerate(scores.per_class):
        present = [value for value in per_class if not math.isnan(value)]
        assert scores.mean[band_index] == pytest.approx(sum(present) / len(present))
    # A class absent from both maps has no entry (GSCNN's F-score would score it 1).
    absent_only = BoundaryIoU(bands=(0.05,))
    absent_only.update(*_cases()["classes absent from one side"][::-1])
    row = absent_only.scores().per_class[0]
    assert all(math.isnan(row[label]) for label in range(5, 17)) and row[17] == 0.0
    assert absent_only.scores().as_dict()["per_class"]["0.05"]["train"] is None  # class 16, JSON null


def test_the_standard_band_is_two_percent_of_the_diagonal_and_the_others_the_f_scores_radii() -> None:
    assert band_width(0.02, height=1024, width=2048) == 46  # round(45.8), as the authors
    assert band_width(0.02, height=256, width=512) == 11  # round(11.45); a ceil would give 12
    # At the F-score's tolerances, its radius (ceil): 3/5/9 px at 1024×2048, where rounding gave 2/4/9
    # and, at 256×512, two equal columns (1/1/2 instead of 1/2/3).
    assert [band_width(t, height=1024, width=2048) for t in GSCNN_THRESHOLDS] == [3, 5, 9]
    assert [band_width(t, height=256, width=512) for t in GSCNN_THRESHOLDS] == list(
        boundary_radii(GSCNN_THRESHOLDS, height=256, width=512)
    ) == [1, 2, 3]
    assert band_width(0.0001, height=64, width=64) == 1  # at least one pixel


@pytest.mark.parametrize(
    ("pred", "target", "message"),
    [
        (np.zeros((8, 8), np.float32), np.zeros((8, 8), np.uint8), "float32: metrics take integer trainId maps"),
        (np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8), r"differ in shape"),
        (np.full((8, 8), 19, np.uint8), np.zeros((8, 8), np.uint8), r"label ids must be 0..18"),
        (np.zeros((8, 8), np.uint8), np.full((8, 8), 40, np.uint8), r"label ids must be 0..18"),
    ],
)
def test_bad_input_is_one_clear_error(pred, target, message) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        BoundaryIoU(bands=(0.05,)).update(pred, target)


def test_band_widths_out_of_range_are_refused() -> None:
    for fraction in (0.0, -0.1, 1.0):
        with pytest.raises(ValueError, match="must be a fraction of the image diagonal"):
            band_width(fraction, height=100, width=100)
    for fraction in (0.5, 0.9):
        with pytest.raises(ValueError, match=r"in \(0, 0.5\)"):
            band_width(fraction, height=40, width=60)
    with pytest.raises(ValueError, match=r"band of 37 px on a 40x60 image: expected 1 <= d < half the image's"):
        boundary_iou_counts(torch.zeros(40, 60, dtype=torch.uint8), torch.zeros(40, 60, dtype=torch.uint8), pixels=(37,))


def test_an_evaluation_reports_boundary_iou_beside_the_f_score(saved_smoke_runs) -> None:
    from basnet_lib.data.build import build_dataset
    from basnet_lib.distributed import DistributedContext
    from basnet_lib.engine.evaluate import evaluate
    from basnet_lib.engine.run_files import load_trained_model

    run, model = load_trained_model(saved_smoke_runs["full"])
    metrics = evaluate(model, build_dataset(run.data, split="val", train=False),
                       context=DistributedContext(device=torch.device("cpu")), progress=False)  # fmt: skip
    assert list(metrics["boundary_IoU"]) == ["0.02", "0.00088", "0.001875", "0.00375"]
    assert all(value is None or 0 <= value <= 1 for value in metrics["boundary_IoU"].values())
    for name, value in metrics["per_class_min_IoU_boundary_IoU"].items():
        iou, band = metrics["per_class_iou"][name], metrics["per_class_boundary_IoU"]["0.02"][name]
        assert value == (None if iou is None or band is None else min(iou, band)), name
