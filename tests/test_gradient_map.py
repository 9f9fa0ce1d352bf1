"""docs/method.md §1.7: the 4-channel image-gradient map and its resizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from basnet_lib.gradient_map import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    canny_edges,
    image_gradient_map,
    resize_gradient_map,
)


def _square_image() -> torch.Tensor:
    """A bright square on a dark background: Canny must find its outline and nothing else."""
    image = np.full((64, 96, 3), 30, dtype=np.uint8)
    image[16:48, 24:72] = 220
    return torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)


def test_gradient_map_has_normalized_rgb_and_binary_canny() -> None:
    images = _square_image()
    gradient_map = image_gradient_map(images)
    assert gradient_map.shape == (1, 4, 64, 96) and gradient_map.dtype == torch.float32
    expected_red = (220 / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0]
    assert gradient_map[0, 0, 30, 40].item() == pytest.approx(expected_red, rel=1e-6)
    canny = gradient_map[0, 3]
    assert set(canny.unique().tolist()) == {0.0, 1.0}
    # Edges sit on the square's outline only: the interior and the far background are empty.
    assert canny[20:44, 28:68].sum() == 0 and canny[:10].sum() == 0
    assert canny[14:18, 24:72].sum() > 0 and canny[16:48, 22:26].sum() > 0


def test_canny_matches_opencv_on_each_image_of_the_batch() -> None:
    generator = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (3, 3, 20, 30), dtype=torch.uint8, generator=generator)
    gradient_map = image_gradient_map(images)
    for index in range(3):
        expected = canny_edges(images[index].permute(1, 2, 0).numpy())
        assert np.array_equal(gradient_map[index, 3].numpy(), expected)


def test_thin_edges_survive_downsampling() -> None:
    """A one-pixel line disappears under bilinear resizing but not under max-pooling
    (docs/method.md §1.7)."""
    gradient_map = torch.zeros(1, 4, 64, 96)
    gradient_map[0, 3, 33, :] = 1.0  # horizontal line on an odd row
    gradient_map[0, 3, :, 47] = 1.0  # vertical line on an odd column
    for size in [(32, 48), (16, 24), (8, 12), (9, 13)]:
        resized = resize_gradient_map(gradient_map, size)
        assert resized.shape == (1, 4, *size)
        edges = resized[0, 3]
        assert edges.amax(dim=0).eq(1.0).all(), f"horizontal line lost at {size}"
        assert edges.amax(dim=1).eq(1.0).all(), f"vertical line lost at {size}"
        bilinear = torch.nn.functional.interpolate(gradient_map[:, 3:], size=size, mode="bilinear")
        assert bilinear.max() < 1.0  # what max-pooling protects against


def test_rgb_channels_resize_bilinearly() -> None:
    gradient_map = torch.rand(2, 4, 40, 40)
    resized = resize_gradient_map(gradient_map, (20, 20))
    expected = torch.nn.functional.interpolate(gradient_map[:, :3], size=(20, 20), mode="bilinear")
    torch.testing.assert_close(resized[:, :3], expected)


@pytest.mark.parametrize(
    "bad",
    [
        torch.zeros(1, 3, 8, 8),
        torch.zeros(3, 8, 8, dtype=torch.uint8),
        torch.zeros(1, 4, 8, 8, dtype=torch.uint8),
    ],
)
def test_bad_image_batches_are_refused(bad: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=r"uint8 image batch of shape \(N, 3, H, W\)"):
        image_gradient_map(bad)
