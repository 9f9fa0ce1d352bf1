"""Things standing on the ground, drawn at lateral offset ``lateral`` and scale ``s`` (paper §4.1's
Cityscapes classes; docs/decisions.md "SynthCity"): poles with lamps, traffic lights and signs,
trees and bins (persons and two-wheelers are in :mod:`.people`, vehicles in :mod:`.vehicles`).
Sizes are world units (see :mod:`.perspective`); the caller paints far to near."""

from __future__ import annotations

import numpy as np

from basnet_lib.data.synthcity import palette as P
from basnet_lib.data.synthcity.canvas import Color, SceneCanvas, Surface
from basnet_lib.data.synthcity.perspective import Ground

METAL = Surface(0.03, 0.02, -0.15)
GLASS = Surface(0.04, 0.02, 0.3)
CLOTH = Surface(0.08, 0.05, -0.2)


def _anchor(ground: Ground, lateral: float, s: float) -> tuple[float, float, float]:
    """Image x, y of the ground point and pixels per world unit there."""
    return ground.x(lateral, s), ground.y(s), ground.pixels(1.0, s)


def _shadow_under(canvas: SceneCanvas, x: float, y: float, half_width: float, unit: float) -> None:
    """A contact shadow: dark on the road, labelled as whatever ground it falls on."""
    points = np.array(
        [
            [x - half_width, y - 0.01 * unit],
            [x + half_width, y - 0.01 * unit],
            [x + half_width * 1.3, y + 0.05 * unit],
            [x - half_width * 0.9, y + 0.05 * unit],
        ]
    )
    canvas.shadow(points, 0.45)


def draw_pole(
    canvas: SceneCanvas,
    ground: Ground,
    lateral: float,
    s: float,
    rng: np.random.Generator,
    *,
    attachment: str,
) -> None:
    """A pole with ``attachment`` ``"light"`` (traffic light), ``"sign"``, ``"lamp"`` or ``"none"``."""
    x, y, unit = _anchor(ground, lateral, s)
    height = rng.uniform(0.7, 1.1)
    color = P.jitter(rng, (95, 100, 95) if rng.random() < 0.5 else (140, 140, 135), 10)
    half = max(0.5, 0.007 * unit)
    top = y - height * unit
    canvas.rectangle(x - half, top, x + half, y, P.POLE, color, METAL)
    if attachment == "lamp":
        _draw_lamp(canvas, x, top, unit, half, color, reach=-np.sign(lateral) * 0.25 * unit)
    elif attachment == "light":
        _draw_traffic_light(canvas, x, top, unit, rng)
    elif attachment == "sign":
        _draw_sign(canvas, x, top, unit, rng)


def _draw_lamp(
    canvas: SceneCanvas, x: float, top: float, unit: float, half: float, color: Color, *, reach: float
) -> None:
    """A street lamp's arm reaching over the road and its head; part of the pole in Cityscapes."""
    canvas.line((x, top), (x + reach, top - 0.02 * unit), max(1.0, 1.4 * half), P.POLE, color, METAL)
    canvas.ellipse((x + reach, top), (0.04 * unit, 0.012 * unit), P.POLE, (200.0, 200.0, 190.0), METAL)


def _draw_traffic_light(
    canvas: SceneCanvas, x: float, top: float, unit: float, rng: np.random.Generator
) -> None:
    """A dark box with three lamps, one of them lit."""
    box_w, box_h = 0.045 * unit, 0.13 * unit
    box_top = top + 0.02 * unit
    canvas.rectangle(
        x - box_w / 2,
        box_top,
        x + box_w / 2,
        box_top + box_h,
        P.TRAFFIC_LIGHT,
        P.jitter(rng, (35, 35, 30), 8),
        METAL,
    )
    lit = int(rng.integers(3))
    for slot in range(3):
        cy = box_top + box_h * (slot + 0.5) / 3
        color_lamp = P.lamp(rng) if slot == lit else (55.0, 55.0, 50.0)
        canvas.ellipse(
            (x, cy), (box_w * 0.32, box_w * 0.32), P.TRAFFIC_LIGHT, color_lamp, Surface(0.02, 0.02)
        )


def _draw_sign(canvas: SceneCanvas, x: float, top: float, unit: float, rng: np.random.Generator) -> None:
    """A round, triangular or rectangular sign at the pole's top."""
    size = rng.uniform(0.06, 0.1) * unit
    cy = top + size
    face = P.sign(rng)
    shape = int(rng.integers(3))
    if shape == 0:
        canvas.ellipse((x, cy), (size, size), P.TRAFFIC_SIGN, face, Surface(0.03, 0.02))
        canvas.ellipse((x, cy), (size * 0.65, size * 0.65), P.TRAFFIC_SIGN, (235.0, 235.0, 230.0))
    elif shape == 1:
        points = np.array([[x, cy - size], [x + size, cy + size * 0.8], [x - size, cy + size * 0.8]])
        canvas.polygon(points, P.TRAFFIC_SIGN, face, Surface(0.03, 0.02))
    else:
        canvas.rectangle(x - size, cy - size * 0.7, x + size, cy + size * 0.7, P.TRAFFIC_SIGN, face)
        canvas.rectangle(
            x - size * 0.6,
            cy - size * 0.1,
            x + size * 0.6,
            cy + size * 0.1,
            P.TRAFFIC_SIGN,
            (240.0, 240.0, 240.0),
        )


def draw_tree(
    canvas: SceneCanvas, ground: Ground, lateral: float, s: float, rng: np.random.Generator
) -> None:
    """Trunk and a crown of overlapping blobs; both are vegetation in Cityscapes."""
    x, y, unit = _anchor(ground, lateral, s)
    height = rng.uniform(0.6, 1.4)
    trunk = P.jitter(rng, (85, 70, 55), 10)
    canvas.rectangle(
        x - 0.015 * unit, y - height * unit, x + 0.015 * unit, y, P.VEGETATION, trunk, Surface(0.1, 0.08)
    )
    crown_y = y - height * unit
    radius = rng.uniform(0.2, 0.4) * unit
    base = P.green(rng)
    for _ in range(int(rng.integers(3, 7))):
        cx = x + rng.uniform(-0.7, 0.7) * radius
        cy = crown_y + rng.uniform(-0.6, 0.4) * radius
        canvas.ellipse(
            (cx, cy),
            (radius * rng.uniform(0.5, 0.9), radius * rng.uniform(0.45, 0.8)),
            P.VEGETATION,
            P.jitter(rng, base, 15),
            Surface(0.25, 0.15, -0.3),
        )


def draw_bin(canvas: SceneCanvas, ground: Ground, lateral: float, s: float, rng: np.random.Generator) -> None:
    """Street furniture: Cityscapes' "static" (ignored in training)."""
    x, y, unit = _anchor(ground, lateral, s)
    width, height = rng.uniform(0.05, 0.1) * unit, rng.uniform(0.1, 0.16) * unit
    canvas.rectangle(x - width, y - height, x + width, y, P.STATIC, P.paint(rng), METAL)
