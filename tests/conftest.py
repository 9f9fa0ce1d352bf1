"""Shared test setup: small CPU inputs, fixed seeds, no network."""

from __future__ import annotations

import pytest
import torch

from basnet_lib.gradient_map import image_gradient_map


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tiny_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """(normalized image, gradient map G) of 2 random uint8 images of an awkward size (70×90)."""
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (2, 3, 70, 90), dtype=torch.uint8, generator=generator)
    gradient_map = image_gradient_map(images)
    return gradient_map[:, :3].clone(), gradient_map
