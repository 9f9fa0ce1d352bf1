"""Exact boundary matching on the CPU from sparse boundary pixels (numpy; docs/method.md §5.2).

The literal algorithm dilates 2 × 19 boundary maps per threshold. Here every boundary pixel of
every class is listed once, as a sorted int64 key ``(class, row, column)``, and for each boundary
pixel of one map we find the squared Euclidean distance to the nearest boundary pixel *of the same
class* in the other map, capped just above ``R²`` (``R`` the largest radius):

    d²(p) = min over dy in [-R, R] of dy² + dx(p, row y+dy)²,

with ``dx`` the horizontal distance to the nearest key in that row, found by ``np.searchsorted``.
A pixel lies in ``dilate(B, disk r)`` exactly when ``d² <= r²`` (``disk r = {dx²+dy² <= r²}``), so
one pass serves all thresholds. Everything is integer arithmetic: the counts equal the literal
dilation's, and the cost grows with the number of boundary pixels, not with classes × pixels × r².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Value of a pixel that belongs to no class mask (ignored ground truth, or pred under it).
NO_CLASS = 255


def class_label_maps(
    pred: np.ndarray, gt: np.ndarray, *, num_classes: int, ignore_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 maps whose value at each pixel is the one class mask containing it, or ``NO_CLASS``.

    docs/method.md §5.2 sets both masks ``pred==c`` and ``gt==c`` to 0 where gt is ``ignore_index``, so pred
    pixels under ignored ground truth belong to no class mask.
    """
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"expected two (H, W) maps of one shape, got {pred.shape} and {gt.shape}")
    if num_classes >= NO_CLASS:
        raise ValueError(f"num_classes={num_classes} must be below {NO_CLASS}")
    ignored = gt == ignore_index
    _check_values(gt[~ignored], num_classes, what="gt")
    _check_values(pred, num_classes, what="pred")
    gt_classes = np.where(ignored, NO_CLASS, gt).astype(np.uint8)
    pred_classes = np.where(ignored, NO_CLASS, pred).astype(np.uint8)
    return pred_classes, gt_classes


def class_boundary_pixels(classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(class, row, column)`` of each pixel of ``B(classes == c)`` for every class ``c``.

    docs/method.md §5.2: a pixel is on the boundary of mask ``m`` when ``m`` differs between it and its east,
    south or south-east neighbour; neighbours outside the image count as equal. With ``L`` the
    class map, pixel ``p`` is on the boundary of class ``c`` exactly when some neighbour ``q`` has
    ``L[q] != L[p]`` and ``c`` is ``L[p]`` or such an ``L[q]``. Each (class, pixel) pair is listed
    once; ``NO_CLASS`` never is.
    """
    # Edge padding makes outside neighbours equal to the pixel itself, except the south-east one of
    # the last row/column, which copies the east/south neighbour: it adds no new class there.
    padded = np.pad(classes, ((0, 1), (0, 1)), mode="edge")
    here, east = padded[:-1, :-1], padded[:-1, 1:]
    south, south_east = padded[1:, :-1], padded[1:, 1:]
    rows, columns = np.nonzero((here != east) | (here != south) | (here != south_east))
    # Classes around each candidate pixel; keep each distinct class once, never NO_CLASS.
    h, e = here[rows, columns], east[rows, columns]
    s, se = south[rows, columns], south_east[rows, columns]
    keep = (
        h != NO_CLASS,
        (e != h) & (e != NO_CLASS),
        (s != h) & (s != e) & (s != NO_CLASS),
        (se != h) & (se != e) & (se != s) & (se != NO_CLASS),
    )
    labels = np.concatenate([values[mask] for values, mask in zip((h, e, s, se), keep, strict=True)])
    return (
        labels,
        np.concatenate([rows[mask] for mask in keep]),
        np.concatenate([columns[mask] for mask in keep]),
    )


@dataclass(frozen=True)
class _KeyLayout:
    """Sorted int64 keys for (class, row, column): rows padded by ``R`` above and below each class
    block and columns by ``R + 1``, so a key shifted by up to ``R`` rows stays in its class and keys
    of different rows are always more than ``R`` apart."""

    height: int
    width: int
    max_radius: int

    @property
    def row_stride(self) -> int:
        return self.width + self.max_radius + 1

    @property
    def class_stride(self) -> int:
        return (self.height + 2 * self.max_radius) * self.row_stride

    def keys(self, labels: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        return np.sort(
            labels.astype(np.int64) * self.class_stride + (rows + self.max_radius) * self.row_stride + columns
        )

    def classes(self, keys: np.ndarray) -> np.ndarray:
        return keys // self.class_stride


def nearest_squared_distances(queries: np.ndarray, features: np.ndarray, *, layout: _KeyLayout) -> np.ndarray:
    """Squared distance from each query key to the nearest feature key of the same class,
    exact up to ``R²``; ``R² + 1`` where none lies within ``R``.

    Rows are visited by increasing ``|dy|``; a query whose best is already ``<= dy²`` cannot
    improve and is dropped, so well-matched boundaries cost only a few searches.
    """
    radius = layout.max_radius
    beyond = radius * radius + 1
    best = np.full(queries.shape, beyond, dtype=np.int64)
    if features.size == 0:
        return best
    active = np.arange(queries.size)
    for dy in [0, *(sign * step for step in range(1, radius + 1) for sign in (1, -1))]:
        active = active[best[active] > dy * dy]
        if active.size == 0:
            break
        shifted = queries[active] + dy * layout.row_stride
        index = np.searchsorted(features, shifted)
        right = features[np.minimum(index, features.size - 1)] - shifted
        left = shifted - features[np.maximum(index - 1, 0)]
        # Out-of-range neighbours (index 0 or n) come out negative: no feature on that side.
        horizontal = np.minimum(np.where(right >= 0, right, beyond), np.where(left >= 0, left, beyond))
        squared = np.where(horizontal <= radius, horizontal * horizontal + dy * dy, beyond)
        best[active] = np.minimum(best[active], squared)
    return best


def sparse_boundary_match_counts(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    radii: tuple[int, ...],
    num_classes: int,
    ignore_index: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts of one image: ``|B_pred|``, ``|B_gt|`` (K,) and, for each radius, ``|B_pred ∩ dilate(B_gt)|``
    and ``|B_gt ∩ dilate(B_pred)|`` (T, K), all int64."""
    pred_classes, gt_classes = class_label_maps(pred, gt, num_classes=num_classes, ignore_index=ignore_index)
    layout = _KeyLayout(height=gt.shape[0], width=gt.shape[1], max_radius=max(radii))
    pred_pixels = class_boundary_pixels(pred_classes)
    gt_pixels = class_boundary_pixels(gt_classes)
    pred_keys, gt_keys = layout.keys(*pred_pixels), layout.keys(*gt_pixels)
    pred_key_classes, gt_key_classes = layout.classes(pred_keys), layout.classes(gt_keys)
    to_gt = nearest_squared_distances(pred_keys, gt_keys, layout=layout)
    to_pred = nearest_squared_distances(gt_keys, pred_keys, layout=layout)
    pred_boundary = np.bincount(pred_key_classes, minlength=num_classes)
    gt_boundary = np.bincount(gt_key_classes, minlength=num_classes)
    pred_matched = np.stack(
        [np.bincount(pred_key_classes[to_gt <= r * r], minlength=num_classes) for r in radii]
    )
    gt_matched = np.stack(
        [np.bincount(gt_key_classes[to_pred <= r * r], minlength=num_classes) for r in radii]
    )
    return (
        pred_boundary.astype(np.int64),
        gt_boundary.astype(np.int64),
        pred_matched.astype(np.int64),
        gt_matched.astype(np.int64),
    )


def _check_values(values: np.ndarray, num_classes: int, *, what: str) -> None:
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(
            f"{what} has values in [{values.min()}, {values.max()}], expected trainIds 0..{num_classes - 1}"
            + (" (or the ignore index in gt)" if what == "gt" else "")
        )
