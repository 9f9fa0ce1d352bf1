"""Label ids and colour choices of SynthCity objects.

Label ids are looked up by name in cityscapesscripts (docs/method.md §2.2: real Cityscapes labelIds). Colours
are deliberately close across neighbouring classes (road/sidewalk/wall greys, vegetation/terrain
greens, window glass/sky blues) so that colour alone does not separate the classes.
"""

from __future__ import annotations

import numpy as np
from cityscapesscripts.helpers.labels import name2label

from basnet_lib.data.synthcity.canvas import Color

ROAD = name2label["road"].id
SIDEWALK = name2label["sidewalk"].id
PARKING = name2label["parking"].id
RAIL_TRACK = name2label["rail track"].id
BUILDING = name2label["building"].id
WALL = name2label["wall"].id
FENCE = name2label["fence"].id
GUARD_RAIL = name2label["guard rail"].id
POLE = name2label["pole"].id
TRAFFIC_LIGHT = name2label["traffic light"].id
TRAFFIC_SIGN = name2label["traffic sign"].id
VEGETATION = name2label["vegetation"].id
TERRAIN = name2label["terrain"].id
SKY = name2label["sky"].id
PERSON = name2label["person"].id
RIDER = name2label["rider"].id
CAR = name2label["car"].id
TRUCK = name2label["truck"].id
BUS = name2label["bus"].id
TRAIN = name2label["train"].id
MOTORCYCLE = name2label["motorcycle"].id
BICYCLE = name2label["bicycle"].id
EGO_VEHICLE = name2label["ego vehicle"].id
STATIC = name2label["static"].id

_GREYS = ((92, 92, 96), (105, 102, 100), (120, 118, 115), (135, 133, 130), (150, 148, 145))
_PAINT = (
    (200, 200, 205),
    (30, 30, 34),
    (120, 122, 128),
    (165, 168, 172),
    (140, 25, 25),
    (30, 50, 110),
    (35, 70, 45),
    (190, 160, 60),
    (95, 95, 100),
    (210, 120, 40),
)
_FACADES = (
    (190, 175, 150),
    (160, 85, 60),
    (130, 130, 128),
    (215, 210, 200),
    (120, 95, 75),
    (175, 165, 140),
    (100, 105, 115),
)
_CLOTHES = (
    (30, 30, 35),
    (60, 60, 70),
    (120, 30, 30),
    (40, 60, 120),
    (200, 200, 195),
    (90, 80, 60),
    (150, 120, 90),
    (70, 110, 70),
    (180, 60, 100),
)
_SKIN = ((230, 190, 160), (200, 150, 110), (150, 100, 70), (95, 65, 45))
_GREENS = ((60, 95, 40), (80, 110, 45), (45, 75, 35), (100, 120, 60), (70, 90, 55))
_TERRAIN = ((95, 115, 60), (120, 125, 75), (140, 125, 90), (85, 105, 55))
_SIGNS = ((200, 30, 30), (30, 70, 170), (235, 235, 235), (230, 190, 30), (30, 130, 60))
_LAMPS = ((230, 40, 30), (240, 170, 20), (40, 210, 80))


def jitter(rng: np.random.Generator, color: tuple[int, int, int], amount: float = 12.0) -> Color:
    """``color`` with independent uniform noise of ±``amount`` per channel, clipped to 0..255."""
    values = np.clip(np.asarray(color, dtype=np.float64) + rng.uniform(-amount, amount, 3), 0, 255)
    return (float(values[0]), float(values[1]), float(values[2]))


def pick(rng: np.random.Generator, colors: tuple[tuple[int, int, int], ...], amount: float = 12.0) -> Color:
    return jitter(rng, colors[int(rng.integers(len(colors)))], amount)


def grey(rng: np.random.Generator) -> Color:
    return pick(rng, _GREYS, 8)


def paint(rng: np.random.Generator) -> Color:
    return pick(rng, _PAINT)


def facade(rng: np.random.Generator) -> Color:
    return pick(rng, _FACADES, 15)


def clothes(rng: np.random.Generator) -> Color:
    return pick(rng, _CLOTHES)


def skin(rng: np.random.Generator) -> Color:
    return pick(rng, _SKIN, 8)


def green(rng: np.random.Generator) -> Color:
    return pick(rng, _GREENS)


def terrain(rng: np.random.Generator) -> Color:
    return pick(rng, _TERRAIN)


def sign(rng: np.random.Generator) -> Color:
    return pick(rng, _SIGNS, 8)


def lamp(rng: np.random.Generator) -> Color:
    return pick(rng, _LAMPS, 8)


def darker(color: Color, factor: float) -> Color:
    return (color[0] * factor, color[1] * factor, color[2] * factor)
