"""Cityscapes label tables built from ``cityscapesscripts.helpers.labels`` (docs/decisions.md "Data").

Nothing here is hand-written: the labelId → trainId table, the class names and the colours all
come from cityscapesscripts, so that SynthCity, the real dataset and cityscapesscripts' own
evaluation agree on every id.
"""

from __future__ import annotations

import numpy as np
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS

IGNORE_INDEX = 255
NUM_CLASSES = 19

# labelIds that may appear in a ``*_gtFine_labelIds.png``; "license plate" (id -1) never does.
VALID_LABEL_IDS: tuple[int, ...] = tuple(sorted(label.id for label in CITYSCAPES_LABELS if label.id >= 0))

# The 19 evaluated classes, in trainId order.
TRAIN_LABELS = tuple(
    sorted(
        (label for label in CITYSCAPES_LABELS if 0 <= label.trainId < NUM_CLASSES),
        key=lambda label: label.trainId,
    )
)
CLASS_NAMES: tuple[str, ...] = tuple(label.name for label in TRAIN_LABELS)
# labelId of each trainId (the inverse map, used to write predictions and SynthCity labels).
TRAIN_ID_TO_LABEL_ID: tuple[int, ...] = tuple(label.id for label in TRAIN_LABELS)


def _label_id_to_train_id_lut() -> np.ndarray:
    """uint8 table of 256 entries: trainId of each labelId, 255 for ignored ids.

    Entries for byte values that are not Cityscapes labelIds are 255 too; readers reject such ids
    before using the table (see :func:`unknown_label_ids`).
    """
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in CITYSCAPES_LABELS:
        if label.id >= 0 and 0 <= label.trainId < NUM_CLASSES:
            lut[label.id] = label.trainId
    return lut


LABEL_ID_TO_TRAIN_ID = _label_id_to_train_id_lut()
_VALID_LABEL_ID_MASK = np.zeros(256, dtype=bool)
_VALID_LABEL_ID_MASK[list(VALID_LABEL_IDS)] = True

# RGB colour of each labelId (for ``*_gtFine_color.png``) and of each trainId (for figures; 255 black).
LABEL_ID_COLORS = np.zeros((256, 3), dtype=np.uint8)
for _label in CITYSCAPES_LABELS:
    if _label.id >= 0:
        LABEL_ID_COLORS[_label.id] = _label.color
TRAIN_ID_COLORS = np.zeros((256, 3), dtype=np.uint8)
for _label in TRAIN_LABELS:
    TRAIN_ID_COLORS[_label.trainId] = _label.color


def unknown_label_ids(label_ids: np.ndarray) -> list[int]:
    """Sorted values of a uint8 labelId image that are not ids of the Cityscapes table."""
    present = np.flatnonzero(np.bincount(label_ids.ravel(), minlength=256))
    return [int(value) for value in present if not _VALID_LABEL_ID_MASK[value]]


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a uint8 labelId image to trainIds (0..18, 255 ignore) with the cityscapesscripts table."""
    return LABEL_ID_TO_TRAIN_ID[label_ids]


def colorize_label_ids(label_ids: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) uint8 rendering of a labelId image in the Cityscapes colours."""
    return LABEL_ID_COLORS[label_ids]


def colorize_train_ids(train_ids: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) uint8 rendering of a trainId image; ignore (255) is black."""
    return TRAIN_ID_COLORS[train_ids]
