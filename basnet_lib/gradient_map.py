"""The image-gradient map ``G`` fed to the boundary branch (docs/method.md §1.7, Fig. 1 blue line).

``G`` has 4 channels: the ImageNet-normalized RGB input and its Canny edge map (0/1). Canny runs
with OpenCV on the uint8 image after augmentation, thresholds 10 and 100 as in GSCNN. Inside the
model ``G`` is resized to each SAB's resolution: RGB bilinearly, the Canny map by max-pooling so
that one-pixel edges survive downsampling.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

# OpenCV's own thread pool does not survive fork(): DataLoader workers forked after the main
# process used it can deadlock. Parallelism comes from the workers, so OpenCV runs single-threaded.
cv2.setNumThreads(0)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# docs/method.md §1.7: GSCNN's Canny thresholds.
CANNY_LOW, CANNY_HIGH = 10, 100


def canny_edges(image: np.ndarray) -> np.ndarray:
    """Canny edge map (H, W) float32 in {0, 1} of one uint8 RGB image (H, W, 3).

    OpenCV takes the strongest gradient over the three colour channels, as GSCNN does.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"canny_edges expects a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    edges = cv2.Canny(np.ascontiguousarray(image), CANNY_LOW, CANNY_HIGH)
    return (edges > 0).astype(np.float32)


def normalize_image(images: Tensor) -> Tensor:
    """uint8 (N, 3, H, W) → float32 ImageNet-normalized (N, 3, H, W)."""
    _check_uint8_batch(images)
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def image_gradient_map(images: Tensor) -> Tensor:
    """``G`` of a uint8 image batch (N, 3, H, W): float32 (N, 4, H, W) = [normalized RGB, Canny].

    The data pipeline computes Canny once per sample (after its geometric transforms) and calls
    :func:`stack_gradient_map`; this function is the same thing for a ready batch.
    """
    _check_uint8_batch(images)
    edges = [canny_edges(image.permute(1, 2, 0).cpu().numpy()) for image in images]
    canny = torch.from_numpy(np.stack(edges)).unsqueeze(1).to(images.device)
    return stack_gradient_map(normalize_image(images), canny)


def stack_gradient_map(normalized_images: Tensor, canny: Tensor) -> Tensor:
    """Concatenate normalized RGB (N, 3, H, W) and Canny (N, 1, H, W) into ``G`` (N, 4, H, W)."""
    if normalized_images.shape[1] != 3 or canny.shape[1] != 1:
        raise ValueError(
            f"expected RGB (N,3,H,W) and Canny (N,1,H,W), got {tuple(normalized_images.shape)} "
            f"and {tuple(canny.shape)}"
        )
    if normalized_images.shape[-2:] != canny.shape[-2:]:
        raise ValueError(
            f"image {tuple(normalized_images.shape[-2:])} and Canny map {tuple(canny.shape[-2:])} differ in size"
        )
    return torch.cat([normalized_images, canny.to(normalized_images.dtype)], dim=1)


def resize_gradient_map(gradient_map: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """Resize ``G`` to ``size``: RGB bilinearly, Canny with max-pooling so that edges survive
    (docs/method.md §1.7)."""
    if tuple(gradient_map.shape[-2:]) == tuple(size):
        return gradient_map
    rgb = F.interpolate(gradient_map[:, :3], size=tuple(size), mode="bilinear", align_corners=False)
    edges = F.adaptive_max_pool2d(gradient_map[:, 3:], tuple(size))
    return torch.cat([rgb, edges], dim=1)


def _check_uint8_batch(images: Tensor) -> None:
    if (
        not isinstance(images, Tensor)
        or images.dtype != torch.uint8
        or images.ndim != 4
        or images.shape[1] != 3
    ):
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        dtype = getattr(images, "dtype", None)
        raise ValueError(f"expected a uint8 image batch of shape (N, 3, H, W), got {dtype} {shape}")
