"""The drawing surface of a SynthCity scene: an instance map painted back to front, then shaded.

Every drawn shape is an *instance* with a Cityscapes labelId, a base colour and surface
properties. Shapes are painted with OpenCV into one uint16 instance map (later shapes occlude
earlier ones: depth order is paint order). :meth:`SceneCanvas.render` then turns the map into the
labelId image (a table lookup) and the RGB image (vectorized shading), so the cost of a scene is a
few full-image numpy passes however many shapes it has.

The RGB image gets, on top of flat colours (docs/method.md §2.2): per-instance texture from two shared noise
fields (coarse blotches and fine grain), a per-instance vertical shading gradient, soft shadows
and a global lighting gradient that cross class boundaries, sensor noise and a slight blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Color = tuple[float, float, float]
# cv2 drawing with 4 fractional bits: sub-pixel geometry keeps small far objects in shape.
_SHIFT = 4
_SCALE = 1 << _SHIFT


@dataclass(frozen=True)
class Surface:
    """How an instance looks besides its colour.

    Attributes:
        blotch: amplitude of the coarse (low-frequency) texture, relative to the colour.
        grain: amplitude of the fine per-pixel texture.
        shade: brightness change from the instance's top to its bottom (negative = darker below).
    """

    blotch: float = 0.05
    grain: float = 0.02
    shade: float = 0.0


class SceneCanvas:
    """Instance map plus per-instance label, colour and surface; painted in depth order."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.instances = np.zeros((height, width), dtype=np.uint16)
        self._label_ids: list[int] = [0]
        self._colors: list[Color] = [(0.0, 0.0, 0.0)]
        self._surfaces: list[Surface] = [Surface()]
        self._spans: list[tuple[float, float]] = [(0.0, float(height))]
        self._shadows: list[tuple[np.ndarray, float]] = []

    # -- shapes ---------------------------------------------------------------------------------
    def polygon(self, points: np.ndarray, label_id: int, color: Color, surface: Surface = Surface()) -> None:
        """Fill a polygon given as float (N, 2) x, y pixel coordinates."""
        points = np.asarray(points, dtype=np.float64)
        index = self._new_instance(label_id, color, surface, points[:, 1].min(), points[:, 1].max())
        cv2.fillPoly(self.instances, [_fixed(points)], index, cv2.LINE_8, _SHIFT)

    def rectangle(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        label_id: int,
        color: Color,
        surface: Surface = Surface(),
    ) -> None:
        """Fill the axis-aligned box with corners (x0, y0) and (x1, y1), at least one pixel wide."""
        x0, x1 = min(x0, x1), max(x0, x1)
        y0, y1 = min(y0, y1), max(y0, y1)
        # Thin things (poles, far legs) must stay visible: widen to one pixel around the centre.
        if x1 - x0 < 1.0:
            x0, x1 = (x0 + x1) / 2 - 0.5, (x0 + x1) / 2 + 0.5
        if y1 - y0 < 1.0:
            y0, y1 = (y0 + y1) / 2 - 0.5, (y0 + y1) / 2 + 0.5
        self.polygon(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), label_id, color, surface)

    def ellipse(
        self,
        center: tuple[float, float],
        axes: tuple[float, float],
        label_id: int,
        color: Color,
        surface: Surface = Surface(),
        *,
        angle: float = 0.0,
        thickness: int = -1,
    ) -> None:
        """Fill (``thickness=-1``) or outline an ellipse; axes are half-lengths in pixels."""
        axes = (max(axes[0], 0.5), max(axes[1], 0.5))
        index = self._new_instance(label_id, color, surface, center[1] - axes[1], center[1] + axes[1])
        cv2.ellipse(
            self.instances,
            (round(center[0] * _SCALE), round(center[1] * _SCALE)),
            (round(axes[0] * _SCALE), round(axes[1] * _SCALE)),
            angle,
            0,
            360,
            index,
            thickness,
            cv2.LINE_8,
            _SHIFT,
        )

    def line(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        thickness: float,
        label_id: int,
        color: Color,
        surface: Surface = Surface(),
    ) -> None:
        """A straight stroke at least one pixel thick (bicycle frames, arms, legs)."""
        index = self._new_instance(label_id, color, surface, min(start[1], end[1]), max(start[1], end[1]))
        cv2.line(
            self.instances,
            (round(start[0] * _SCALE), round(start[1] * _SCALE)),
            (round(end[0] * _SCALE), round(end[1] * _SCALE)),
            index,
            max(1, round(thickness)),
            cv2.LINE_8,
            _SHIFT,
        )

    def shadow(self, points: np.ndarray, darkness: float) -> None:
        """Darken a polygon of the final image by ``darkness`` (0..1) with a soft edge; labels keep."""
        self._shadows.append((np.asarray(points, dtype=np.float64), darkness))

    # -- rendering ------------------------------------------------------------------------------
    def render(
        self, rng: np.random.Generator, *, light: tuple[float, float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 (H, W, 3) image and uint8 (H, W) labelIds of the painted scene.

        Args:
            rng: the scene's generator (noise fields, sensor noise).
            light: global lighting ``(base, left→right slope, top→bottom slope)``.
        """
        height, width = self.height, self.width
        instances = self.instances
        label_ids = np.asarray(self._label_ids, dtype=np.uint8)[instances]

        colors = np.asarray(self._colors, dtype=np.float32)
        surfaces = self._surfaces
        blotch = np.asarray([surface.blotch for surface in surfaces], dtype=np.float32)[instances]
        grain = np.asarray([surface.grain for surface in surfaces], dtype=np.float32)[instances]
        shade = np.asarray([surface.shade for surface in surfaces], dtype=np.float32)
        spans = np.asarray(self._spans, dtype=np.float32)
        rows = np.arange(height, dtype=np.float32)[:, None]
        # Position of each pixel between its instance's top (0) and bottom (1).
        extent = np.maximum(spans[:, 1] - spans[:, 0], 1.0)
        relative_row = np.clip((rows - spans[instances, 0]) / extent[instances], 0.0, 1.0)

        coarse = _smooth_noise(rng, height, width, cell=max(4, width // 48))
        fine = rng.standard_normal((height, width), dtype=np.float32)
        brightness = 1.0 + blotch * coarse + grain * fine + shade[instances] * (relative_row - 0.5)

        base, slope_x, slope_y = light
        columns = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
        lighting = base + slope_x * columns + slope_y * (rows / height - 0.5)
        lighting = lighting * self._shadow_map()
        image = colors[instances] * (brightness * lighting)[..., None]
        image += rng.normal(0.0, 1.5, size=image.shape).astype(np.float32)
        sigma = 0.7 * max(1.0, width / 512)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
        return np.clip(image + 0.5, 0, 255).astype(np.uint8), label_ids

    # -- internals ------------------------------------------------------------------------------
    def _new_instance(self, label_id: int, color: Color, surface: Surface, top: float, bottom: float) -> int:
        if len(self._label_ids) >= np.iinfo(np.uint16).max:
            raise RuntimeError("SynthCity scene has too many shapes for a uint16 instance map")
        self._label_ids.append(label_id)
        self._colors.append(color)
        self._surfaces.append(surface)
        self._spans.append((float(top), float(bottom)))
        return len(self._label_ids) - 1

    def _shadow_map(self) -> np.ndarray:
        factor = np.ones((self.height, self.width), dtype=np.float32)
        for points, darkness in self._shadows:
            mask = np.zeros_like(factor)
            cv2.fillPoly(mask, [_fixed(points)], 1.0, cv2.LINE_8, _SHIFT)
            factor *= 1.0 - darkness * mask
        # Soft shadow edges: a penumbra a few pixels wide at 512 px.
        sigma = 1.5 * max(1.0, self.width / 512)
        return cv2.GaussianBlur(factor, (0, 0), sigma) if self._shadows else factor


def _fixed(points: np.ndarray) -> np.ndarray:
    """Float pixel coordinates → int32 fixed-point coordinates for cv2 with ``_SHIFT``."""
    return np.round(np.asarray(points) * _SCALE).astype(np.int32).reshape(-1, 1, 2)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, *, cell: int) -> np.ndarray:
    """Zero-mean, unit-ish, spatially smooth noise: a coarse random grid resized bicubically."""
    small = rng.standard_normal((height // cell + 2, width // cell + 2), dtype=np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
