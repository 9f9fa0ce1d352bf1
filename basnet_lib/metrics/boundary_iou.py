"""Boundary IoU for semantic segmentation (Cheng et al., CVPR 2021), as reducible counts
(docs/method.md §5.4).

For class ``c`` of an image, the inner band of its mask ``M`` is ``B(M) = M ∖ erode(M, d)``: the
pixels of ``M`` within ``d`` steps of a pixel outside it, with the 3×3 structuring element applied
``d`` times and the image's border counting as outside (a mask cut by the border has a boundary
there). Per class, ``|B(G_c) ∩ B(P_c)|`` and ``|B(G_c) ∪ B(P_c)|`` add up over a dataset; pixels
whose ground truth is the ignore label count in neither. Boundary IoU_c is their ratio, and the mean
runs over the classes with a non-empty union (a class absent from both maps has no entry, unlike
GSCNN's F-score, which scores it 1).

All classes take one pass: ``d`` applications of a 3×3 erosion remove a pixel exactly when its
(2d+1)×(2d+1) window holds another label or leaves the image, i.e. when the nearest pixel of another
label is at most ``d`` chessboard steps away: within ``d - 1`` steps of a pixel that has a
differently labelled neighbour. Dilating those pixels gives every class's band in one pass. The literal
per-class erosion is :func:`basnet_lib.metrics.reference.reference_boundary_iou_counts`, the tests'
oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from basnet_lib.data.labels import IGNORE_INDEX, NUM_CLASSES
from basnet_lib.metrics.boundary_fscore import GSCNN_THRESHOLDS, boundary_radius
from basnet_lib.metrics.cityscapes import cityscapes_class_names
from basnet_lib.metrics.confusion import SegmentationScores
from basnet_lib.metrics.label_maps import checked_label_maps
from basnet_lib.metrics.reduction import all_reduce_sum_, as_state_tensor

# The band as a fraction of the image diagonal: the authors' and detectron2's 0.02 (46 px at
# 1024×2048), then GSCNN's three F-score tolerances (3, 5 and 9 px there; docs/method.md §5.2).
BOUNDARY_IOU_BANDS = (0.02, *GSCNN_THRESHOLDS)
# metrics.json's "boundary_IoU_rule": 2 since the tolerance bands take the F-score's radius (ceil);
# rule 1 rounded them (2/4/9 px at 1024×2048), and a run scored by it is evaluated again.
BOUNDARY_IOU_RULE = 2


def band_width(fraction: float, *, height: int, width: int) -> int:
    """The band of ``fraction`` of the image diagonal (in (0, 0.5)) in pixels: at one of the
    F-score's tolerances (``GSCNN_THRESHOLDS``) that tolerance's radius ``ceil(t · diagonal)``, so
    that Boundary IoU and F are measured at the same distance; any other band
    ``max(1, round(fraction · diagonal))``, the authors' rule (docs/method.md §5.4)."""
    if not 0 < fraction < 0.5:
        raise ValueError(f"band fraction {fraction} must be a fraction of the image diagonal in (0, 0.5)")
    if fraction in GSCNN_THRESHOLDS:
        pixels = boundary_radius(fraction, height=height, width=width)
    else:
        pixels = max(1, round(fraction * math.hypot(height, width)))
    check_band_pixels(pixels, height=height, width=width)
    return pixels


def check_band_pixels(pixels: int, *, height: int, width: int) -> None:
    """A band of at least one pixel and below half the image's diagonal (wider, every pixel of
    every mask would be in it)."""
    half_diagonal = math.hypot(height, width) / 2
    if not 1 <= pixels < half_diagonal:
        raise ValueError(
            f"Boundary IoU band of {pixels} px on a {height}x{width} image: expected 1 <= d < half the "
            f"image's diagonal ({half_diagonal:.4g})"
        )


def boundary_iou_counts(
    pred: Tensor, target: Tensor, *, pixels: tuple[int, ...], num_classes: int = NUM_CLASSES,
    ignore_index: int = IGNORE_INDEX,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """``(intersection, union)`` (T, K) int64 of one image's (H, W) label maps, one row per band
    width in ``pixels``."""
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(f"expected two (H, W) label maps, got {tuple(pred.shape)} and {tuple(target.shape)}")
    for width in pixels:
        check_band_pixels(width, height=target.shape[0], width=target.shape[1])
    _check_label_ids(pred, target, num_classes=num_classes, ignore_index=ignore_index)
    if pred.device.type == "cpu" and target.device.type == "cpu" and num_classes <= 31:  # 5-bit codes
        counts = _counts_cpu(pred.numpy(), target.numpy(), pixels, num_classes, ignore_index)
    else:
        counts = [_counts_dense(pred, target, width, num_classes, ignore_index) for width in pixels]
    return torch.stack([pair[0] for pair in counts]), torch.stack([pair[1] for pair in counts])


def label_changes(labels: np.ndarray) -> np.ndarray:
    """uint8 (H, W): 1 where a pixel has a differently labelled 8-neighbour (a 3×3 window minimum or
    maximum that differs from it). The nearest pixel of *another label* is one chessboard step
    beyond the nearest of these, so a pixel is in its label's band of width ``d`` exactly when one
    of them lies within ``d - 1`` steps (or the border within ``d``)."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    square = np.ones((3, 3), np.uint8)
    low = cv2.erode(labels, square, borderType=cv2.BORDER_REPLICATE)
    high = cv2.dilate(labels, square, borderType=cv2.BORDER_REPLICATE)
    return ((low != labels) | (high != labels)).view(np.uint8)


def band_from_changes(changes: np.ndarray, pixels: int) -> np.ndarray:
    """The bool inner band of width ``pixels`` of every label's mask, from :func:`label_changes`:
    their dilation by a (2d-1)×(2d-1) square, one direction at a time, and the border."""
    band = changes
    if pixels > 1:
        for kernel in (np.ones((1, 2 * pixels - 1), np.uint8), np.ones((2 * pixels - 1, 1), np.uint8)):
            band = cv2.dilate(band, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return _with_border_band(band.view(bool).copy(), pixels)


def inner_band_dense(labels: Tensor, pixels: int) -> Tensor:
    """The same band by max pooling, on any device (the path for GPU tensors): a pixel is in it
    when its (2d+1)×(2d+1) window holds two labels or leaves the image."""
    values = labels.to(torch.float32)[None, None]
    padded = F.pad(values, (pixels,) * 4, mode="replicate")
    window_max = F.max_pool2d(padded, 2 * pixels + 1, stride=1)
    window_min = -F.max_pool2d(-padded, 2 * pixels + 1, stride=1)
    return _with_border_band((window_min != window_max)[0, 0], pixels)


def _with_border_band(band, pixels: int):
    """The image's border counts as outside every mask: the ``pixels`` rows and columns along it
    are in the band."""
    band[:pixels], band[-pixels:], band[:, :pixels], band[:, -pixels:] = True, True, True, True
    return band


def _counts_cpu(pred: np.ndarray, target: np.ndarray, pixels: tuple[int, ...], num_classes: int,
                ignore_index: int) -> list[tuple[Tensor, Tensor]]:  # fmt: skip
    """Two histograms of small uint8 codes per band: (target label, in its band, in both bands
    with pred == target) and (pred label, in its band). Where the target is ignored both labels
    become 31, a code never counted. In-place operations: each full-image pass costs ~1 ms."""
    pred, target = np.ascontiguousarray(pred, np.uint8), np.ascontiguousarray(target, np.uint8)
    ignored = (target == ignore_index).view(np.uint8) * np.uint8(31)
    # Labels fit in 5 bits (checked), so OR with 31 turns exactly the ignored pixels into code 31.
    target_code, pred_code = (target & np.uint8(31)) | ignored, pred | ignored
    same = (pred == target).view(np.uint8)
    target_changes, pred_changes = label_changes(target), label_changes(pred)
    counts = []
    for width in pixels:
        target_band = band_from_changes(target_changes, width).view(np.uint8)
        pred_band = band_from_changes(pred_changes, width).view(np.uint8)
        both = target_band & pred_band
        both &= same
        both <<= 6
        target_band <<= 5
        target_band |= target_code
        target_band |= both
        in_target_and_both = _histogram(target_band)
        pred_band <<= 5
        pred_band |= pred_code
        in_pred = _histogram(pred_band)[32 : 32 + num_classes]
        in_target = in_target_and_both[32 : 32 + num_classes] + in_target_and_both[96 : 96 + num_classes]
        intersection = in_target_and_both[96 : 96 + num_classes]
        counts.append((torch.from_numpy(intersection), torch.from_numpy(in_target + in_pred - intersection)))
    return counts


def _histogram(codes: np.ndarray) -> np.ndarray:
    """Counts of the uint8 values 0..127 of a contiguous array. Pairs of neighbouring pixels read as
    one uint16 go through OpenCV's histogram (exact below 2**24 pairs per bin), whose two marginals
    add up to the pixels' counts: half the passes of a histogram of bytes."""
    flat = codes.reshape(-1)
    pairs = flat[: flat.size // 2 * 2].view(np.uint16).reshape(1, -1)
    joint = cv2.calcHist([pairs], [0], None, [65536], [0, 65536]).astype(np.int64).reshape(256, 256)
    counts = joint.sum(0) + joint.sum(1)
    if flat.size % 2:
        counts[flat[-1]] += 1
    return counts[:128]


def _counts_dense(pred: Tensor, target: Tensor, pixels: int, num_classes: int, ignore_index: int) -> tuple[Tensor, Tensor]:
    valid = target != ignore_index
    target_band = inner_band_dense(target, pixels) & valid
    pred_band = inner_band_dense(pred, pixels) & valid
    both = target_band & pred_band & (pred == target)

    def count(labels: Tensor, selected: Tensor) -> Tensor:
        codes = labels.long() * 2 + selected.long()
        return torch.bincount(codes.ravel(), minlength=2 * 256)[1 : 2 * num_classes : 2].cpu()

    intersection = count(target, both)
    return intersection, count(target, target_band) + count(pred, pred_band) - intersection


def _check_label_ids(pred: Tensor, target: Tensor, *, num_classes: int, ignore_index: int) -> None:
    on_cpu = pred.device.type == "cpu" and target.device.type == "cpu"
    if on_cpu and pred.dtype == torch.uint8 and target.dtype == torch.uint8:  # OpenCV's masked max: < 1 ms
        target_values = target.numpy()
        valid = (target_values != ignore_index).view(np.uint8)
        highest_target = cv2.minMaxLoc(target_values, mask=valid)[1] if valid.any() else 0
        bad = int(pred.numpy().max()) >= num_classes or highest_target >= num_classes
    else:
        bad = bool(((pred < 0) | (pred >= num_classes)).any())
        bad = bad or bool(((target < 0) | ((target >= num_classes) & (target != ignore_index))).any())
    if bad:
        raise ValueError(
            f"label ids must be 0..{num_classes - 1} (or {ignore_index} in the target); got pred "
            f"{int(pred.min())}..{int(pred.max())}, target {int(target.min())}..{int(target.max())}"
        )


@dataclass(frozen=True)
class BoundaryIoUScores:
    """Boundary IoU per band and class (NaN where the union is empty) and their means."""

    bands: tuple[float, ...]
    class_names: tuple[str, ...]
    per_class: tuple[tuple[float, ...], ...]
    mean: tuple[float, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``mean`` and ``per_class`` keyed by the band fraction as text, NaN → None."""

        def number(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {
            "bands": list(self.bands),
            "mean": {str(band): number(value) for band, value in zip(self.bands, self.mean, strict=True)},
            "per_class": {
                str(band): {name: number(value) for name, value in zip(self.class_names, row, strict=True)}
                for band, row in zip(self.bands, self.per_class, strict=True)
            },
        }


class BoundaryIoU:
    """Accumulator of Boundary IoU counts: ``intersection`` and ``union`` (T, K) int64 for the band
    fractions ``bands`` (T), adding across images (:meth:`update`), accumulators (:meth:`merge`)
    and DDP processes (:meth:`reduce_`), like the confusion matrix (docs/method.md §5.3)."""

    def __init__(
        self,
        *,
        bands: tuple[float, ...] = BOUNDARY_IOU_BANDS,
        num_classes: int = NUM_CLASSES,
        ignore_index: int = IGNORE_INDEX,
        device: torch.device | str = "cpu",
    ) -> None:
        self.bands, self.num_classes, self.ignore_index = tuple(bands), num_classes, ignore_index
        self.class_names = cityscapes_class_names(num_classes)
        self.intersection = torch.zeros(len(self.bands), num_classes, dtype=torch.int64, device=device)
        self.union = torch.zeros_like(self.intersection)

    @torch.no_grad()
    def update(self, pred: Tensor | np.ndarray, target: Tensor | np.ndarray) -> None:
        """Add images: ``pred`` and ``target`` integer trainId maps, (H, W) or (N, H, W)."""
        pred, target = checked_label_maps(pred, target)
        pred, target = pred.reshape(-1, *pred.shape[-2:]), target.reshape(-1, *target.shape[-2:])
        height, width = target.shape[-2:]
        pixels = tuple(band_width(fraction, height=height, width=width) for fraction in self.bands)
        for image_pred, image_target in zip(pred, target, strict=True):
            intersection, union = boundary_iou_counts(
                image_pred, image_target, pixels=pixels, num_classes=self.num_classes, ignore_index=self.ignore_index
            )
            self.intersection += intersection.to(self.intersection.device)
            self.union += union.to(self.union.device)

    def merge(self, other: BoundaryIoU) -> None:
        if other.bands != self.bands or other.num_classes != self.num_classes:
            raise ValueError(f"cannot merge bands {other.bands} / {other.num_classes} classes into {self.bands}")
        self.intersection += as_state_tensor(other.intersection, like=self.intersection)
        self.union += as_state_tensor(other.union, like=self.union)

    def reduce_(self) -> None:
        """Sum the counts over DDP processes in place (no-op outside ``torch.distributed``)."""
        all_reduce_sum_(self.intersection)
        all_reduce_sum_(self.union)

    def scores(self) -> BoundaryIoUScores:
        ratio = self.intersection.double() / self.union.double()  # 0/0 = NaN: no entry
        mean = [float(row[~row.isnan()].mean()) if bool((~row.isnan()).any()) else math.nan for row in ratio]
        return BoundaryIoUScores(
            bands=self.bands,
            class_names=self.class_names,
            per_class=tuple(tuple(float(value) for value in row) for row in ratio),
            mean=tuple(mean),
        )


def boundary_iou_columns(scores: BoundaryIoUScores, segmentation: SegmentationScores) -> dict[str, object]:
    """An evaluation's Boundary IoU entries: ``boundary_IoU_rule`` (how the bands were measured),
    ``boundary_IoU`` (the mean per band),
    ``per_class_boundary_IoU`` and, as detectron2 reports it, ``per_class_min_IoU_boundary_IoU``:
    min(IoU_c, Boundary IoU_c) at the first (standard) band; None where either is undefined."""
    scored = scores.as_dict()
    standard = scores.per_class[0]
    minimum = {
        name: None if math.isnan(iou) or math.isnan(band) else min(iou, band)
        for name, iou, band in zip(scores.class_names, segmentation.iou, standard, strict=True)
    }
    return {
        "boundary_IoU_rule": BOUNDARY_IOU_RULE,
        "boundary_IoU": scored["mean"],
        "per_class_boundary_IoU": scored["per_class"],
        "per_class_min_IoU_boundary_IoU": minimum,
    }
