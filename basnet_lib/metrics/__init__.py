"""Evaluation metrics (docs/method.md §5): mIoU, GSCNN's boundary F-score and the boundary-map
quality, as reducible counts first."""

from basnet_lib.data.labels import IGNORE_INDEX, NUM_CLASSES
from basnet_lib.metrics.boundary_fscore import (
    GSCNN_THRESHOLDS,
    BoundaryCounts,
    BoundaryFScore,
    BoundaryFScores,
    boundary_f_measure,
    boundary_fscores,
    boundary_match_counts,
    boundary_radii,
    boundary_radius,
)
from basnet_lib.metrics.boundary_iou import (
    BOUNDARY_IOU_BANDS,
    BoundaryIoU,
    BoundaryIoUScores,
    boundary_iou_columns,
)
from basnet_lib.metrics.boundary_map import (
    BoundaryMapQuality,
    BoundaryMapScores,
    boundary_map_scores,
    constant_map_f,
)
from basnet_lib.metrics.cityscapes import (
    cityscapes_class_names,
    evaluate_with_cityscapesscripts,
    train_ids_to_label_ids,
)
from basnet_lib.metrics.confusion import ConfusionMatrix, SegmentationScores, intersection_over_union
from basnet_lib.metrics.reduction import all_reduce_sum_

__all__ = [
    "BOUNDARY_IOU_BANDS",
    "GSCNN_THRESHOLDS",
    "IGNORE_INDEX",
    "NUM_CLASSES",
    "BoundaryCounts",
    "BoundaryFScore",
    "BoundaryFScores",
    "BoundaryIoU",
    "BoundaryIoUScores",
    "BoundaryMapQuality",
    "BoundaryMapScores",
    "ConfusionMatrix",
    "SegmentationScores",
    "all_reduce_sum_",
    "boundary_f_measure",
    "boundary_fscores",
    "boundary_iou_columns",
    "boundary_map_scores",
    "boundary_match_counts",
    "boundary_radii",
    "boundary_radius",
    "cityscapes_class_names",
    "constant_map_f",
    "evaluate_with_cityscapesscripts",
    "intersection_over_union",
    "train_ids_to_label_ids",
]
