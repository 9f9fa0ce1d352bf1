"""mIoU as a confusion-matrix accumulator (docs/method.md §5.1, §5.3): counts first, scores second."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from basnet_lib.data.labels import IGNORE_INDEX, NUM_CLASSES
from basnet_lib.metrics.cityscapes import cityscapes_class_names
from basnet_lib.metrics.label_maps import checked_label_maps
from basnet_lib.metrics.reduction import all_reduce_sum_, as_state_tensor


@dataclass(frozen=True)
class SegmentationScores:
    """IoU per class (NaN where a class never occurs in ground truth or prediction) and their mean."""

    class_names: tuple[str, ...]
    iou: tuple[float, ...]
    mean_iou: float
    num_pixels: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``mIoU``, ``per_class_iou`` (name → IoU or None), ``num_pixels``."""
        return {
            "mIoU": None if math.isnan(self.mean_iou) else self.mean_iou,
            "per_class_iou": {
                name: None if math.isnan(value) else value
                for name, value in zip(self.class_names, self.iou, strict=True)
            },
            "num_pixels": self.num_pixels,
        }


class ConfusionMatrix:
    """Pixel counts ``counts[gt, pred]`` over trainIds ``0..num_classes-1`` (docs/method.md §5.1).

    Pixels whose ground truth is ``ignore_index`` are not counted. A prediction outside
    ``0..num_classes-1`` (anywhere, ignored pixels included) is an error (a model's argmax never produces one; a silently dropped or
    clamped pixel would change the score). ``counts`` is int64 and adds across batches
    (:meth:`update`), accumulators (:meth:`merge`) and DDP processes (:meth:`reduce_`).
    """

    def __init__(
        self,
        *,
        num_classes: int = NUM_CLASSES,
        ignore_index: int = IGNORE_INDEX,
        device: torch.device | str = "cpu",
    ) -> None:
        if 0 <= ignore_index < num_classes:
            raise ValueError(
                f"ignore_index={ignore_index} collides with a class id (num_classes={num_classes})"
            )
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_names = cityscapes_class_names(num_classes)
        self.counts = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def reset(self) -> None:
        self.counts.zero_()

    @torch.no_grad()
    def update(self, pred: Tensor | np.ndarray, target: Tensor | np.ndarray) -> None:
        """Add one batch: ``pred`` and ``target`` integer trainId maps of the same shape (tensors on
        any device, or numpy arrays; see :func:`checked_label_maps`)."""
        pred, target = checked_label_maps(pred, target)
        if pred.device.type == "cpu" and target.device.type == "cpu":
            pair_counts = torch.from_numpy(
                pair_counts_numpy(
                    pred.numpy(), target.numpy(), num_classes=self.num_classes, ignore_index=self.ignore_index
                )
            )
        else:
            pair_counts = pair_counts_torch(
                pred, target, num_classes=self.num_classes, ignore_index=self.ignore_index
            )
        self.counts += pair_counts.to(self.counts.device)

    def merge(self, other: ConfusionMatrix) -> None:
        """Add another accumulator's counts (e.g. from another evaluation shard)."""
        if other.num_classes != self.num_classes:
            raise ValueError(f"cannot merge {other.num_classes} classes into {self.num_classes}")
        self.counts += as_state_tensor(other.counts, like=self.counts)

    def reduce_(self) -> None:
        """Sum ``counts`` over DDP processes in place (no-op outside ``torch.distributed``;
        docs/method.md §8.5)."""
        all_reduce_sum_(self.counts)

    def scores(self) -> SegmentationScores:
        """IoU_c = TP/(TP+FP+FN); mIoU = mean over classes with a non-zero denominator
        (docs/method.md §5.1)."""
        iou = intersection_over_union(self.counts)
        present = ~torch.isnan(iou)
        mean_iou = float(iou[present].mean()) if bool(present.any()) else float("nan")
        return SegmentationScores(
            class_names=self.class_names,
            iou=tuple(float(value) for value in iou),
            mean_iou=mean_iou,
            num_pixels=int(self.counts.sum()),
        )


def intersection_over_union(counts: Tensor) -> Tensor:
    """Per-class IoU (float64, NaN where TP+FP+FN = 0) of a confusion matrix ``counts[gt, pred]``."""
    counts = counts.to(device="cpu", dtype=torch.float64)
    true_positive = counts.diagonal()
    denominator = counts.sum(dim=0) + counts.sum(dim=1) - true_positive
    iou = true_positive / denominator
    return torch.where(denominator > 0, iou, torch.full_like(iou, float("nan")))


# One bincount over gt*K + pred fills the matrix; ignored pixels go to an extra bin that is dropped
# (cheaper than boolean indexing, which copies). int32 indices halve the memory traffic. On the CPU,
# numpy's single-threaded bincount beats torch's parallel elementwise ops (docs/performance.md).


def pair_counts_torch(pred: Tensor, target: Tensor, *, num_classes: int, ignore_index: int) -> Tensor:
    """``counts[gt, pred]`` (K, K) int64 of one batch, on the tensors' device."""
    k = num_classes
    ignored = target == ignore_index
    gt = torch.where(ignored, 0, target)
    if gt.numel():
        _check_range(
            *(int(value) for value in torch.aminmax(gt)), k, what="target", ignore_index=ignore_index
        )
        _check_range(*(int(value) for value in torch.aminmax(pred)), k, what="pred")
    pair_index = torch.where(ignored, k * k, gt.to(torch.int32) * k + pred.to(torch.int32))
    return torch.bincount(pair_index.reshape(-1), minlength=k * k + 1)[: k * k].view(k, k)


def pair_counts_numpy(
    pred: np.ndarray, target: np.ndarray, *, num_classes: int, ignore_index: int
) -> np.ndarray:
    """``counts[gt, pred]`` (K, K) int64 of one batch of numpy arrays (same rules as the torch one)."""
    k = num_classes
    ignored = target == ignore_index
    gt = np.where(ignored, 0, target)
    if gt.size:
        _check_range(int(gt.min()), int(gt.max()), k, what="target", ignore_index=ignore_index)
        _check_range(int(pred.min()), int(pred.max()), k, what="pred")
    pair_index = np.where(ignored, k * k, gt.astype(np.int32) * k + pred.astype(np.int32))
    return np.bincount(pair_index.ravel(), minlength=k * k + 1)[: k * k].reshape(k, k).astype(np.int64)


def _check_range(
    low: int, high: int, num_classes: int, *, what: str, ignore_index: int | None = None
) -> None:
    if low < 0 or high >= num_classes:
        allowed = f"0..{num_classes - 1}" + ("" if ignore_index is None else f" or {ignore_index}")
        raise ValueError(f"{what} has values in [{low}, {high}], expected {allowed}")
