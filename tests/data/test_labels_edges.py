"""Label mapping (docs/method.md §2.1) and edge targets (§2.4) on hand-made masks."""

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label, labels

from basnet_lib.data import (
    CLASS_NAMES,
    LABEL_ID_TO_TRAIN_ID,
    edge_target,
    label_ids_to_train_ids,
)
from basnet_lib.metrics.boundary_dense import segmentation_boundary


def test_train_ids_agree_with_cityscapesscripts_for_every_label_id():
    for label in labels:
        if label.id < 0:
            continue
        expected = label.trainId if 0 <= label.trainId < 19 else 255
        assert LABEL_ID_TO_TRAIN_ID[label.id] == expected, label.name
    all_ids = np.arange(34, dtype=np.uint8)[None]
    mapped = label_ids_to_train_ids(all_ids)[0]
    assert sorted(set(mapped.tolist()) - {255}) == list(range(19))
    assert [id2label[int(i)].name for i in np.flatnonzero(mapped == 0)] == ["road"]
    assert CLASS_NAMES[:3] == ("road", "sidewalk", "building") and CLASS_NAMES[18] == "bicycle"


def _vertical_split(
    width: int = 12, height: int = 9, left: int = 0, right: int = 1, at: int = 6
) -> np.ndarray:
    labels = np.full((height, width), left, dtype=np.uint8)
    labels[:, at:] = right
    return labels


@pytest.mark.parametrize(("left", "right"), [(0, 1), (0, 255), (13, 255)])
def test_edge_band_is_two_pixels_each_side_of_a_boundary(left, right):
    # trainId 0 included (GSCNN's bug dropped it) and ignore (255) counts as a label (docs/method.md §2.4).
    edges = edge_target(_vertical_split(left=left, right=right, at=6))
    expected_columns = [4, 5, 6, 7]  # distances 2 and 1 on the left, 1 and 2 on the right
    assert edges.dtype == np.float32
    assert np.array_equal(np.flatnonzero(edges[4]), expected_columns)
    assert (edges == edges[4]).all()  # every row the same: the top/bottom border adds nothing


def test_image_border_is_not_an_edge():
    assert not edge_target(np.zeros((7, 9), dtype=np.uint8)).any()
    assert not edge_target(np.full((7, 9), 255, dtype=np.uint8)).any()


def test_euclidean_distance_two_counts_and_beyond_two_does_not():
    labels = np.zeros((11, 11), dtype=np.uint8)
    labels[5, 5] = 7
    edges = edge_target(labels)
    rows, cols = np.mgrid[:11, :11]
    distance2 = (rows - 5) ** 2 + (cols - 5) ** 2
    assert edges[distance2 <= 4].all()  # includes (5, 7): distance exactly 2
    assert not edges[distance2 > 4].any()  # excludes (6, 7): distance √5
    assert edges[5, 7] == 1 and edges[6, 7] == 0 and edges[7, 7] == 0


def test_three_labels_and_class_ignore_corner():
    labels = np.zeros((10, 10), dtype=np.uint8)
    labels[:, 5:] = 1
    labels[7:, :] = 255
    edges = edge_target(labels)
    assert edges[0, 0] == 0 and edges[0, 3] == 1 and edges[0, 9] == 0
    assert edges[5, 0] == 1 and edges[4, 0] == 0  # 2 rows above the ignore band
    assert edges[9, 0] == 0 and edges[8, 0] == 1


def test_segmentation_boundary_marks_label_changes() -> None:
    labels = np.zeros((4, 4), dtype=np.int64)
    labels[:, 2:] = 1
    boundary = segmentation_boundary(labels)
    assert boundary[:, 1].all() and boundary.sum() == 4  # the column before the change, no image border
