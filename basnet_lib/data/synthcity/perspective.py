"""A flat ground plane seen by a level camera: where things stand and how big they look.

World units: lateral offset ``x`` from the camera axis and heights, in units of about one road
width at the bottom of the image. Depth is expressed by ``s``, the apparent scale: 0 at the
horizon, 1 at the bottom row of the image (s is 1/distance, so equal steps in distance are
``s = 1 / z``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ground:
    """Image geometry of one scene: image size, horizon row and vanishing column (pixels)."""

    height: int
    width: int
    horizon: float
    vanish_x: float

    def y(self, s: float) -> float:
        """Image row of the ground at scale ``s``."""
        return self.horizon + s * (self.height - self.horizon)

    def x(self, lateral: float, s: float) -> float:
        """Image column of the ground point at lateral offset ``lateral`` and scale ``s``."""
        return self.vanish_x + lateral * s * self.width

    def pixels(self, size: float, s: float) -> float:
        """Apparent size in pixels of a world length ``size`` at scale ``s``."""
        return size * s * self.width

    def ground_strip(self, lateral0: float, lateral1: float, s0: float, s1: float) -> np.ndarray:
        """Image polygon (4, 2) of the ground between two lateral offsets and two scales."""
        return np.array(
            [
                [self.x(lateral0, s0), self.y(s0)],
                [self.x(lateral1, s0), self.y(s0)],
                [self.x(lateral1, s1), self.y(s1)],
                [self.x(lateral0, s1), self.y(s1)],
            ]
        )

    def wall_quad(self, lateral: float, s0: float, s1: float, top: float, bottom: float = 0.0) -> np.ndarray:
        """Image polygon (4, 2) of a vertical plane along the road at ``lateral``, between two
        scales and two heights (world units above the ground)."""
        return np.array(
            [
                [self.x(lateral, s0), self.y(s0) - self.pixels(bottom, s0)],
                [self.x(lateral, s1), self.y(s1) - self.pixels(bottom, s1)],
                [self.x(lateral, s1), self.y(s1) - self.pixels(top, s1)],
                [self.x(lateral, s0), self.y(s0) - self.pixels(top, s0)],
            ]
        )
