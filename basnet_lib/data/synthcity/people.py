"""Persons and two-wheelers for SynthCity scenes (docs/decisions.md "SynthCity"): pedestrians, and
bicycles and motorcycles in side view, optionally ridden (the rider's body is its own class).
Placement and sizes as in :mod:`.objects`."""

from __future__ import annotations

import numpy as np

from basnet_lib.data.synthcity import palette as P
from basnet_lib.data.synthcity.canvas import Color, SceneCanvas, Surface
from basnet_lib.data.synthcity.objects import CLOTH, METAL, _anchor, _shadow_under
from basnet_lib.data.synthcity.perspective import Ground


def draw_person(
    canvas: SceneCanvas,
    ground: Ground,
    lateral: float,
    s: float,
    rng: np.random.Generator,
    *,
    label_id: int = P.PERSON,
    seated: bool = False,
) -> tuple[float, float]:
    """A pedestrian (or, ``seated``, a rider's body with ``label_id`` rider). Returns the hip point."""
    x, y, unit = _anchor(ground, lateral, s)
    height = rng.uniform(0.28, 0.36) * unit
    top_color, legs_color = P.clothes(rng), P.clothes(rng)
    limb = max(1.0, 0.022 * unit)
    stride = rng.uniform(-0.08, 0.08) * height  # drawn for riders too, so the draws keep their order
    if seated:
        hip_y = y - 0.75 * height
        _draw_seated_legs(canvas, x, hip_y, height, limb, label_id, legs_color)
    else:
        hip_y = y - 0.48 * height
        _draw_walking_legs(canvas, x, y, hip_y, height, stride, limb, label_id, legs_color)
    shoulder_y = hip_y - 0.33 * height
    canvas.rectangle(
        x - 0.07 * height, shoulder_y, x + 0.07 * height, hip_y + 0.02 * height, label_id, top_color, CLOTH
    )
    reach = 0.12 * height if seated else rng.uniform(-0.05, 0.05) * height
    _draw_arms(canvas, x, shoulder_y, hip_y, height, reach, limb, label_id, top_color)
    _draw_head(canvas, x, shoulder_y, height, label_id, rng)
    if not seated:
        _shadow_under(canvas, x, y, 0.1 * height, unit)
    return x, hip_y


def _draw_seated_legs(
    canvas: SceneCanvas, x: float, hip_y: float, height: float, limb: float, label_id: int, color: Color
) -> None:
    """Thigh forward to the knee, shin down to the pedal."""
    knee = (x + 0.14 * height, hip_y + 0.05 * height)
    canvas.line((x, hip_y), knee, limb * 1.2, label_id, color, CLOTH)
    canvas.line(knee, (x + 0.1 * height, hip_y + 0.3 * height), limb, label_id, color, CLOTH)


def _draw_walking_legs(
    canvas: SceneCanvas,
    x: float,
    y: float,
    hip_y: float,
    height: float,
    stride: float,
    limb: float,
    label_id: int,
    color: Color,
) -> None:
    """Two straight legs from the hips to feet ``stride`` apart on the ground."""
    for offset in (-1, 1):
        canvas.line(
            (x + offset * 0.03 * height, hip_y), (x + offset * stride, y), limb * 1.1, label_id, color, CLOTH
        )


def _draw_arms(
    canvas: SceneCanvas,
    x: float,
    shoulder_y: float,
    hip_y: float,
    height: float,
    reach: float,
    limb: float,
    label_id: int,
    color: Color,
) -> None:
    """Two arms from the shoulders down to hip height, hands shifted by ``reach``."""
    for offset in (-1, 1):
        canvas.line(
            (x + offset * 0.065 * height, shoulder_y + 0.02 * height),
            (x + offset * 0.05 * height + reach, hip_y),
            limb,
            label_id,
            color,
            CLOTH,
        )


def _draw_head(
    canvas: SceneCanvas, x: float, shoulder_y: float, height: float, label_id: int, rng: np.random.Generator
) -> None:
    """Head above the shoulders; four in ten wear a hat."""
    head = 0.065 * height
    canvas.ellipse(
        (x, shoulder_y - head * 1.1), (head * 0.85, head), label_id, P.skin(rng), Surface(0.04, 0.03)
    )
    if rng.random() < 0.4:
        canvas.ellipse((x, shoulder_y - head * 1.6), (head * 0.9, head * 0.55), label_id, P.clothes(rng))


def draw_two_wheeler(
    canvas: SceneCanvas,
    ground: Ground,
    lateral: float,
    s: float,
    rng: np.random.Generator,
    *,
    motor: bool,
    ridden: bool,
) -> None:
    """A bicycle or motorcycle in side view, optionally with a rider on it."""
    x, y, unit = _anchor(ground, lateral, s)
    label_id = P.MOTORCYCLE if motor else P.BICYCLE
    radius = (0.07 if motor else 0.065) * unit
    base = 0.13 * unit
    direction = 1 if rng.random() < 0.5 else -1
    rear, front = (x - direction * base, y - radius), (x + direction * base, y - radius)
    frame = P.paint(rng)
    if motor:
        _draw_motorcycle(canvas, rear, front, radius, direction, label_id, frame)
    else:
        _draw_bicycle(canvas, x, y, unit, rear, front, radius, direction, label_id, frame)
    canvas.shadow(
        np.array(
            [
                [rear[0] - radius, y - 0.01 * unit],
                [front[0] + radius, y - 0.01 * unit],
                [front[0] + radius, y + 0.03 * unit],
                [rear[0] - radius, y + 0.03 * unit],
            ]
        ),
        0.35,
    )
    if ridden:
        draw_person(canvas, ground, lateral, s * 1.0, rng, label_id=P.RIDER, seated=True)


def _draw_motorcycle(
    canvas: SceneCanvas,
    rear: tuple[float, float],
    front: tuple[float, float],
    radius: float,
    direction: int,
    label_id: int,
    frame: Color,
) -> None:
    """Solid wheels with hubs and a body between them, rising towards the front."""
    for center in (rear, front):
        canvas.ellipse(center, (radius, radius), label_id, (25.0, 25.0, 28.0), METAL)
        canvas.ellipse(center, (radius * 0.45, radius * 0.45), label_id, (150.0, 150.0, 150.0), METAL)
    body = np.array(
        [
            [rear[0], rear[1] - radius * 0.6],
            [front[0], front[1] - radius * 1.1],
            [front[0] - direction * radius, front[1] + radius * 0.2],
            [rear[0] + direction * radius, rear[1] + radius * 0.2],
        ]
    )
    canvas.polygon(body, label_id, frame, METAL)


def _draw_bicycle(
    canvas: SceneCanvas,
    x: float,
    y: float,
    unit: float,
    rear: tuple[float, float],
    front: tuple[float, float],
    radius: float,
    direction: int,
    label_id: int,
    frame: Color,
) -> None:
    """Ring wheels and a diamond frame of thin tubes: mostly background shows through."""
    tube = max(1.0, 0.01 * unit)
    for center in (rear, front):
        canvas.ellipse(center, (radius, radius), label_id, (30.0, 30.0, 30.0), METAL, thickness=round(tube))
    seat = (x - direction * 0.03 * unit, y - 2.3 * radius)
    bar = (front[0] - direction * 0.02 * unit, y - 2.5 * radius)
    crank = (x, y - radius)
    for start, end in ((rear, seat), (seat, crank), (crank, rear), (crank, front), (seat, bar), (bar, front)):
        canvas.line(start, end, tube, label_id, frame, METAL)
