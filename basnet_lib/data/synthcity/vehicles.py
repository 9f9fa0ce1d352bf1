"""Vehicles for SynthCity scenes (docs/decisions.md "SynthCity"): cars, trucks, buses and trains
(trams), as boxes with windows, wheels and contact shadows, seen from behind or from the side."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from basnet_lib.data.synthcity import palette as P
from basnet_lib.data.synthcity.canvas import Color, SceneCanvas, Surface
from basnet_lib.data.synthcity.objects import GLASS, METAL, _anchor, _shadow_under
from basnet_lib.data.synthcity.perspective import Ground

PAINT = Surface(0.04, 0.02, -0.35)  # glossy: little texture, strong shading
TYRE = (22.0, 22.0, 25.0)


def draw_car(
    canvas: SceneCanvas,
    ground: Ground,
    lateral: float,
    s: float,
    rng: np.random.Generator,
    *,
    side_view: bool,
) -> None:
    x, y, unit = _anchor(ground, lateral, s)
    body = P.paint(rng)
    if side_view:
        length, height = rng.uniform(0.75, 0.95) * unit, rng.uniform(0.26, 0.32) * unit
    else:
        length, height = rng.uniform(0.32, 0.4) * unit, rng.uniform(0.27, 0.33) * unit
    _draw_vehicle(canvas, x, y, unit, length, height, body, P.CAR, rng, side_view=side_view, cabin=0.45)


def draw_large_vehicle(
    canvas: SceneCanvas,
    ground: Ground,
    lateral: float,
    s: float,
    rng: np.random.Generator,
    *,
    kind: str,
    side_view: bool,
) -> None:
    """``kind`` ``"truck"``, ``"bus"`` or ``"train"`` (a tram, with rails under it)."""
    x, y, unit = _anchor(ground, lateral, s)
    label_id = {"truck": P.TRUCK, "bus": P.BUS, "train": P.TRAIN}[kind]
    colors = {
        "truck": ((220, 220, 215), (40, 70, 140), (180, 40, 30), (90, 95, 90)),
        "bus": ((230, 190, 40), (200, 40, 40), (40, 90, 170), (235, 235, 230)),
        "train": ((235, 235, 230), (200, 40, 40), (230, 200, 50), (60, 120, 160)),
    }[kind]
    body = P.pick(rng, colors, 10)
    width = {"truck": 1.5, "bus": 2.2, "train": 3.5}[kind] if side_view else 0.48
    height = {"truck": 0.55, "bus": 0.62, "train": 0.6}[kind]
    _draw_vehicle(
        canvas,
        x,
        y,
        unit,
        width * unit,
        height * unit,
        body,
        label_id,
        rng,
        side_view=side_view,
        cabin=0.0 if kind != "truck" else 0.3,
    )
    if kind == "train":
        canvas.rectangle(
            x - width * unit / 2,
            y - 0.02 * unit,
            x + width * unit / 2,
            y + 0.01 * unit,
            P.RAIL_TRACK,
            (90.0, 90.0, 95.0),
        )


@dataclass(frozen=True)
class _Outline:
    """A vehicle's box in image pixels: its body spans ``left``..``right`` up from ``bottom``,
    its wheels reach down to ``ground``; ``unit`` is pixels per world unit there."""

    left: float
    right: float
    bottom: float
    ground: float
    length: float
    height: float
    unit: float


def _draw_vehicle(
    canvas: SceneCanvas,
    x: float,
    y: float,
    unit: float,
    length: float,
    height: float,
    body: Color,
    label_id: int,
    rng: np.random.Generator,
    *,
    side_view: bool,
    cabin: float,
) -> None:
    """A box vehicle: body, windows, wheels and a contact shadow; ``cabin`` > 0 gives cars their
    narrower glasshouse (and trucks a cab) on top of a lower body."""
    half = length / 2
    box = _Outline(x - half, x + half, y - 0.03 * unit, y, length, height, unit)
    _shadow_under(canvas, x, y, half * 1.05, unit)
    glass = P.jitter(rng, (60, 70, 85), 12) if rng.random() < 0.7 else P.jitter(rng, (150, 175, 200), 12)
    if cabin > 0 and label_id == P.CAR:
        _draw_car_body(canvas, box, cabin, body, glass, label_id, side_view=side_view)
    else:
        _draw_box_body(canvas, box, body, glass, label_id, side_view=side_view)
        if cabin > 0 and side_view:  # truck: a cab in front of the cargo box
            canvas.rectangle(
                box.right,
                box.bottom - height * 0.7,
                box.right + length * cabin * 0.5,
                box.bottom,
                label_id,
                P.darker(body, 0.85),
                PAINT,
            )
    if side_view:
        _draw_side_wheels(canvas, box, label_id)
    else:
        _draw_rear_wheels_and_lights(canvas, box, label_id)


def _draw_car_body(
    canvas: SceneCanvas,
    box: _Outline,
    cabin: float,
    body: Color,
    glass: Color,
    label_id: int,
    *,
    side_view: bool,
) -> None:
    """A lower body with a narrower glasshouse (roof and one window) on top."""
    left, right, bottom, length, height = box.left, box.right, box.bottom, box.length, box.height
    lower_top = bottom - height * (1 - cabin)
    canvas.rectangle(left, lower_top, right, bottom, label_id, body, PAINT)
    inset = length * (0.22 if side_view else 0.08)
    roof = np.array(
        [
            [left + inset * 0.4, lower_top + 1],
            [left + inset, bottom - height],
            [right - inset * 0.8, bottom - height],
            [right - inset * 0.2, lower_top + 1],
        ]
    )
    canvas.polygon(roof, label_id, body, PAINT)
    pad = max(1.0, 0.02 * box.unit)
    window = np.array(
        [
            [roof[0, 0] + 2 * pad, roof[0, 1] - pad],
            [roof[1, 0] + pad, roof[1, 1] + pad],
            [roof[2, 0] - pad, roof[2, 1] + pad],
            [roof[3, 0] - 2 * pad, roof[3, 1] - pad],
        ]
    )
    canvas.polygon(window, label_id, glass, GLASS)


def _draw_box_body(
    canvas: SceneCanvas, box: _Outline, body: Color, glass: Color, label_id: int, *, side_view: bool
) -> None:
    """A full-height box with a band of windows: panes along the side, one pane from behind."""
    left, right, bottom, length, height = box.left, box.right, box.bottom, box.length, box.height
    canvas.rectangle(left, bottom - height, right, bottom, label_id, body, PAINT)
    band_top, band_bottom = bottom - height * 0.85, bottom - height * 0.55
    if not side_view:
        canvas.rectangle(
            left + 0.1 * length, band_top, right - 0.1 * length, band_bottom, label_id, glass, GLASS
        )
        return
    panes = max(1, int(length / (0.25 * box.unit)))
    pane = length / panes
    for index in range(panes):
        canvas.rectangle(
            left + index * pane + 0.15 * pane,
            band_top,
            left + (index + 0.85) * pane,
            band_bottom,
            label_id,
            glass,
            GLASS,
        )


def _draw_side_wheels(canvas: SceneCanvas, box: _Outline, label_id: int) -> None:
    """Two round wheels with hubs, centred on the body's lower edge."""
    wheel = max(1.0, 0.055 * box.unit)
    for wheel_x in (box.left + 0.18 * box.length, box.right - 0.18 * box.length):
        canvas.ellipse((wheel_x, box.bottom), (wheel, wheel), label_id, TYRE, METAL)
        canvas.ellipse(
            (wheel_x, box.bottom), (wheel * 0.45, wheel * 0.45), label_id, (140.0, 140.0, 140.0), METAL
        )


def _draw_rear_wheels_and_lights(canvas: SceneCanvas, box: _Outline, label_id: int) -> None:
    """Seen from behind: the tyres' lower parts under the body and two red tail lights."""
    wheel = max(1.0, 0.055 * box.unit)
    left, right, bottom, length, height = box.left, box.right, box.bottom, box.length, box.height
    for wheel_x in (left + 0.12 * length, right - 0.12 * length):
        canvas.rectangle(
            wheel_x - 0.4 * wheel, bottom, wheel_x + 0.4 * wheel, box.ground, label_id, TYRE, METAL
        )
    for light_x in (left + 0.08 * length, right - 0.08 * length):
        canvas.rectangle(
            light_x - 0.03 * length,
            bottom - height * 0.45,
            light_x + 0.03 * length,
            bottom - height * 0.35,
            label_id,
            (200.0, 30.0, 25.0),
            Surface(0.02, 0.02),
        )
