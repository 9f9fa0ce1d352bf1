"""GSCNN's boundary F-score, count-exact and fast (SPEC E2, E3).

For each image and class ``c``: boundary maps of ``pred==c`` and ``gt==c`` (both zeroed where gt is
ignored), precision ``P = |B_pred ∩ dilate(B_gt, disk r)| / |B_pred|``, recall likewise,
``F = 2PR/(P+R)``; both maps empty → F = 1, one empty → F = 0. The radius is
``r = ceil(t · sqrt(H² + W²))`` for the thresholds ``t`` (3, 5, 9 px at 1024×2048). The score is
the mean of F over all (image, class) pairs; per class too.

The counts come from one of two exact algorithms, which give the same integers as the literal
dilation (:mod:`basnet_lib.metrics.reference`, checked in the tests):

- ``"sparse"`` (CPU, numpy; :mod:`~basnet_lib.metrics.boundary_sparse`): nearest same-class
  boundary pixel by sorted keys, cost proportional to the number of boundary pixels;
- ``"dense"`` (any torch device; :mod:`~basnet_lib.metrics.boundary_dense`): capped separable
  distance transform of each present class, for GPU tensors.

``"auto"`` picks ``"dense"`` for CUDA tensors and ``"sparse"`` otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from basnet_lib.data.labels import IGNORE_INDEX, NUM_CLASSES
from basnet_lib.distributed import all_reduce_sum_
from basnet_lib.metrics.boundary_dense import dense_boundary_match_counts
from basnet_lib.metrics.boundary_sparse import sparse_boundary_match_counts
from basnet_lib.metrics.cityscapes import cityscapes_class_names
from basnet_lib.metrics.reduction import as_state_tensor

# SPEC E2: GSCNN's thresholds as fractions of the image diagonal (3, 5, 9 px at 1024×2048).
GSCNN_THRESHOLDS = (0.00088, 0.001875, 0.00375)
METHODS = ("auto", "sparse", "dense")


def boundary_radius(threshold: float, *, height: int, width: int) -> int:
    """``ceil(threshold · sqrt(H² + W²))`` pixels (SPEC E2), ``threshold`` a fraction of the diagonal."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold={threshold} must be a fraction of the image diagonal in (0, 1)")
    return math.ceil(threshold * math.sqrt(height * height + width * width))


def boundary_radii(thresholds: tuple[float, ...], *, height: int, width: int) -> tuple[int, ...]:
    return tuple(boundary_radius(t, height=height, width=width) for t in thresholds)


@dataclass(frozen=True)
class BoundaryCounts:
    """Integer counts of one image (SPEC E2), int64 tensors on one device.

    ``pred_boundary``/``gt_boundary`` (K,): boundary pixels of each class mask;
    ``pred_matched`` (T, K): ``|B_pred ∩ dilate(B_gt, disk r_t)|``; ``gt_matched`` (T, K):
    ``|B_gt ∩ dilate(B_pred, disk r_t)|``.
    """

    pred_boundary: Tensor
    gt_boundary: Tensor
    pred_matched: Tensor
    gt_matched: Tensor


def boundary_match_counts(
    pred: Tensor | np.ndarray,
    gt: Tensor | np.ndarray,
    *,
    radii: tuple[int, ...],
    num_classes: int = NUM_CLASSES,
    ignore_index: int = IGNORE_INDEX,
    method: str = "auto",
) -> BoundaryCounts:
    """Exact counts of one image: ``pred``, ``gt`` (H, W) trainId maps, explicit radii in pixels."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {METHODS}")
    if not radii or min(radii) < 0:
        raise ValueError(f"radii must be non-negative pixel counts, got {radii}")
    pred_tensor, gt_tensor = torch.as_tensor(pred), torch.as_tensor(gt)
    if method == "auto":
        method = "dense" if gt_tensor.is_cuda else "sparse"
    if method == "dense":
        counts = dense_boundary_match_counts(
            pred_tensor, gt_tensor, radii=radii, num_classes=num_classes, ignore_index=ignore_index
        )
        return BoundaryCounts(*counts)
    counts = sparse_boundary_match_counts(
        pred_tensor.cpu().numpy(),
        gt_tensor.cpu().numpy(),
        radii=radii,
        num_classes=num_classes,
        ignore_index=ignore_index,
    )
    return BoundaryCounts(*(torch.from_numpy(values).to(gt_tensor.device) for values in counts))


def boundary_f_measure(counts: BoundaryCounts) -> Tensor:
    """F (T, K) float64 from counts, with GSCNN's empty-map rules (SPEC E2).

    The arithmetic is the reference's, in the same order (``P = m/n``, ``2·P·R/(P+R)`` in float64),
    so equal counts give bit-identical F.
    """
    pred_total = counts.pred_boundary.to(torch.float64)
    gt_total = counts.gt_boundary.to(torch.float64)
    precision = counts.pred_matched.to(torch.float64) / pred_total
    recall = counts.gt_matched.to(torch.float64) / gt_total
    f_measure = 2 * precision * recall / (precision + recall)
    f_measure = torch.where(precision + recall > 0, f_measure, torch.zeros_like(f_measure))
    pred_empty, gt_empty = pred_total == 0, gt_total == 0
    f_measure = torch.where(pred_empty ^ gt_empty, torch.zeros_like(f_measure), f_measure)
    return torch.where(pred_empty & gt_empty, torch.ones_like(f_measure), f_measure)


def boundary_fscores(
    pred: Tensor | np.ndarray,
    gt: Tensor | np.ndarray,
    *,
    radii: tuple[int, ...],
    num_classes: int = NUM_CLASSES,
    ignore_index: int = IGNORE_INDEX,
    method: str = "auto",
) -> Tensor:
    """F (T, K) float64 of one image (H, W) for explicit radii in pixels."""
    counts = boundary_match_counts(
        pred, gt, radii=radii, num_classes=num_classes, ignore_index=ignore_index, method=method
    )
    return boundary_f_measure(counts)


@dataclass(frozen=True)
class BoundaryFScores:
    """Boundary F per threshold: mean over (image, class) pairs and per class (SPEC E2)."""

    thresholds: tuple[float, ...]
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    per_class: tuple[tuple[float, ...], ...]
    num_images: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready; keys of ``F`` and ``per_class_F`` are the thresholds as strings, NaN → None."""
        return {
            "thresholds": list(self.thresholds),
            "F": {str(t): _json_number(value) for t, value in zip(self.thresholds, self.mean, strict=True)},
            "per_class_F": {
                str(t): {
                    name: _json_number(value) for name, value in zip(self.class_names, values, strict=True)
                }
                for t, values in zip(self.thresholds, self.per_class, strict=True)
            },
            "num_images": self.num_images,
        }


class BoundaryFScore:
    """Accumulator of GSCNN boundary F-scores: per-threshold per-class F sums and image counts.

    ``f_sums`` (T, K) float64 and ``image_counts`` (K,) int64 add across batches (:meth:`update`),
    accumulators (:meth:`merge`) and DDP processes (:meth:`reduce_`) (SPEC E3). Every image counts
    for every class, as in GSCNN (a class absent from both maps scores F = 1).
    """

    def __init__(
        self,
        *,
        thresholds: tuple[float, ...] = GSCNN_THRESHOLDS,
        num_classes: int = NUM_CLASSES,
        ignore_index: int = IGNORE_INDEX,
        method: str = "auto",
        device: torch.device | str = "cpu",
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method={method!r} is not one of {METHODS}")
        self.thresholds = tuple(thresholds)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.method = method
        self.class_names = cityscapes_class_names(num_classes)
        self.f_sums = torch.zeros(len(self.thresholds), num_classes, dtype=torch.float64, device=device)
        self.image_counts = torch.zeros(num_classes, dtype=torch.int64, device=device)

    def reset(self) -> None:
        self.f_sums.zero_()
        self.image_counts.zero_()

    @torch.no_grad()
    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add a batch of (N, H, W) trainId maps; radii follow each batch's image size."""
        if pred.shape != target.shape or pred.ndim != 3:
            raise ValueError(
                f"expected pred and target (N, H, W) of one shape, got {tuple(pred.shape)} "
                f"and {tuple(target.shape)}"
            )
        radii = boundary_radii(self.thresholds, height=target.shape[1], width=target.shape[2])
        for image_pred, image_target in zip(pred, target, strict=True):
            f_measure = boundary_fscores(
                image_pred,
                image_target,
                radii=radii,
                num_classes=self.num_classes,
                ignore_index=self.ignore_index,
                method=self.method,
            )
            self.f_sums += f_measure.to(self.f_sums.device)
            self.image_counts += 1

    def merge(self, other: BoundaryFScore) -> None:
        """Add another accumulator's sums and counts (same thresholds and classes)."""
        if other.thresholds != self.thresholds or other.num_classes != self.num_classes:
            raise ValueError("cannot merge boundary F-scores with different thresholds or classes")
        self.f_sums += as_state_tensor(other.f_sums, like=self.f_sums)
        self.image_counts += as_state_tensor(other.image_counts, like=self.image_counts)

    def reduce_(self) -> None:
        """Sum state over DDP processes in place (no-op outside ``torch.distributed``, SPEC H5)."""
        all_reduce_sum_(self.f_sums)
        all_reduce_sum_(self.image_counts)

    def scores(self) -> BoundaryFScores:
        """Per class ``f_sums / image_counts``; mean = all F sums / all (image, class) pairs."""
        f_sums = self.f_sums.cpu()
        counts = self.image_counts.cpu().to(torch.float64)
        nan = float("nan")
        per_class = torch.where(counts > 0, f_sums / counts, torch.full_like(f_sums, nan))
        pairs = float(counts.sum())
        mean = f_sums.sum(dim=1) / pairs if pairs > 0 else torch.full((len(self.thresholds),), nan)
        return BoundaryFScores(
            thresholds=self.thresholds,
            class_names=self.class_names,
            mean=tuple(float(value) for value in mean),
            per_class=tuple(tuple(float(value) for value in row) for row in per_class),
            num_images=int(self.image_counts.max()) if self.num_classes else 0,
        )


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value
