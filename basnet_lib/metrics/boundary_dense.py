"""Exact boundary matching with dense torch ops, for GPU tensors (docs/method.md §5.2).

For each class present in either map, the boundary maps are built as boolean images, and the
squared Euclidean distance to the nearest boundary pixel is computed exactly up to ``R²`` by the
separable method (``R`` the largest radius):

    h(y, x)  = min |dx| <= R with B(y, x + dx)          (row pass, 2R shifted minima)
    d²(y, x) = min over |dy| <= R of dy² + h(y + dy, x)²  (column pass, 2R shifted minima)

Every boundary pixel within distance ``R`` has ``|dx|, |dy| <= R``, so ``d² <= r²`` is exactly
membership of ``dilate(B, disk r)`` for every ``r <= R``; one pass serves all thresholds. All
arithmetic is on int32, so the counts equal the literal dilation's on any device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

# Classes processed together: bounds memory at (chunk × H × W) int32 temporaries.
_CLASS_CHUNK = 4


def boundary_maps(masks: Tensor) -> Tensor:
    """Boundary maps (..., H, W) bool of masks (..., H, W) bool (docs/method.md §5.2).

    A pixel is on the boundary when its mask value differs from its east, south or south-east
    neighbour; neighbours outside the image count as equal.
    """
    boundary = torch.zeros_like(masks)
    boundary[..., :, :-1] |= masks[..., :, :-1] != masks[..., :, 1:]
    boundary[..., :-1, :] |= masks[..., :-1, :] != masks[..., 1:, :]
    boundary[..., :-1, :-1] |= masks[..., :-1, :-1] != masks[..., 1:, 1:]
    return boundary


def segmentation_boundary(labels: np.ndarray) -> np.ndarray:
    """0/1 float32 boundary (…, H, W) of label maps: :func:`boundary_maps` over all classes at once
    (a pixel differs from its east, south or south-east neighbour)."""
    # A copy: a read-only array (e.g. from a PNG decoder) cannot back a tensor.
    return boundary_maps(torch.from_numpy(np.array(labels))).numpy().astype(np.float32)


def capped_squared_distance(boundary: Tensor, *, max_radius: int) -> Tensor:
    """Squared distance (..., H, W) int32 to the nearest ``True`` pixel of ``boundary`` (..., H, W),
    exact where it is at most ``max_radius²`` and larger than that elsewhere."""
    radius = max_radius
    beyond = radius * radius + 1
    # Row pass: horizontal distance to the nearest boundary pixel in the same row, or radius + 1.
    on_boundary = torch.where(boundary, 0, radius + 1).to(torch.int32)
    horizontal = on_boundary.clone()
    width = boundary.shape[-1]
    for dx in range(1, min(radius, width - 1) + 1):
        torch.minimum(horizontal[..., :-dx], on_boundary[..., dx:] + dx, out=horizontal[..., :-dx])
        torch.minimum(horizontal[..., dx:], on_boundary[..., :-dx] + dx, out=horizontal[..., dx:])
    row_squared = torch.where(horizontal <= radius, horizontal * horizontal, beyond)
    # Column pass: best over rows within the radius.
    squared = row_squared.clone()
    height = boundary.shape[-2]
    for dy in range(1, min(radius, height - 1) + 1):
        torch.minimum(squared[..., :-dy, :], row_squared[..., dy:, :] + dy * dy, out=squared[..., :-dy, :])
        torch.minimum(squared[..., dy:, :], row_squared[..., :-dy, :] + dy * dy, out=squared[..., dy:, :])
    return squared


def dense_boundary_match_counts(
    pred: Tensor,
    gt: Tensor,
    *,
    radii: tuple[int, ...],
    num_classes: int,
    ignore_index: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Counts of one image on ``gt``'s device: ``|B_pred|``, ``|B_gt|`` (K,) and, for each radius,
    ``|B_pred ∩ dilate(B_gt)|`` and ``|B_gt ∩ dilate(B_pred)|`` (T, K), all int64."""
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(
            f"expected two (H, W) maps of one shape, got {tuple(pred.shape)} and {tuple(gt.shape)}"
        )
    device = gt.device
    pred, gt = pred.to(device=device, dtype=torch.int64), gt.to(torch.int64)
    valid = gt != ignore_index
    _check_values(gt[valid], num_classes, what="gt")
    _check_values(pred, num_classes, what="pred")
    max_radius = max(radii)
    squared_radii = torch.tensor([r * r for r in radii], device=device).view(-1, 1, 1, 1)
    pred_boundary = torch.zeros(num_classes, dtype=torch.int64, device=device)
    gt_boundary = torch.zeros_like(pred_boundary)
    pred_matched = torch.zeros(len(radii), num_classes, dtype=torch.int64, device=device)
    gt_matched = torch.zeros_like(pred_matched)
    # Only classes in either map can have a boundary (the other classes' masks of docs/method.md §5.2
    # are all zero).
    present = torch.unique(torch.cat([gt[valid], pred[valid]]))
    for classes in torch.split(present, _CLASS_CHUNK):
        shape = (-1, 1, 1)
        pred_edges = boundary_maps((pred == classes.view(shape)) & valid)
        gt_edges = boundary_maps(gt == classes.view(shape))
        to_gt = capped_squared_distance(gt_edges, max_radius=max_radius)
        to_pred = capped_squared_distance(pred_edges, max_radius=max_radius)
        pred_boundary[classes] = pred_edges.sum(dim=(-2, -1))
        gt_boundary[classes] = gt_edges.sum(dim=(-2, -1))
        pred_matched[:, classes] = (pred_edges & (to_gt <= squared_radii)).sum(dim=(-2, -1))
        gt_matched[:, classes] = (gt_edges & (to_pred <= squared_radii)).sum(dim=(-2, -1))
    return pred_boundary, gt_boundary, pred_matched, gt_matched


def _check_values(values: Tensor, num_classes: int, *, what: str) -> None:
    if values.numel() == 0:
        return
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"{what} has values in [{low}, {high}], expected trainIds 0..{num_classes - 1}"
            + (" (or the ignore index in gt)" if what == "gt" else "")
        )
