"""Things standing on the ground, drawn at lateral offset ``lateral`` and scale ``s`` (SPEC B2):
poles with traffic lights and signs, trees, bins, persons and riders on two-wheelers (vehicles
are in :mod:`.vehicles`). Sizes are world units (see :mod:`.perspective`); the caller paints far to near."""

from __future__ import annotations

import numpy as np

from basnet_lib.data.synthcity import palette as P
from basnet_lib.data.synthcity.canvas import SceneCanvas, Surface
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
        reach = -np.sign(lateral) * 0.25 * unit
        canvas.line((x, top), (x + reach, top - 0.02 * unit), max(1.0, 1.4 * half), P.POLE, color, METAL)
        canvas.ellipse((x + reach, top), (0.04 * unit, 0.012 * unit), P.POLE, (200.0, 200.0, 190.0), METAL)
    elif attachment == "light":
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
    elif attachment == "sign":
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
    hip_y = y - 0.48 * height
    stride = rng.uniform(-0.08, 0.08) * height
    if seated:
        hip_y = y - 0.75 * height
        canvas.line(
            (x, hip_y), (x + 0.14 * height, hip_y + 0.05 * height), limb * 1.2, label_id, legs_color, CLOTH
        )
        canvas.line(
            (x + 0.14 * height, hip_y + 0.05 * height),
            (x + 0.1 * height, hip_y + 0.3 * height),
            limb,
            label_id,
            legs_color,
            CLOTH,
        )
    else:
        for offset in (-1, 1):
            canvas.line(
                (x + offset * 0.03 * height, hip_y),
                (x + offset * stride, y),
                limb * 1.1,
                label_id,
                legs_color,
                CLOTH,
            )
    shoulder_y = hip_y - 0.33 * height
    canvas.rectangle(
        x - 0.07 * height, shoulder_y, x + 0.07 * height, hip_y + 0.02 * height, label_id, top_color, CLOTH
    )
    reach = 0.12 * height if seated else rng.uniform(-0.05, 0.05) * height
    for offset in (-1, 1):
        canvas.line(
            (x + offset * 0.065 * height, shoulder_y + 0.02 * height),
            (x + offset * 0.05 * height + reach, hip_y),
            limb,
            label_id,
            top_color,
            CLOTH,
        )
    head = 0.065 * height
    canvas.ellipse(
        (x, shoulder_y - head * 1.1), (head * 0.85, head), label_id, P.skin(rng), Surface(0.04, 0.03)
    )
    if rng.random() < 0.4:
        canvas.ellipse((x, shoulder_y - head * 1.6), (head * 0.9, head * 0.55), label_id, P.clothes(rng))
    if not seated:
        _shadow_under(canvas, x, y, 0.1 * height, unit)
    return x, hip_y


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
    else:
        tube = max(1.0, 0.01 * unit)
        for center in (rear, front):
            canvas.ellipse(
                center, (radius, radius), label_id, (30.0, 30.0, 30.0), METAL, thickness=round(tube)
            )
        seat = (x - direction * 0.03 * unit, y - 2.3 * radius)
        bar = (front[0] - direction * 0.02 * unit, y - 2.5 * radius)
        for start, end in (
            (rear, seat),
            (seat, (x, y - radius)),
            ((x, y - radius), rear),
            ((x, y - radius), front),
            (seat, bar),
            (bar, front),
        ):
            canvas.line(start, end, tube, label_id, frame, METAL)
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
