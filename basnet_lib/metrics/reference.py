"""The literal boundary F-score of docs/method.md §5.2 (GSCNN's ``db_eval_boundary``), slow on purpose.

Written straight from the definition with scikit-image's ``binary_dilation`` and ``disk``: two
masks, two boundary maps and two dilations per class and radius. It exists to check the fast
implementation (tests) and to time it (``benchmarks/bench_metrics.py``, docs/performance.md);
library code never calls it. Needs scikit-image (the ``dev`` extra).
"""

from __future__ import annotations

import warnings

import numpy as np


def reference_radius(threshold: float, *, height: int, width: int) -> int:
    """GSCNN: ``np.ceil(bound_th * np.linalg.norm(mask.shape))``."""
    return int(np.ceil(threshold * np.linalg.norm((height, width))))


def disk_footprint(radius: int) -> np.ndarray:
    """scikit-image's ``disk(radius)`` as bool; docs/method.md §5.2 needs ``{dx²+dy² <= r²}``
    (a test checks)."""
    from skimage.morphology import disk

    return disk(radius).astype(bool)


def reference_boundary_map(mask: np.ndarray) -> np.ndarray:
    """Pixels whose value differs from the east, south or south-east neighbour (outside = equal)."""
    boundary = np.zeros(mask.shape, dtype=bool)
    boundary[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    boundary[:-1, :] |= mask[:-1, :] != mask[1:, :]
    boundary[:-1, :-1] |= mask[:-1, :-1] != mask[1:, 1:]
    return boundary


def gscnn_seg2bmap(mask: np.ndarray) -> np.ndarray:
    """GSCNN's ``seg2bmap`` (zero-padded shifts, then its last row/column fix-ups), for comparison."""
    seg = mask.astype(bool)
    east, south, south_east = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    boundary = seg ^ east | seg ^ south | seg ^ south_east
    boundary[-1, :] = seg[-1, :] ^ east[-1, :]
    boundary[:, -1] = seg[:, -1] ^ south[:, -1]
    boundary[-1, -1] = 0
    return boundary


def reference_dilate(boundary: np.ndarray, radius: int) -> np.ndarray:
    from skimage.morphology import binary_dilation

    with warnings.catch_warnings():
        # scikit-image 0.26 deprecates binary_dilation (removed in 0.28) in favour of dilation.
        warnings.simplefilter("ignore", FutureWarning)
        return binary_dilation(boundary, disk_footprint(radius))


def reference_pair_fscore(pred_mask: np.ndarray, gt_mask: np.ndarray, radius: int) -> float:
    """F of one (image, class) pair from its two (already ignore-zeroed) masks."""
    pred_boundary = reference_boundary_map(pred_mask)
    gt_boundary = reference_boundary_map(gt_mask)
    pred_count, gt_count = int(pred_boundary.sum()), int(gt_boundary.sum())
    if pred_count == 0 and gt_count == 0:
        return 1.0
    if pred_count == 0 or gt_count == 0:
        return 0.0
    precision = np.sum(pred_boundary & reference_dilate(gt_boundary, radius)) / pred_count
    recall = np.sum(gt_boundary & reference_dilate(pred_boundary, radius)) / gt_count
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def reference_boundary_fscores(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    radii: tuple[int, ...],
    num_classes: int = 19,
    ignore_index: int = 255,
) -> np.ndarray:
    """F (T, K) float64 of one image for explicit radii, literally as docs/method.md §5.2 states it."""
    ignored = gt == ignore_index
    scores = np.zeros((len(radii), num_classes))
    for class_id in range(num_classes):
        pred_mask = (pred == class_id) & ~ignored
        gt_mask = (gt == class_id) & ~ignored
        for index, radius in enumerate(radii):
            scores[index, class_id] = reference_pair_fscore(pred_mask, gt_mask, radius)
    return scores


def reference_boundary_iou_counts(
    pred: np.ndarray, gt: np.ndarray, *, pixels: int, num_classes: int, ignore_index: int = 255
) -> tuple[np.ndarray, np.ndarray]:
    """Boundary IoU's ``(intersection, union)`` per class as its definition reads (docs/method.md
    §5.4): per class, binary masks, ``B(M) = M ∖ erode(M)`` with OpenCV's 3×3 erosion applied
    ``pixels`` times and the outside of the image as background; ignored pixels counted in neither."""
    import cv2

    kernel = np.ones((3, 3), np.uint8)
    valid = gt != ignore_index
    intersection, union = np.zeros(num_classes, np.int64), np.zeros(num_classes, np.int64)
    for label in range(num_classes):
        bands = []
        for labels in (gt, pred):
            mask = (labels == label).astype(np.uint8)
            eroded = cv2.erode(mask, kernel, iterations=pixels, borderType=cv2.BORDER_CONSTANT, borderValue=0)
            bands.append((mask > 0) & (eroded == 0) & valid)
        intersection[label] = int((bands[0] & bands[1]).sum())
        union[label] = int((bands[0] | bands[1]).sum())
    return intersection, union
