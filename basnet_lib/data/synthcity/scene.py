"""One SynthCity street scene: layout sampling and back-to-front painting (docs/method.md §2.2).

Every scene *features* one of the 19 training classes (``featured_train_id``): the layout is
forced to contain it (and the scene is redrawn if nearer things hide it), and the writer features
class ``index % 19``, so any split of at least 19 images contains every class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from basnet_lib.data.labels import CLASS_NAMES, NUM_CLASSES, TRAIN_ID_TO_LABEL_ID
from basnet_lib.data.synthcity import background, objects, people, vehicles
from basnet_lib.data.synthcity import palette as P
from basnet_lib.data.synthcity.canvas import SceneCanvas, Surface
from basnet_lib.data.synthcity.perspective import Ground

Street = background.Street


@dataclass(frozen=True)
class Thing:
    """An object to paint: its scale (depth), lateral offset and how to draw it."""

    s: float
    lateral: float
    draw: Callable[[SceneCanvas, Ground, float, float, np.random.Generator], None]


def render_scene(
    rng: np.random.Generator, *, height: int, width: int, featured_train_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 (H, W, 3) image and uint8 (H, W) Cityscapes labelIds of one random street.

    The featured class is placed in the layout; when nearer things happen to hide it entirely,
    the scene is drawn again from the same generator (deterministic, rarely needed), up to
    ``_ATTEMPTS`` times.
    """
    if not 0 <= featured_train_id < NUM_CLASSES:
        raise ValueError(f"featured_train_id={featured_train_id} is not a trainId 0..{NUM_CLASSES - 1}")
    featured_label_id = TRAIN_ID_TO_LABEL_ID[featured_train_id]
    for _ in range(_ATTEMPTS):
        image, label_ids = _render_street(rng, height, width, CLASS_NAMES[featured_train_id])
        if (label_ids == featured_label_id).any():
            break
    return image, label_ids


# Redraws allowed for a scene whose featured class ended up hidden.
_ATTEMPTS = 10


def _render_street(
    rng: np.random.Generator, height: int, width: int, featured: str
) -> tuple[np.ndarray, np.ndarray]:
    ground = Ground(
        height=height,
        width=width,
        horizon=height * rng.uniform(0.36, 0.48),
        vanish_x=width * rng.uniform(0.4, 0.6),
    )
    street = background.sample_street(rng, force_terrain=featured == "terrain")
    canvas = SceneCanvas(height, width)
    background.draw_sky(canvas, ground, rng)
    background.draw_ground(canvas, ground, street, rng)
    background.draw_far_end(canvas, ground, street, rng, low=featured == "sky")
    background.draw_facades(canvas, ground, street, rng, low=featured == "sky")
    force_structure = featured if featured in ("wall", "fence") else None
    background.draw_boundary_structures(canvas, ground, street, rng, force=force_structure)
    _cast_building_shadow(canvas, ground, street, rng)
    things = _sample_things(rng, street, featured)
    for thing in sorted(things, key=lambda thing: thing.s):
        thing.draw(canvas, ground, thing.lateral, thing.s, rng)
    if rng.random() < 0.35:
        # Cityscapes' ego vehicle: the car's own bonnet at the bottom, ignored in training.
        canvas.ellipse(
            (width * rng.uniform(0.4, 0.6), height * 1.08),
            (width * 0.75, height * 0.14),
            P.EGO_VEHICLE,
            P.jitter(rng, (40, 40, 45), 10),
            Surface(0.03, 0.02, -0.3),
        )
    light = (rng.uniform(0.85, 1.1), rng.uniform(-0.3, 0.3), rng.uniform(-0.1, 0.15))
    return canvas.render(rng, light=light)


def _cast_building_shadow(
    canvas: SceneCanvas, ground: Ground, street: Street, rng: np.random.Generator
) -> None:
    """A building's shadow across sidewalk and road: a strong colour edge that is no class boundary."""
    if rng.random() > 0.55:
        return
    side = -1 if rng.random() < 0.5 else 1
    s0, s1 = 1.0 / rng.uniform(2.0, 8.0), 1.0 / rng.uniform(0.3, 1.5)
    outer = side * (street.facade + 3.0)
    edge0, edge1 = rng.uniform(-street.road, street.road, size=2)
    points = np.array(
        [
            [ground.x(outer, s0), ground.y(s0)],
            [ground.x(edge0, s0), ground.y(s0)],
            [ground.x(edge1, s1), ground.y(s1)],
            [ground.x(outer, s1), ground.y(s1)],
        ]
    )
    canvas.shadow(points, rng.uniform(0.25, 0.5))


def _depth(rng: np.random.Generator, nearest: float = 1.05, farthest: float = 9.0) -> float:
    """A scale ``s`` for an object at a distance uniform in [nearest, farthest]."""
    return 1.0 / rng.uniform(nearest, farthest)


def _sidewalk_lateral(rng: np.random.Generator, street: Street) -> float:
    side = -1 if rng.random() < 0.5 else 1
    return side * (street.road + 0.03 + rng.uniform(0.1, 0.9) * (street.sidewalk - street.road - 0.03))


def _lane_lateral(rng: np.random.Generator, street: Street) -> float:
    return rng.uniform(-street.road + 0.2, street.road - 0.2) if street.road > 0.2 else 0.0


def _sample_things(rng: np.random.Generator, street: Street, featured: str) -> list[Thing]:
    """Objects of the scene; the featured class gets one more, at a well visible distance."""
    counts = {
        "pole": int(rng.integers(2, 7)),
        "traffic light": int(rng.integers(0, 3)),
        "traffic sign": int(rng.integers(0, 3)),
        "vegetation": int(rng.integers(0, 6)),
        "person": int(rng.integers(0, 7)),
        "static": int(rng.integers(0, 3)),
        "car": int(rng.integers(0, 5)),
        "parked car": int(rng.integers(0, 4)),
    }
    for kind, probability in (
        ("truck", 0.2),
        ("bus", 0.15),
        ("train", 0.06),
        ("rider", 0.2),
        ("bicycle", 0.2),
        ("motorcycle", 0.12),
    ):
        counts[kind] = int(rng.random() < probability)
    things = [
        _make_thing(rng, street, kind, near=False) for kind, count in counts.items() for _ in range(count)
    ]
    if featured in _KINDS:
        things.append(_make_thing(rng, street, featured, near=True))
    return things


# Kinds of things _make_thing knows; the classes of the ground and background are drawn elsewhere.
_KINDS = (
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "person",
    "static",
    "car",
    "parked car",
    "truck",
    "bus",
    "train",
    "rider",
    "bicycle",
    "motorcycle",
)


def _make_thing(rng: np.random.Generator, street: Street, kind: str, *, near: bool) -> Thing:
    """One thing of ``kind``; ``near`` places it in the near half of the street, where it is big."""
    if kind in ("pole", "traffic light", "traffic sign"):
        attachment = {"traffic light": "light", "traffic sign": "sign"}.get(
            kind, rng.choice(["lamp", "none"])
        )
        draw = partial(objects.draw_pole, attachment=str(attachment))
        # Near poles run off the top of the image; a featured one stands where its top is seen.
        return Thing(_depth(rng, 3.0, 6.0) if near else _depth(rng), _sidewalk_lateral(rng, street), draw)
    if kind in ("vegetation", "person", "static", "bicycle"):
        draw = {
            "vegetation": objects.draw_tree,
            "person": people.draw_person,
            "static": objects.draw_bin,
            "bicycle": partial(people.draw_two_wheeler, motor=False, ridden=bool(rng.random() < 0.5)),
        }[kind]
        return Thing(_depth(rng, 1.3, 3.0) if near else _depth(rng), _sidewalk_lateral(rng, street), draw)
    if kind == "train":
        # A tram crossing the street ahead, in side view.
        draw = partial(vehicles.draw_large_vehicle, kind="train", side_view=True)
        return Thing(_depth(rng, 4.0, 7.0) if near else _depth(rng, 4.0, 10.0), rng.uniform(-0.3, 0.3), draw)
    draw = {
        "car": partial(vehicles.draw_car, side_view=False),
        "parked car": partial(vehicles.draw_car, side_view=False),
        "truck": partial(vehicles.draw_large_vehicle, kind="truck", side_view=bool(rng.random() < 0.3)),
        "bus": partial(vehicles.draw_large_vehicle, kind="bus", side_view=bool(rng.random() < 0.4)),
        "rider": partial(people.draw_two_wheeler, motor=bool(rng.random() < 0.4), ridden=True),
        "motorcycle": partial(people.draw_two_wheeler, motor=True, ridden=bool(rng.random() < 0.6)),
    }[kind]
    lateral = (
        (rng.choice([-1.0, 1.0]) * (street.road - 0.2))
        if kind == "parked car"
        else _lane_lateral(rng, street)
    )
    return Thing(_depth(rng, 1.5, 3.5) if near else _depth(rng, 1.2, 12.0), float(lateral), draw)
