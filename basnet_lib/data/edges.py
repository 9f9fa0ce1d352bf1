"""Binary edge targets from segmentation labels (docs/decisions.md "Data").

A pixel is an edge pixel when some pixel within Euclidean distance 2 has a different label; 255
(ignore) counts as a label of its own. Pixels outside the image are not labels, so the image
border is not an edge. This is GSCNN's distance-transform band without its two artefacts: it
keeps all 19 classes (GSCNN drops trainId 0) and does not zero-pad the mask (which marks the
border).

The thinner boundary of a predicted segmentation (what a variant without a boundary head shows in
Fig. 7 and writes in ``basnet predict``) is the metric's boundary map,
:func:`basnet_lib.metrics.boundary_dense.segmentation_boundary`.
"""

from __future__ import annotations

import cv2
import numpy as np

# Band half-width in pixels (docs/decisions.md "Data").
EDGE_RADIUS = 2.0
# Distances between pixel centres are square roots of integers; the next one after 2 is √5 ≈ 2.24,
# so a small tolerance makes "exactly 2" count without admitting anything farther.
_DISTANCE_TOLERANCE = 1e-3


def edge_target(labels: np.ndarray, *, radius: float = EDGE_RADIUS) -> np.ndarray:
    """Edge map (H, W) float32 in {0, 1} of a label image (H, W) uint8 (docs/decisions.md "Data").

    For each label value ``c`` OpenCV's exact Euclidean distance transform of ``labels == c``
    gives every ``c`` pixel its distance to the nearest pixel of another label; OpenCV treats
    the outside of the image as "not another label", which is what keeps the border clean. The
    transform runs on the bounding box of ``c`` grown by ``radius + 1`` (the only place a
    neighbour within ``radius`` can be), which keeps full 1024×2048 images fast.
    """
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError(f"edge_target expects a uint8 (H, W) label image, got {labels.dtype} {labels.shape}")
    height, width = labels.shape
    edges = np.zeros((height, width), dtype=np.float32)
    values = np.flatnonzero(np.bincount(labels.ravel(), minlength=256))
    if len(values) < 2:
        return edges
    margin = int(np.ceil(radius)) + 1
    for value in values:
        mask = labels == value
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        top, bottom = max(rows[0] - margin, 0), min(rows[-1] + margin + 1, height)
        left, right = max(cols[0] - margin, 0), min(cols[-1] + margin + 1, width)
        window = mask[top:bottom, left:right].astype(np.uint8)
        distance = cv2.distanceTransform(window, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        band = (window > 0) & (distance <= radius + _DISTANCE_TOLERANCE)
        edges[top:bottom, left:right][band] = 1.0
    return edges
