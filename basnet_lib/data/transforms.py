"""Joint image/label transforms (docs/method.md §2.3) with torchvision's functional ops.

Training: random scale in [0.5, 2.0], pad to the crop size (image 0, label 255), random crop,
horizontal flip. Evaluation: the full image, untouched (docs/method.md §2.5). ImageNet normalization happens
in the dataset after the Canny map is taken from the uint8 result (docs/method.md §1.7).

torchvision's random transforms draw from the global torch RNG; these draw every random number
from a ``torch.Generator`` passed in, so that a sample's augmentation depends only on the seed the
dataset gives it (see :class:`basnet_lib.data.CityscapesSegmentation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor
from torchvision.transforms.v2 import InterpolationMode

from basnet_lib.data.config import DataConfig
from basnet_lib.data.labels import IGNORE_INDEX


@dataclass(frozen=True)
class TrainTransform:
    """Geometric augmentation (docs/method.md §2.3) of a uint8 image (3, H, W) and its label (H, W).

    Choices the paper leaves open (docs/decisions.md "Data"): the scale is uniform in
    [scale_min, scale_max] and applied to both sides (aspect kept); the image is resized bilinearly
    with antialiasing and the label with exact nearest neighbour (``NEAREST_EXACT``, which samples
    at the same pixel centres as bilinear, so image and label stay aligned); padding goes to the bottom and right, as in
    torchvision's segmentation reference, before a uniformly placed crop.
    """

    crop_size: tuple[int, int]
    scale_range: tuple[float, float] = (0.5, 2.0)
    hflip: bool = True

    def __call__(
        self, image: Tensor, label: Tensor | None, *, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        _check_pair(image, label)
        # docs/method.md §2.3: random scale.
        low, high = self.scale_range
        scale = low + (high - low) * float(torch.rand((), generator=generator))
        height, width = image.shape[-2:]
        size = [max(1, round(height * scale)), max(1, round(width * scale))]
        image = TF.resize(image, size, interpolation=InterpolationMode.BILINEAR, antialias=True)
        if label is not None:
            label = TF.resize(label[None], size, interpolation=InterpolationMode.NEAREST_EXACT)[0]
        # docs/method.md §2.3: pad image with 0 and label with 255 up to the crop size, then crop.
        crop_height, crop_width = self.crop_size
        pad_bottom, pad_right = max(crop_height - size[0], 0), max(crop_width - size[1], 0)
        if pad_bottom or pad_right:
            padding = [0, 0, pad_right, pad_bottom]
            image = TF.pad(image, padding, fill=0)
            if label is not None:
                label = TF.pad(label[None], padding, fill=IGNORE_INDEX)[0]
        top = int(torch.randint(image.shape[-2] - crop_height + 1, (), generator=generator))
        left = int(torch.randint(image.shape[-1] - crop_width + 1, (), generator=generator))
        image = TF.crop(image, top, left, crop_height, crop_width)
        if label is not None:
            label = TF.crop(label[None], top, left, crop_height, crop_width)[0]
        # docs/method.md §2.3: horizontal flip. The draw happens even when flipping is off, so that the
        # crops of a seed do not change with the flag.
        flip = bool(torch.rand((), generator=generator) < 0.5)
        if self.hflip and flip:
            image = TF.horizontal_flip(image)
            if label is not None:
                label = TF.horizontal_flip(label)
        return image.contiguous(), None if label is None else label.contiguous()


@dataclass(frozen=True)
class EvalTransform:
    """The evaluation input is the full-resolution image, no crop or resize (docs/method.md §2.5)."""

    def __call__(
        self, image: Tensor, label: Tensor | None, *, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        _check_pair(image, label)
        return image, label


def build_transform(config: DataConfig, *, train: bool) -> TrainTransform | EvalTransform:
    """The training transform of ``config`` (docs/method.md §2.3), or the evaluation transform (§2.5)."""
    if not train:
        return EvalTransform()
    return TrainTransform(
        crop_size=config.crop_size, scale_range=(config.scale_min, config.scale_max), hflip=config.hflip
    )


def _check_pair(image: Tensor, label: Tensor | None) -> None:
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a uint8 image (3, H, W), got {image.dtype} {tuple(image.shape)}")
    if label is not None and (label.dtype != torch.uint8 or tuple(label.shape) != tuple(image.shape[1:])):
        raise ValueError(
            f"expected a uint8 label (H, W) of the image's size {tuple(image.shape[1:])}, "
            f"got {label.dtype} {tuple(label.shape)}"
        )
