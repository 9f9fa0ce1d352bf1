"""The static street: sky, ground (road, markings, sidewalks, curbs, terrain), facades with
windows, the far end of the street, and walls, fences and hedges along the sidewalk (docs/decisions.md "SynthCity")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from basnet_lib.data.synthcity import palette as P
from basnet_lib.data.synthcity.canvas import SceneCanvas, Surface
from basnet_lib.data.synthcity.perspective import Ground

# Scale far enough below the image that ground strips run off its bottom edge.
S_NEAR = 3.0


@dataclass(frozen=True)
class Street:
    """Lateral layout (world units) of one street, mirrored on both sides.

    Attributes:
        road: half-width of the road. sidewalk: outer edge of the sidewalk. facade: where the
        buildings stand. far: scale of the far end of the street. terrain: grass strip between
        sidewalk and facades on (left, right).
    """

    road: float
    sidewalk: float
    facade: float
    far: float
    terrain: tuple[bool, bool]


def sample_street(rng: np.random.Generator, *, force_terrain: bool) -> Street:
    road = rng.uniform(0.35, 0.6)
    sidewalk = road + rng.uniform(0.12, 0.3)
    terrain = (bool(rng.random() < 0.35), bool(rng.random() < 0.35))
    if force_terrain and not any(terrain):
        terrain = (True, terrain[1])
    facade = sidewalk + (rng.uniform(0.25, 0.5) if any(terrain) else rng.uniform(0.02, 0.15))
    return Street(road=road, sidewalk=sidewalk, facade=facade, far=rng.uniform(0.06, 0.12), terrain=terrain)


def draw_sky(canvas: SceneCanvas, ground: Ground, rng: np.random.Generator) -> None:
    overcast = rng.random() < 0.3
    color = P.jitter(rng, (200, 205, 210) if overcast else (110, 160, 215), 15)
    # Brighter towards the horizon, as a real sky: positive shade from top to bottom.
    canvas.rectangle(0, 0, ground.width, ground.horizon + 2, P.SKY, color, Surface(0.04, 0.01, 0.25))


def draw_ground(canvas: SceneCanvas, ground: Ground, street: Street, rng: np.random.Generator) -> None:
    """Sidewalks, terrain, road, parking strips, curbs, markings and rail tracks."""
    pavement = P.grey(rng)
    # Road and sidewalk are often close in colour: only texture and curbs tell them apart.
    road_color = P.jitter(rng, pavement, 18) if rng.random() < 0.5 else P.grey(rng)
    stones = Surface(0.08, 0.04)
    for side in (-1, 1):
        canvas.polygon(
            ground.ground_strip(side * street.road, side * (street.facade + 3), 0.0, S_NEAR),
            P.SIDEWALK,
            pavement,
            stones,
        )
        _draw_paving_joints(canvas, ground, street, side, pavement, rng)
        if street.terrain[(side + 1) // 2]:
            canvas.polygon(
                ground.ground_strip(side * street.sidewalk, side * (street.facade + 3), 0.0, S_NEAR),
                P.TERRAIN,
                P.terrain(rng),
                Surface(0.18, 0.1),
            )
    canvas.polygon(
        ground.ground_strip(-street.road, street.road, 0.0, S_NEAR), P.ROAD, road_color, Surface(0.1, 0.05)
    )
    if rng.random() < 0.3:
        side = rng.choice((-1, 1))
        inner = street.road - rng.uniform(0.08, 0.14)
        canvas.polygon(
            ground.ground_strip(side * inner, side * street.road, 0.0, S_NEAR),
            P.PARKING,
            P.jitter(rng, road_color, 10),
            Surface(0.1, 0.05),
        )
    for side in (-1, 1):
        curb = street.road + 0.015
        canvas.polygon(
            ground.ground_strip(side * street.road, side * curb, 0.0, S_NEAR),
            P.SIDEWALK,
            P.jitter(rng, (175, 172, 168), 10),
            Surface(0.03, 0.03),
        )
    _draw_markings(canvas, ground, street, rng)
    if rng.random() < 0.15:
        offset = rng.uniform(-0.2, 0.2)
        for rail in (-0.09, 0.09):
            canvas.polygon(
                ground.ground_strip(offset + rail - 0.006, offset + rail + 0.006, 0.0, S_NEAR),
                P.RAIL_TRACK,
                (150.0, 150.0, 155.0),
                Surface(0.02, 0.02),
            )


def _draw_paving_joints(
    canvas: SceneCanvas, ground: Ground, street: Street, side: int, color: tuple, rng: np.random.Generator
) -> None:
    """Dark joints between paving slabs: colour edges inside the sidewalk class."""
    joint = P.darker(color, 0.75)
    for z in np.arange(1.0, 1.0 / street.far, rng.uniform(0.6, 1.2)):
        s = 1.0 / z
        thickness = max(1.0, ground.pixels(0.004, s))
        start = (ground.x(side * street.road, s), ground.y(s))
        end = (ground.x(side * street.sidewalk, s), ground.y(s))
        canvas.line(start, end, thickness, P.SIDEWALK, joint, Surface(0.05, 0.05))


def _draw_markings(canvas: SceneCanvas, ground: Ground, street: Street, rng: np.random.Generator) -> None:
    white = P.jitter(rng, (225, 225, 220), 10)
    paint = Surface(0.04, 0.04)
    dash = rng.uniform(0.8, 1.6)
    z = rng.uniform(0.8, 1.6)
    while z < 1.0 / street.far:
        s0, s1 = 1.0 / (z + dash), 1.0 / z
        canvas.polygon(ground.ground_strip(-0.008, 0.008, s0, s1), P.ROAD, white, paint)
        z += 2.2 * dash
    for side in (-1, 1):
        edge = side * (street.road - 0.04)
        canvas.polygon(ground.ground_strip(edge - 0.006, edge + 0.006, 0.0, S_NEAR), P.ROAD, white, paint)
    if rng.random() < 0.35:
        z0 = rng.uniform(1.5, 4.0)
        s0, s1 = 1.0 / (z0 + 0.6), 1.0 / z0
        for lateral in np.arange(-street.road + 0.05, street.road - 0.05, 0.09):
            canvas.polygon(ground.ground_strip(lateral, lateral + 0.045, s0, s1), P.ROAD, white, paint)


def draw_far_end(
    canvas: SceneCanvas, ground: Ground, street: Street, rng: np.random.Generator, *, low: bool = False
) -> None:
    """Buildings or trees closing the street at the vanishing point; ``low`` keeps sky above them."""
    s = street.far
    left, right = ground.x(-street.facade, s), ground.x(street.facade, s)
    x = left
    while x < right:
        step = ground.pixels(rng.uniform(0.3, 0.8), s)
        top = ground.y(s) - ground.pixels(rng.uniform(0.5, 1.0) if low else rng.uniform(0.8, 3.0), s)
        if rng.random() < 0.25:
            canvas.ellipse(
                ((x + x + step) / 2, top + step / 2),
                (step / 1.6, step / 1.4),
                P.VEGETATION,
                P.green(rng),
                Surface(0.2, 0.12),
            )
            canvas.rectangle(
                x, top + step / 2, x + step, ground.y(s), P.VEGETATION, P.green(rng), Surface(0.2, 0.12)
            )
        else:
            canvas.rectangle(
                x, top, x + step, ground.y(s) + 1, P.BUILDING, P.facade(rng), Surface(0.08, 0.04)
            )
        x += step


def draw_facades(
    canvas: SceneCanvas, ground: Ground, street: Street, rng: np.random.Generator, *, low: bool = False
) -> None:
    """Rows of buildings with window grids along both sides, far to near; ``low`` ones leave sky."""
    for side in (-1, 1):
        lateral = side * street.facade
        z = 1.0 / street.far
        while z > 0.4:
            length = rng.uniform(0.8, 3.0)
            z_near = max(z - length, 0.35)
            s0, s1 = 1.0 / z, 1.0 / z_near
            height = rng.uniform(0.6, 1.0) if low else rng.uniform(1.2, 4.0)
            color = P.facade(rng)
            # Lit and shaded facades differ: brightness varies per building and darkens upwards.
            canvas.polygon(
                ground.wall_quad(lateral, s0, s1, height),
                P.BUILDING,
                P.darker(color, rng.uniform(0.7, 1.1)),
                Surface(0.07, 0.03, rng.uniform(-0.2, 0.2)),
            )
            _draw_windows(canvas, ground, lateral, z, z_near, height, rng)
            z = z_near - (rng.uniform(0.05, 0.3) if rng.random() < 0.2 else 0.0)


def _draw_windows(
    canvas: SceneCanvas,
    ground: Ground,
    lateral: float,
    z_far: float,
    z_near: float,
    height: float,
    rng: np.random.Generator,
) -> None:
    """Window grid on a facade; glass is dark or reflects the sky (close to the sky's colour)."""
    glass = P.jitter(rng, (125, 165, 205), 15) if rng.random() < 0.3 else P.jitter(rng, (45, 50, 60), 10)
    spacing = rng.uniform(0.25, 0.45)
    floors = np.arange(0.35, height - 0.25, spacing)
    columns = np.arange(z_near + 0.1, z_far - 0.15, rng.uniform(0.25, 0.5))
    for z in columns:
        s0, s1 = 1.0 / (z + 0.12), 1.0 / z
        if ground.pixels(0.1, s1) < 1.0:
            continue
        for floor in floors:
            quad = ground.wall_quad(lateral, s0, s1, floor + 0.55 * spacing, floor)
            canvas.polygon(quad, P.BUILDING, glass, Surface(0.05, 0.03, 0.2))


def draw_boundary_structures(
    canvas: SceneCanvas, ground: Ground, street: Street, rng: np.random.Generator, *, force: str | None
) -> None:
    """Walls, fences, hedges and guard rails along the outer edge of the sidewalks.

    Args:
        force: ``"wall"`` or ``"fence"`` to guarantee one of that kind (docs/decisions.md "SynthCity": every class appears).
    """
    kinds = ["wall", "fence", "hedge", "guard_rail", None, None]
    for side in (-1, 1):
        z = 1.0 / street.far - rng.uniform(0.0, 3.0)
        while z > 0.6:
            length = rng.uniform(1.0, 4.0)
            kind = kinds[int(rng.integers(len(kinds)))]
            if kind is not None:
                lateral = side * (street.sidewalk + (street.facade - street.sidewalk) * rng.uniform(0.4, 0.9))
                _draw_structure(canvas, ground, kind, lateral, 1.0 / z, 1.0 / max(z - length, 0.4), rng)
            z -= length + rng.uniform(0.2, 2.0)
    if force is not None:
        # One more, near and long, so that the featured class is big in the picture.
        side = -1 if rng.random() < 0.5 else 1
        lateral = side * (street.sidewalk + (street.facade - street.sidewalk) * rng.uniform(0.2, 0.5))
        z = rng.uniform(2.0, 4.0)
        _draw_structure(
            canvas, ground, force, lateral, 1.0 / z, 1.0 / max(z - rng.uniform(1.0, 2.0), 0.5), rng
        )


def _draw_structure(
    canvas: SceneCanvas,
    ground: Ground,
    kind: str,
    lateral: float,
    s0: float,
    s1: float,
    rng: np.random.Generator,
) -> None:
    if kind == "wall":
        color = P.jitter(rng, P.grey(rng), 20)
        canvas.polygon(
            ground.wall_quad(lateral, s0, s1, rng.uniform(0.15, 0.4)), P.WALL, color, Surface(0.12, 0.06)
        )
    elif kind == "hedge":
        canvas.polygon(
            ground.wall_quad(lateral, s0, s1, rng.uniform(0.15, 0.35)),
            P.VEGETATION,
            P.green(rng),
            Surface(0.25, 0.15),
        )
    elif kind == "guard_rail":
        canvas.polygon(ground.wall_quad(lateral, s0, s1, 0.1, 0.06), P.GUARD_RAIL, (170.0, 172.0, 175.0))
    else:
        # Fence: the whole area is labelled fence (as in Cityscapes' polygons), the image shows
        # bars and the background between them through a darker fill.
        top = rng.uniform(0.12, 0.3)
        color = P.jitter(rng, (110, 100, 90) if rng.random() < 0.5 else (70, 80, 75), 15)
        canvas.polygon(
            ground.wall_quad(lateral, s0, s1, top), P.FENCE, P.darker(color, 0.55), Surface(0.2, 0.1)
        )
        z0, z1 = 1.0 / s0, 1.0 / s1
        for z in np.arange(z1, z0, 0.12):
            s = 1.0 / z
            x = ground.x(lateral, s)
            canvas.line(
                (x, ground.y(s)),
                (x, ground.y(s) - ground.pixels(top, s)),
                ground.pixels(0.01, s),
                P.FENCE,
                color,
                Surface(0.05, 0.05),
            )
        canvas.polygon(ground.wall_quad(lateral, s0, s1, top, top - 0.02), P.FENCE, color)
