"""docs/method.md §5.2, §5.3: the fast boundary F-score equals the literal skimage reference exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.morphology import disk

from basnet_lib.metrics import (
    GSCNN_THRESHOLDS,
    BoundaryFScore,
    boundary_fscores,
    boundary_match_counts,
    boundary_radii,
)
from basnet_lib.metrics.boundary_dense import boundary_maps
from basnet_lib.metrics.reference import (
    gscnn_seg2bmap,
    reference_boundary_fscores,
    reference_boundary_map,
    reference_radius,
)

K = 19
ALL_RADII = tuple(range(1, 13))


def blocky_pair(rng: np.random.Generator, height: int, width: int, *, ignore: bool = True):
    """(pred, gt) uint8 trainId maps: rectangles of few classes, gt with 255 holes, pred perturbed."""
    classes = rng.choice(K, size=int(rng.integers(1, 6)), replace=False)
    gt = np.full((height, width), rng.choice(classes), dtype=np.uint8)
    for _ in range(int(rng.integers(1, 8))):
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        y1 = int(rng.integers(y0, height)) + 1
        x1 = int(rng.integers(x0, width)) + 1
        gt[y0:y1, x0:x1] = rng.choice(classes)
    pred = gt.copy()
    # Shift some rows/columns and sprinkle blobs, so boundaries move by a few pixels.
    pred = np.roll(pred, int(rng.integers(-3, 4)), axis=int(rng.integers(0, 2)))
    for _ in range(int(rng.integers(0, 5))):
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        size = int(rng.integers(1, 6))
        pred[y : y + size, x : x + size] = rng.integers(0, K)
    if ignore and rng.random() < 0.7:
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        gt[y0 : y0 + int(rng.integers(1, height + 1)), x0 : x0 + int(rng.integers(1, width + 1))] = 255
    return pred, gt


def random_cases(seed: int, count: int):
    rng = np.random.default_rng(seed)
    sizes = [(17, 23), (31, 45), (40, 33), (9, 64), (64, 9), (25, 25)]
    return [blocky_pair(rng, *sizes[i % len(sizes)]) for i in range(count)]


def hand_made_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    cases = {}
    road = np.zeros((20, 30), dtype=np.uint8)
    cases["one class fills both"] = (road, road.copy())
    blob = road.copy()
    blob[5:9, 10:16] = 13
    cases["class fills pred, gt has a blob"] = (road, blob)
    cases["all ignored"] = (blob, np.full_like(road, 255))
    ignored = blob.copy()
    ignored[:, 20:] = 255
    pred = np.full_like(road, 5)
    pred[:, :12] = 0
    cases["ignore region and a pred-only class"] = (pred, ignored)
    edges = np.zeros((11, 13), dtype=np.uint8)
    edges[-1, :] = 1  # last row
    edges[:, -1] = 2  # last column
    edges[0, :] = 3  # first row
    edges[:, 0] = 4  # first column
    cases["classes along every image edge"] = (np.rot90(edges, 2).copy(), edges)
    point = np.zeros((21, 21), dtype=np.uint8)
    moved = point.copy()
    point[5, 5] = 7
    moved[8, 9] = 7  # offset (3, 4): distance exactly 5
    cases["single pixels at distance 5"] = (point, moved)
    checker = (np.indices((15, 16)).sum(axis=0) % 2).astype(np.uint8) * 11
    cases["checkerboard"] = (checker, np.roll(checker, 1, axis=1))
    rng = np.random.default_rng(19)
    salt = rng.integers(0, K, size=(30, 41)).astype(np.uint8)
    salt_gt = np.where(rng.random(salt.shape) < 0.6, salt, rng.integers(0, K, size=salt.shape)).astype(
        np.uint8
    )
    salt_gt[rng.random(salt.shape) < 0.1] = 255
    cases["pixel noise of all 19 classes"] = (salt, salt_gt)
    for height, width in [(1, 1), (1, 9), (9, 1), (2, 2), (3, 5)]:
        rng = np.random.default_rng(height * 100 + width)
        gt = rng.integers(0, 3, size=(height, width)).astype(np.uint8)
        gt[rng.random((height, width)) < 0.2] = 255
        cases[f"noise {height}x{width}"] = (rng.integers(0, 3, size=(height, width)).astype(np.uint8), gt)
    return cases


def test_skimage_disk_is_the_spec_disk() -> None:
    for radius in range(0, 13):
        dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        np.testing.assert_array_equal(disk(radius).astype(bool), dy * dy + dx * dx <= radius * radius)


def test_reference_boundary_map_is_gscnn_seg2bmap() -> None:
    rng = np.random.default_rng(0)
    for height, width in [(1, 1), (1, 7), (7, 1), (6, 9), (13, 8)]:
        for _ in range(5):
            mask = rng.random((height, width)) < 0.4
            np.testing.assert_array_equal(reference_boundary_map(mask), gscnn_seg2bmap(mask))
            torch_map = boundary_maps(torch.from_numpy(mask)).numpy()
            np.testing.assert_array_equal(torch_map, reference_boundary_map(mask))


def test_radii_match_gscnn_and_paper() -> None:
    assert boundary_radii(GSCNN_THRESHOLDS, height=1024, width=2048) == (3, 5, 9)
    for height, width in [(1, 1), (64, 128), (257, 511), (1024, 2048), (2000, 3001), (480, 480)]:
        for threshold in (*GSCNN_THRESHOLDS, 0.01, 0.05):
            radii = boundary_radii((threshold,), height=height, width=width)
            assert radii == (reference_radius(threshold, height=height, width=width),)


@pytest.mark.parametrize("radius", ALL_RADII)
def test_fast_equals_reference_for_each_radius(radius: int) -> None:
    for pred, gt in random_cases(seed=radius, count=10):
        expected = reference_boundary_fscores(pred, gt, radii=(radius,))
        for method in ("sparse", "dense"):
            actual = boundary_fscores(pred, gt, radii=(radius,), method=method).numpy()
            np.testing.assert_array_equal(actual, expected, err_msg=f"{method} r={radius} {gt.shape}")


@pytest.mark.parametrize("name", list(hand_made_cases()))
def test_fast_equals_reference_on_hand_made_cases(name: str) -> None:
    pred, gt = hand_made_cases()[name]
    expected = reference_boundary_fscores(pred, gt, radii=ALL_RADII)
    for method in ("sparse", "dense"):
        actual = boundary_fscores(pred, gt, radii=ALL_RADII, method=method).numpy()
        np.testing.assert_array_equal(actual, expected, err_msg=f"{method}: {name}")


def test_hand_made_values() -> None:
    cases = hand_made_cases()
    both_full = boundary_fscores(*cases["one class fills both"], radii=(3,)).numpy()
    np.testing.assert_array_equal(both_full, np.ones((1, K)))  # no boundary anywhere: F = 1
    blob = boundary_fscores(*cases["class fills pred, gt has a blob"], radii=(3,)).numpy()[0]
    assert blob[0] == 0 and blob[13] == 0  # boundary in gt only: F = 0
    assert np.all(np.delete(blob, [0, 13]) == 1)
    np.testing.assert_array_equal(
        boundary_fscores(*cases["all ignored"], radii=(3,)).numpy(), np.ones((1, K))
    )
    points = boundary_fscores(*cases["single pixels at distance 5"], radii=(4, 5)).numpy()[:, 7]
    assert points[0] < 1 and points[1] == 1  # the (3, 4) offset is inside disk 5, not disk 4


def test_counts_of_all_radii_at_once_equal_counts_per_radius() -> None:
    for pred, gt in random_cases(seed=99, count=4):
        together = boundary_match_counts(pred, gt, radii=ALL_RADII)
        for index, radius in enumerate(ALL_RADII):
            alone = boundary_match_counts(pred, gt, radii=(radius,))
            assert torch.equal(together.pred_matched[index], alone.pred_matched[0])
            assert torch.equal(together.gt_matched[index], alone.gt_matched[0])
            assert torch.equal(together.pred_boundary, alone.pred_boundary)


def test_dense_torch_path_equals_sparse_numpy_path_on_realistic_maps() -> None:
    rng = np.random.default_rng(5)
    for _ in range(3):
        pred, gt = blocky_pair(rng, 72, 120)
        sparse = boundary_match_counts(pred, gt, radii=(3, 5, 9), method="sparse")
        dense = boundary_match_counts(
            torch.from_numpy(pred), torch.from_numpy(gt), radii=(3, 5, 9), method="dense"
        )
        for field in ("pred_boundary", "gt_boundary", "pred_matched", "gt_matched"):
            assert torch.equal(getattr(sparse, field), getattr(dense, field)), field


def test_accumulator_sums_equal_reference_and_add_across_batches() -> None:
    cases = [(pred, gt) for pred, gt in random_cases(seed=7, count=6) if gt.shape == (17, 23)]
    cases += [blocky_pair(np.random.default_rng(seed), 17, 23) for seed in range(4)]
    preds = torch.from_numpy(np.stack([pred for pred, _ in cases]))
    gts = torch.from_numpy(np.stack([gt for _, gt in cases]))
    radii = boundary_radii(GSCNN_THRESHOLDS, height=17, width=23)
    reference = [reference_boundary_fscores(pred, gt, radii=radii) for pred, gt in cases]

    one_shot = BoundaryFScore()
    one_shot.update(preds, gts)
    expected_sums = np.zeros((3, K))
    for scores in reference:  # same order of float additions as the accumulator
        expected_sums += scores
    np.testing.assert_array_equal(one_shot.f_sums.numpy(), expected_sums)
    assert one_shot.image_counts.tolist() == [len(cases)] * K

    batched = BoundaryFScore()
    for start in range(0, len(cases), 3):
        batched.update(preds[start : start + 3], gts[start : start + 3])
    assert torch.equal(batched.f_sums, one_shot.f_sums)
    assert torch.equal(batched.image_counts, one_shot.image_counts)

    first, second = BoundaryFScore(method="dense"), BoundaryFScore()
    first.update(preds[:4], gts[:4])
    second.update(preds[4:], gts[4:])
    first.merge(second)
    torch.testing.assert_close(first.f_sums, one_shot.f_sums, rtol=0, atol=1e-12)
    assert torch.equal(first.image_counts, one_shot.image_counts)

    scores = one_shot.scores()
    all_pairs = np.stack(reference)  # (images, T, K)
    for index in range(3):
        assert math.isclose(scores.mean[index], all_pairs[:, index].mean(), rel_tol=0, abs_tol=1e-12)
        np.testing.assert_allclose(
            scores.per_class[index], all_pairs[:, index].mean(axis=0), rtol=0, atol=1e-12
        )
    assert scores.num_images == len(cases)
    assert scores.class_names[0] == "road" and scores.class_names[18] == "bicycle"
    assert set(scores.as_dict()["F"]) == {str(t) for t in GSCNN_THRESHOLDS}


def test_invalid_inputs_raise() -> None:
    pred, gt = np.zeros((5, 5), np.uint8), np.zeros((5, 5), np.uint8)
    with pytest.raises(ValueError, match="pred"):
        boundary_match_counts(np.full_like(pred, 19), gt, radii=(3,))
    with pytest.raises(ValueError, match="gt"):
        boundary_match_counts(pred, np.full_like(gt, 40), radii=(3,), method="dense")
    with pytest.raises(ValueError, match="shape"):
        boundary_match_counts(pred, gt[:4], radii=(3,))
    with pytest.raises(ValueError, match="method"):
        BoundaryFScore(method="fast")


def present_and_empty_cases() -> tuple[torch.Tensor, torch.Tensor]:
    """5 images, 3 classes, every F in {0, 1} at any radius (a boundary is matched or one map is empty).

    Per class (E = both boundary maps empty, F = 1 by convention; P0/P1 = present with F 0/1):
    class 0: E P1 P0 P1 P0; class 1: E P1 P0 E P0; class 2: E E E P1 E.
    """
    size = 10
    full = np.zeros((size, size), dtype=np.uint8)
    halves = full.copy()
    halves[:, size // 2 :] = 1
    block = full.copy()
    block[3:7, 3:7] = 2
    pred_only = full.copy()
    pred_only[2:5, 5:8] = 1
    preds = [full, halves, full, block, pred_only]  # one class everywhere has no boundary
    gts = [full, halves, halves, block, full]
    return torch.from_numpy(np.stack(preds)), torch.from_numpy(np.stack(gts))


@pytest.mark.parametrize("method", ["sparse", "dense"])
def test_present_pairs_and_empty_share(method: str) -> None:
    preds, gts = present_and_empty_cases()
    thresholds = (0.1, 0.2)  # radii 2 and 3 on 10×10
    metric = BoundaryFScore(thresholds=thresholds, num_classes=3, method=method)
    metric.update(preds, gts)
    assert metric.present_counts.tolist() == [4, 3, 1]
    assert metric.empty_pairs.tolist() == [1, 2, 4]
    assert torch.equal(metric.present_counts + metric.empty_pairs, metric.image_counts)
    scores = metric.scores()
    for index in range(len(thresholds)):
        assert scores.mean[index] == 11 / 15  # GSCNN: 3 + 3 + 5 ones over 15 pairs
        assert scores.per_class[index] == (3 / 5, 3 / 5, 5 / 5)
        assert scores.present_mean[index] == 4 / 8  # 2 + 1 + 1 ones over 4 + 3 + 1 present pairs
        assert scores.present_per_class[index] == (2 / 4, 1 / 3, 1 / 1)
    assert scores.empty_pair_share == (1 / 5, 2 / 5, 4 / 5)
    result = scores.as_dict()
    assert result["F_present"] == {"0.1": 0.5, "0.2": 0.5}
    assert result["per_class_F_present"]["0.2"] == {"road": 0.5, "sidewalk": 1 / 3, "building": 1.0}
    assert result["empty_pairs"] == {"road": 0.2, "sidewalk": 0.4, "building": 0.8}
    assert result["F"] == {"0.1": 11 / 15, "0.2": 11 / 15} and result["num_images"] == 5


def test_present_state_merges_resets_and_adds_up_on_random_maps() -> None:
    cases = [blocky_pair(np.random.default_rng(seed), 17, 23) for seed in range(6)]
    preds = torch.from_numpy(np.stack([pred for pred, _ in cases]))
    gts = torch.from_numpy(np.stack([gt for _, gt in cases]))
    one_shot = BoundaryFScore()
    one_shot.update(preds, gts)
    # F sums over present pairs plus one per empty pair are the protocol's F sums.
    torch.testing.assert_close(
        one_shot.present_f_sums + one_shot.empty_pairs.to(torch.float64), one_shot.f_sums, rtol=0, atol=1e-12
    )
    first, second = BoundaryFScore(), BoundaryFScore(method="dense")
    first.update(preds[:2], gts[:2])
    second.update(preds[2:], gts[2:])
    first.merge(second)
    for name in ("present_counts", "empty_pairs", "image_counts"):
        assert torch.equal(getattr(first, name), getattr(one_shot, name)), name
    for name in ("present_f_sums", "f_sums"):
        torch.testing.assert_close(getattr(first, name), getattr(one_shot, name), rtol=0, atol=1e-12)
    first.reduce_()  # no-op outside torch.distributed
    assert torch.equal(first.empty_pairs, one_shot.empty_pairs)
    first.reset()
    assert all(int(state.abs().sum()) == 0 for state in first._state())
    scores = BoundaryFScore(num_classes=2).scores()  # nothing seen: NaN, JSON null
    assert scores.as_dict()["F_present"] == {str(t): None for t in GSCNN_THRESHOLDS}
    assert scores.as_dict()["empty_pairs"] == {"road": None, "sidewalk": None}
