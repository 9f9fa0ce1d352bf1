"""docs/method.md §5.1, §5.3: the confusion-matrix mIoU equals cityscapesscripts' evaluation and adds up."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import labels as cityscapes_labels
from PIL import Image

from basnet_lib.metrics import (
    ConfusionMatrix,
    cityscapes_class_names,
    evaluate_with_cityscapesscripts,
    intersection_over_union,
    train_ids_to_label_ids,
)
from basnet_lib.metrics.confusion import pair_counts_numpy, pair_counts_torch

K = 19
IGNORED_LABEL_IDS = np.array(
    [label.id for label in cityscapes_labels if label.ignoreInEval and label.id >= 0]
)


def label_pair(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(pred, gt) trainIds: blocky gt with 255 regions; pred right on ~70% of pixels.

    Classes 17 and 18 never occur (their IoU is undefined); class 16 occurs only in pred.
    """
    gt = rng.integers(0, 16, size=(height // 8, width // 8)).repeat(8, axis=0).repeat(8, axis=1)
    gt[rng.random(gt.shape) < 0.1] = 255
    pred = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, 17, size=gt.shape))
    pred[pred == 255] = 3
    return pred.astype(np.uint8), gt.astype(np.uint8)


def write_cityscapes_pngs(folder: Path, pairs, rng: np.random.Generator) -> tuple[list[Path], list[Path]]:
    """labelId PNGs named like Cityscapes; ignored gt pixels get assorted ignored labelIds."""
    (folder / "gt").mkdir()
    (folder / "pred").mkdir()
    prediction_files, ground_truth_files = [], []
    for index, (pred, gt) in enumerate(pairs):
        stem = f"synth_{index:06d}_000019"
        gt_label_ids = train_ids_to_label_ids(gt)
        void = gt == 255
        gt_label_ids[void] = rng.choice(IGNORED_LABEL_IDS, size=int(void.sum()))
        ground_truth_files.append(folder / "gt" / f"{stem}_gtFine_labelIds.png")
        prediction_files.append(folder / "pred" / f"{stem}_leftImg8bit.png")
        Image.fromarray(gt_label_ids).save(ground_truth_files[-1])
        Image.fromarray(train_ids_to_label_ids(pred)).save(prediction_files[-1])
    return prediction_files, ground_truth_files


def test_miou_equals_cityscapesscripts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pairs = [label_pair(rng, 64, 128) for _ in range(4)]
    prediction_files, ground_truth_files = write_cityscapes_pngs(tmp_path, pairs, rng)
    official = evaluate_with_cityscapesscripts(
        prediction_files=prediction_files, ground_truth_files=ground_truth_files
    )

    confusion = ConfusionMatrix()
    for pred, gt in pairs:
        confusion.update(torch.from_numpy(pred)[None], torch.from_numpy(gt)[None])
    scores = confusion.scores()

    for name, iou in zip(scores.class_names, scores.iou, strict=True):
        expected = official["classScores"][name]
        if math.isnan(expected):
            assert math.isnan(iou), name
        else:
            assert math.isclose(iou, expected, rel_tol=0, abs_tol=1e-9), name
    assert math.isnan(scores.iou[17]) and math.isnan(scores.iou[18])
    assert scores.iou[16] == 0.0  # predicted, never in gt: IoU 0, counted in the mean
    assert math.isclose(scores.mean_iou, official["averageScoreClasses"], rel_tol=0, abs_tol=1e-9)
    assert scores.num_pixels == sum(int((gt != 255).sum()) for _, gt in pairs)


def test_iou_by_hand() -> None:
    pred = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 0]])
    gt = torch.tensor([[0, 1, 1, 255], [2, 2, 255, 255]])
    confusion = ConfusionMatrix(num_classes=3)
    confusion.update(pred, gt)
    assert confusion.counts.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 2]]
    iou = intersection_over_union(confusion.counts)
    # class 0: TP 1, FP 1, FN 0; class 1: TP 1, FN 1; class 2: TP 2
    assert iou.tolist() == [0.5, 0.5, 1.0]
    assert confusion.scores().mean_iou == pytest.approx(2 / 3, abs=1e-15)


def test_counts_add_across_batches_and_merges() -> None:
    rng = np.random.default_rng(1)
    pairs = [label_pair(rng, 32, 48) for _ in range(6)]
    preds = torch.from_numpy(np.stack([pred for pred, _ in pairs]))
    gts = torch.from_numpy(np.stack([gt for _, gt in pairs]))
    one_shot = ConfusionMatrix()
    one_shot.update(preds, gts)
    batched, other = ConfusionMatrix(), ConfusionMatrix()
    batched.update(preds[:2], gts[:2])
    other.update(preds[2:], gts[2:])
    batched.merge(other)
    assert torch.equal(batched.counts, one_shot.counts)
    assert one_shot.counts.dtype == torch.int64
    batched.reset()
    assert int(batched.counts.sum()) == 0


def test_torch_and_numpy_pair_counts_agree() -> None:
    rng = np.random.default_rng(2)
    pred, gt = label_pair(rng, 40, 56)
    expected = pair_counts_numpy(pred, gt, num_classes=K, ignore_index=255)
    actual = pair_counts_torch(torch.from_numpy(pred), torch.from_numpy(gt), num_classes=K, ignore_index=255)
    assert torch.equal(actual, torch.from_numpy(expected))
    assert expected.sum() == (gt != 255).sum()
    with pytest.raises(ValueError, match="pred"):
        pair_counts_torch(torch.full((2, 2), 19), torch.zeros(2, 2), num_classes=K, ignore_index=255)
    with pytest.raises(ValueError, match="target"):
        pair_counts_torch(torch.zeros(2, 2), torch.full((2, 2), -1), num_classes=K, ignore_index=255)


def test_class_names_follow_train_ids() -> None:
    names = cityscapes_class_names()
    assert len(names) == K and names[0] == "road" and names[11] == "person" and names[18] == "bicycle"


def test_invalid_values_raise() -> None:
    confusion = ConfusionMatrix()
    with pytest.raises(ValueError, match="pred"):
        confusion.update(torch.tensor([[19]]), torch.tensor([[0]]))
    with pytest.raises(ValueError, match="target"):
        confusion.update(torch.tensor([[0]]), torch.tensor([[30]]))
    with pytest.raises(TypeError):
        confusion.update(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="ignore_index"):
        ConfusionMatrix(ignore_index=3)
