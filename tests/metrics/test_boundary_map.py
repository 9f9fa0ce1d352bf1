"""Boundary probability map vs. the binary edge target: histograms first, P/R, ODS F and AP second."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from basnet_lib.data.edges import edge_target
from basnet_lib.gradient_map import canny_edges
from basnet_lib.metrics import BoundaryMapQuality, constant_map_f


def edge_batch(seed: int, count: int = 3, height: int = 24, width: int = 32) -> torch.Tensor:
    """(N, 1, H, W) float32 edge targets of blocky label maps, as the data pipeline builds them."""
    rng = np.random.default_rng(seed)
    targets = []
    for _ in range(count):
        labels = np.zeros((height, width), dtype=np.uint8)
        for value in rng.integers(1, 19, size=3):
            y, x = int(rng.integers(0, height - 6)), int(rng.integers(0, width - 6))
            labels[y : y + int(rng.integers(3, 10)), x : x + int(rng.integers(3, 12))] = value
        targets.append(edge_target(labels))
    return torch.from_numpy(np.stack(targets))[:, None]


def hand_f(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall)


def brute_force_average_precision(scores: np.ndarray, is_edge: np.ndarray) -> float:
    """sklearn's step-wise AP written out: over distinct scores, high to low, P · ΔR."""
    positives, total, previous_recall = is_edge.sum(), 0.0, 0.0
    for score in np.unique(scores)[::-1]:
        predicted = scores >= score
        recall = (predicted & is_edge).sum() / positives
        total += (predicted & is_edge).sum() / predicted.sum() * (recall - previous_recall)
        previous_recall = recall
    return float(total)


def test_perfect_map() -> None:
    target = edge_batch(0)
    metric = BoundaryMapQuality()
    metric.update(target.clone(), target)
    scores = metric.scores()
    assert scores.ods_f == 1.0 and scores.average_precision == 1.0
    assert scores.ods_threshold == 0.99  # ties go to the highest threshold
    assert scores.precision[-1] == 1.0 and scores.recall[-1] == 1.0
    assert scores.num_pixels == target.numel()
    assert scores.edge_fraction == float(target.sum()) / target.numel()


def test_inverted_map_is_no_better_than_a_constant() -> None:
    target = edge_batch(1)
    metric = BoundaryMapQuality()
    metric.update(1 - target, target)
    scores = metric.scores()
    edge_fraction = float(target.sum()) / target.numel()
    # Only threshold 0 (everything is edge) finds edges; precision there is the edge fraction.
    assert scores.ods_f == constant_map_f(edge_fraction) and scores.ods_threshold == 0.0
    assert scores.average_precision == pytest.approx(edge_fraction, abs=1e-15)
    assert all(value == 0 for value in scores.f_measure[1:])


def test_known_precision_and_recall() -> None:
    # 4 edge pixels at p = .95 .95 .65 .25; 12 non-edge pixels at .75 .35 and ten at .15; 10 bins.
    probabilities = torch.tensor([0.95, 0.95, 0.65, 0.25, 0.75, 0.35] + [0.15] * 10).view(1, 1, 4, 4)
    target = torch.tensor([1.0] * 4 + [0.0] * 12).view(1, 1, 4, 4)
    metric = BoundaryMapQuality(10)
    metric.update(probabilities, target)
    assert metric.edge_counts.tolist() == [0, 0, 1, 0, 0, 0, 1, 0, 0, 2]
    assert metric.non_edge_counts.tolist() == [0, 10, 0, 1, 0, 0, 0, 1, 0, 0]
    scores = metric.scores()
    # Threshold 0.2 keeps all 4 edges and 2 false positives: P = 2/3, R = 1.
    assert scores.ods_threshold == 0.2
    assert scores.precision[2] == 4 / 6 and scores.recall[2] == 1.0
    assert scores.ods_f == pytest.approx(hand_f(2 / 3, 1.0), abs=1e-15)
    assert scores.f_measure[6] == pytest.approx(hand_f(3 / 4, 3 / 4), abs=1e-15)
    assert scores.f_measure[9] == pytest.approx(hand_f(1.0, 1 / 2), abs=1e-15)
    # Recall steps: 1/2 at P = 1 (t = .9), 1/4 at P = 3/4 (t = .6), 1/4 at P = 2/3 (t = .2).
    expected_ap = 1 / 2 * 1 + 1 / 4 * 3 / 4 + 1 / 4 * 2 / 3
    assert scores.average_precision == pytest.approx(expected_ap, abs=1e-15)
    assert scores.precision[0] == 4 / 16 and scores.recall[0] == 1.0


@pytest.mark.parametrize("value", [0.0, 0.004, 0.37, 0.5, 0.99, 1.0])
@pytest.mark.parametrize("num_bins", [1, 7, 100])
def test_constant_map_scores_exactly_the_constant_map_f(value: float, num_bins: int) -> None:
    target = edge_batch(2)
    metric = BoundaryMapQuality(num_bins)
    metric.update(torch.full_like(target, value), target)
    scores = metric.scores()
    assert scores.ods_f == constant_map_f(scores.edge_fraction)
    assert scores.edge_fraction == float(target.sum()) / target.numel()
    assert scores.average_precision == pytest.approx(scores.edge_fraction, abs=1e-15)


def test_constant_map_f_formula() -> None:
    assert constant_map_f(0.0) == 0.0 and constant_map_f(1.0) == 1.0
    assert constant_map_f(0.1) == pytest.approx(0.2 / 1.1, abs=1e-15)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        constant_map_f(1.5)


def test_binary_map_gives_its_single_operating_point() -> None:
    target = torch.zeros(1, 1, 6, 6)
    target[0, 0, :, 2:4] = 1  # 12 edge pixels
    binary = torch.zeros_like(target)
    binary[0, 0, :, 2] = 1  # 6 hits
    binary[0, 0, :2, 5] = 1  # 2 false alarms
    metric = BoundaryMapQuality()
    metric.update(binary, target)
    scores = metric.scores()
    precision, recall = 6 / 8, 6 / 12
    assert scores.ods_f == pytest.approx(hand_f(precision, recall), abs=1e-15)
    assert hand_f(precision, recall) > constant_map_f(12 / 36)
    # Every threshold above 0 cuts between the two occupied bins: the same point.
    assert set(scores.precision[1:]) == {precision} and set(scores.recall[1:]) == {recall}
    assert scores.ods_threshold == 0.99


def test_canny_channel_against_the_edge_target() -> None:
    rng = np.random.default_rng(4)
    labels = np.zeros((48, 64), dtype=np.uint8)
    for value in (3, 7, 11):
        y, x = int(rng.integers(0, 36)), int(rng.integers(0, 50))
        labels[y : y + 12, x : x + 14] = value
    image = np.stack([labels * 20, 255 - labels * 10, labels * 5], axis=-1).astype(np.uint8)
    canny, edges = canny_edges(image), edge_target(labels)
    hits = float((canny * edges).sum())
    by_hand = hand_f(hits / canny.sum(), hits / edges.sum())
    metric = BoundaryMapQuality()
    metric.update(torch.from_numpy(canny)[None, None], torch.from_numpy(edges)[None, None])
    scores = metric.scores()
    assert all(value == pytest.approx(by_hand, abs=1e-12) for value in scores.f_measure[1:])
    assert 0 < by_hand < 1
    # ODS also sees threshold 0 (everything is edge), so it is the better of the two points.
    assert scores.ods_f == pytest.approx(max(by_hand, constant_map_f(float(edges.mean()))), abs=1e-12)


def test_average_precision_equals_the_step_formula_on_random_maps() -> None:
    target = edge_batch(5)
    probabilities = (0.6 * target + 0.5 * torch.rand(target.shape)).clamp(0, 1)
    metric = BoundaryMapQuality(20)
    metric.update(probabilities, target)
    bins = np.minimum(np.floor(probabilities.numpy() * 20), 19).ravel()
    expected = brute_force_average_precision(bins, target.numpy().ravel() == 1)
    assert metric.scores().average_precision == pytest.approx(expected, abs=1e-12)


def test_batches_merge_and_shapes_add_up() -> None:
    target = edge_batch(6, count=5)
    probabilities = torch.rand(target.shape)
    one_shot = BoundaryMapQuality()
    one_shot.update(probabilities, target)
    first, second = BoundaryMapQuality(), BoundaryMapQuality()
    first.update(probabilities[:2], target[:2])
    second.update(probabilities[2:, 0], target[2:, 0])  # (N, H, W) works too
    first.merge(second)
    assert torch.equal(first.edge_counts, one_shot.edge_counts)
    assert torch.equal(first.non_edge_counts, one_shot.non_edge_counts)
    assert first.scores().as_dict() == one_shot.scores().as_dict()
    first.reduce_()  # no-op outside torch.distributed
    assert torch.equal(first.edge_counts, one_shot.edge_counts)
    first.reset()
    assert int(first.edge_counts.sum() + first.non_edge_counts.sum()) == 0


def test_valid_mask_drops_pixels() -> None:
    target = edge_batch(7, count=2)
    probabilities = torch.rand(target.shape)
    valid = torch.zeros_like(target, dtype=torch.bool)
    valid[..., :10] = True
    masked, cropped = BoundaryMapQuality(), BoundaryMapQuality()
    masked.update(probabilities, target, valid[:, 0])
    cropped.update(probabilities[..., :10], target[..., :10])
    assert torch.equal(masked.edge_counts, cropped.edge_counts)
    assert torch.equal(masked.non_edge_counts, cropped.non_edge_counts)


def test_bin_edges() -> None:
    metric = BoundaryMapQuality(10)
    probabilities = torch.tensor([0.0, 0.3, 0.0999, 0.1, 1.0]).view(1, 1, 1, 5)
    metric.update(probabilities, torch.zeros_like(probabilities))
    assert metric.non_edge_counts.tolist() == [2, 1, 0, 1, 0, 0, 0, 0, 0, 1]


def test_empty_and_edgeless_scores_are_json_ready() -> None:
    empty = BoundaryMapQuality().scores()
    assert empty.num_pixels == 0 and math.isnan(empty.ods_f) and math.isnan(empty.edge_fraction)
    metric = BoundaryMapQuality()
    metric.update(torch.rand(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))
    scores = metric.scores()
    assert math.isnan(scores.ods_f) and math.isnan(scores.average_precision) and scores.edge_fraction == 0
    for result in (empty.as_dict(), scores.as_dict()):
        json.dumps(result, allow_nan=False)
    metric.update(torch.rand(1, 1, 4, 4), torch.ones(1, 1, 4, 4))
    result = metric.scores().as_dict()
    assert set(result) == {
        "ODS_F",
        "ODS_threshold",
        "AP",
        "edge_fraction",
        "constant_map_F",
        "num_pixels",
        "thresholds",
        "precision",
        "recall",
    }
    assert result["constant_map_F"] == constant_map_f(0.5) and result["num_pixels"] == 32
    assert len(result["precision"]) == len(result["thresholds"]) == 100


def test_invalid_inputs_raise() -> None:
    metric = BoundaryMapQuality()
    target = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="differ"):
        metric.update(torch.zeros(2, 1, 4, 5), target)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\) or \(N, H, W\)"):
        metric.update(torch.zeros(2, 3, 4, 4), target)
    with pytest.raises(ValueError, match="finite"):
        metric.update(torch.full_like(target, float("nan")), target)
    with pytest.raises(ValueError, match=r"expected \[0, 1\]"):
        metric.update(torch.full_like(target, 1.5), target)
    with pytest.raises(ValueError, match="sigmoid"):
        metric.update(torch.full_like(target, -0.1), target)
    with pytest.raises(ValueError, match=r"\{0, 1\}"):
        metric.update(torch.zeros_like(target), torch.full_like(target, 0.5))
    with pytest.raises(ValueError, match=r"\{0, 1\}"):
        metric.update(torch.zeros_like(target), torch.full_like(target, 255))
    with pytest.raises(ValueError, match="boolean"):
        metric.update(torch.zeros_like(target), target, torch.ones_like(target))
    with pytest.raises(ValueError, match="merge"):
        metric.merge(BoundaryMapQuality(10))
    with pytest.raises(ValueError, match="num_bins"):
        BoundaryMapQuality(0)
    assert int(metric.edge_counts.sum() + metric.non_edge_counts.sum()) == 0  # nothing was added


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_counts_equal_cpu_counts() -> None:
    target = edge_batch(8)
    probabilities = torch.rand(target.shape)
    on_cpu, on_gpu = BoundaryMapQuality(), BoundaryMapQuality(device="cuda")
    on_cpu.update(probabilities, target)
    on_gpu.update(probabilities.cuda(), target.cuda())
    assert torch.equal(on_gpu.edge_counts.cpu(), on_cpu.edge_counts)
    assert torch.equal(on_gpu.non_edge_counts.cpu(), on_cpu.non_edge_counts)
    assert on_gpu.scores().as_dict() == on_cpu.scores().as_dict()
