"""GSCNN's boundary F-score, count-exact and fast (docs/method.md §5.2, §5.3).

For each image and class ``c``: boundary maps of ``pred==c`` and ``gt==c`` (both zeroed where gt is
ignored), ``P = |B_pred ∩ dilate(B_gt, disk r)| / |B_pred|``, recall likewise, ``F = 2PR/(P+R)``;
both maps empty → F = 1, one empty → F = 0; ``r = ceil(t · sqrt(H² + W²))`` for the thresholds
``t``. The score is the mean of F over all (image, class) pairs, and per class. Since a pair with
both maps empty scores 1, the accumulator also keeps F over the "present" pairs and the share of
empty ones, to read the protocol's score with (its own numbers are unchanged).

The counts come from one of two exact algorithms that give the literal dilation's integers
(:mod:`basnet_lib.metrics.reference`, tested): ``"sparse"`` (CPU, numpy, cost proportional to the
boundary pixels; :mod:`~basnet_lib.metrics.boundary_sparse`) and ``"dense"`` (any torch device, a
capped distance transform per present class; :mod:`~basnet_lib.metrics.boundary_dense`). ``"auto"``
picks ``"dense"`` for CUDA tensors and ``"sparse"`` otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from basnet_lib.data.labels import IGNORE_INDEX, NUM_CLASSES
from basnet_lib.metrics.boundary_dense import dense_boundary_match_counts
from basnet_lib.metrics.boundary_sparse import sparse_boundary_match_counts
from basnet_lib.metrics.cityscapes import cityscapes_class_names
from basnet_lib.metrics.label_maps import checked_label_maps
from basnet_lib.metrics.reduction import all_reduce_sum_, as_state_tensor

# docs/method.md §5.2: GSCNN's thresholds as fractions of the image diagonal (3, 5, 9 px at 1024×2048).
GSCNN_THRESHOLDS = (0.00088, 0.001875, 0.00375)
METHODS = ("auto", "sparse", "dense")


def boundary_radius(threshold: float, *, height: int, width: int) -> int:
    """``ceil(threshold · sqrt(H² + W²))`` pixels, ``threshold`` a fraction of the diagonal
    (docs/method.md §5.2)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold={threshold} must be a fraction of the image diagonal in (0, 1)")
    return math.ceil(threshold * math.sqrt(height * height + width * width))


def boundary_radii(thresholds: tuple[float, ...], *, height: int, width: int) -> tuple[int, ...]:
    return tuple(boundary_radius(t, height=height, width=width) for t in thresholds)


@dataclass(frozen=True)
class BoundaryCounts:
    """Integer counts of one image (docs/method.md §5.2), int64 tensors on one device.

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
    """F (T, K) float64 from counts, with GSCNN's empty-map rules (docs/method.md §5.2).

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
    """Boundary F per threshold: mean over (image, class) pairs and per class (docs/method.md §5.2).

    ``present_mean``/``present_per_class``: the same over the pairs where at least one of the two
    boundary maps is non-empty (NaN where there is none); ``empty_pair_share`` per class: the
    fraction of images where both maps are empty, i.e. where the protocol gives F = 1.
    """

    thresholds: tuple[float, ...]
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    per_class: tuple[tuple[float, ...], ...]
    num_images: int
    present_mean: tuple[float, ...]
    present_per_class: tuple[tuple[float, ...], ...]
    empty_pair_share: tuple[float, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready; keys of ``F*`` and ``per_class_F*`` are the thresholds as strings, NaN → None.

        ``empty_pairs`` maps class names to the fraction of images where both maps are empty.
        """
        return {
            "thresholds": list(self.thresholds),
            "F": self._per_threshold(self.mean),
            "per_class_F": self._per_threshold_and_class(self.per_class),
            "num_images": self.num_images,
            "F_present": self._per_threshold(self.present_mean),
            "per_class_F_present": self._per_threshold_and_class(self.present_per_class),
            "empty_pairs": self._per_class(self.empty_pair_share),
        }

    def _per_threshold(self, values: tuple[float, ...]) -> dict[str, float | None]:
        return {str(t): _json_number(value) for t, value in zip(self.thresholds, values, strict=True)}

    def _per_class(self, values: tuple[float, ...]) -> dict[str, float | None]:
        return {name: _json_number(value) for name, value in zip(self.class_names, values, strict=True)}

    def _per_threshold_and_class(
        self, rows: tuple[tuple[float, ...], ...]
    ) -> dict[str, dict[str, float | None]]:
        return {str(t): self._per_class(values) for t, values in zip(self.thresholds, rows, strict=True)}


class BoundaryFScore:
    """Accumulator of GSCNN boundary F-scores: per-threshold per-class F sums and image counts.

    ``f_sums`` (T, K) float64 and ``image_counts`` (K,) int64 add across batches (:meth:`update`),
    accumulators (:meth:`merge`) and DDP processes (:meth:`reduce_`) (docs/method.md §5.3). Every
    image counts for every class, as in GSCNN (a class absent from both maps scores F = 1).

    Beside them, for reading that convention: ``present_f_sums`` (T, K) float64 and
    ``present_counts`` (K,) int64 over the pairs where at least one boundary map is non-empty,
    and ``empty_pairs`` (K,) int64, the images where both are empty (presence does not depend on
    the threshold, so the counts are per class; ``present_counts + empty_pairs == image_counts``).
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
        self.present_f_sums = torch.zeros_like(self.f_sums)
        self.present_counts = torch.zeros_like(self.image_counts)
        self.empty_pairs = torch.zeros_like(self.image_counts)

    def _state(self) -> tuple[Tensor, ...]:
        """Every summed state tensor, in one fixed order (DDP reduces them in this order)."""
        return (self.f_sums, self.image_counts, self.present_f_sums, self.present_counts, self.empty_pairs)

    def reset(self) -> None:
        for state in self._state():
            state.zero_()

    @torch.no_grad()
    def update(self, pred: Tensor | np.ndarray, target: Tensor | np.ndarray) -> None:
        """Add a batch of (N, H, W) integer trainId maps (tensors or numpy arrays, checked as
        :class:`ConfusionMatrix` checks them); radii follow each batch's image size."""
        pred, target = checked_label_maps(pred, target)
        if pred.ndim != 3:
            raise ValueError(
                f"expected pred and target (N, H, W) of one shape, got {tuple(pred.shape)} "
                f"and {tuple(target.shape)}"
            )
        radii = boundary_radii(self.thresholds, height=target.shape[1], width=target.shape[2])
        for image_pred, image_target in zip(pred, target, strict=True):
            counts = boundary_match_counts(
                image_pred,
                image_target,
                radii=radii,
                num_classes=self.num_classes,
                ignore_index=self.ignore_index,
                method=self.method,
            )
            self._add_image(counts)

    def _add_image(self, counts: BoundaryCounts) -> None:
        f_measure = boundary_f_measure(counts).to(self.f_sums.device)
        present = ((counts.pred_boundary > 0) | (counts.gt_boundary > 0)).to(self.f_sums.device)
        self.f_sums += f_measure
        self.image_counts += 1
        self.present_f_sums += torch.where(present, f_measure, torch.zeros_like(f_measure))
        self.present_counts += present
        self.empty_pairs += ~present

    def merge(self, other: BoundaryFScore) -> None:
        """Add another accumulator's sums and counts (same thresholds and classes)."""
        if other.thresholds != self.thresholds or other.num_classes != self.num_classes:
            raise ValueError("cannot merge boundary F-scores with different thresholds or classes")
        for state, other_state in zip(self._state(), other._state(), strict=True):
            state += as_state_tensor(other_state, like=state)

    def reduce_(self) -> None:
        """Sum state over DDP processes in place (no-op outside ``torch.distributed``;
        docs/method.md §8.5)."""
        for state in self._state():
            all_reduce_sum_(state)

    def scores(self) -> BoundaryFScores:
        """Per class ``f_sums / image_counts``; mean = all F sums / all (image, class) pairs.

        The present-pair scores divide ``present_f_sums`` by ``present_counts`` the same way.
        """
        mean, per_class = _pooled_and_per_class(self.f_sums, self.image_counts)
        present_mean, present_per_class = _pooled_and_per_class(self.present_f_sums, self.present_counts)
        images = self.image_counts.cpu().to(torch.float64)
        empty = self.empty_pairs.cpu().to(torch.float64)
        empty_share = torch.where(images > 0, empty / images, torch.full_like(images, float("nan")))
        return BoundaryFScores(
            thresholds=self.thresholds,
            class_names=self.class_names,
            mean=_floats(mean),
            per_class=tuple(_floats(row) for row in per_class),
            num_images=int(self.image_counts.max()) if self.num_classes else 0,
            present_mean=_floats(present_mean),
            present_per_class=tuple(_floats(row) for row in present_per_class),
            empty_pair_share=_floats(empty_share),
        )


def _pooled_and_per_class(f_sums: Tensor, pair_counts: Tensor) -> tuple[Tensor, Tensor]:
    """Mean F per threshold over all counted pairs (T,) and per class (T, K); NaN where none."""
    f_sums = f_sums.cpu()
    counts = pair_counts.cpu().to(torch.float64)
    nan = float("nan")
    per_class = torch.where(counts > 0, f_sums / counts, torch.full_like(f_sums, nan))
    pairs = float(counts.sum())
    mean = f_sums.sum(dim=1) / pairs if pairs > 0 else torch.full((f_sums.shape[0],), nan)
    return mean, per_class


def _floats(values: Tensor) -> tuple[float, ...]:
    return tuple(float(value) for value in values)


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value
