"""Cityscapes ids and names from ``cityscapesscripts``, and its own pixel-level evaluation.

Class names and the trainId → labelId table come from ``cityscapesscripts.helpers.labels`` (never a
hand-written table). :func:`evaluate_with_cityscapesscripts` runs the official
``evalPixelLevelSemanticLabeling`` on label PNGs: the tests and the benchmark compare our mIoU with it
(docs/method.md §5.1).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from basnet_lib.data.labels import CLASS_NAMES, NUM_CLASSES, TRAIN_ID_TO_LABEL_ID

# trainId → labelId for every byte value; 255 (ignore) and unused ids → 0 (``unlabeled``).
_TRAIN_ID_TO_LABEL_ID_LUT = np.zeros(256, dtype=np.uint8)
_TRAIN_ID_TO_LABEL_ID_LUT[:NUM_CLASSES] = TRAIN_ID_TO_LABEL_ID


def cityscapes_class_names(num_classes: int = NUM_CLASSES) -> tuple[str, ...]:
    """Names of trainIds ``0..num_classes-1``; ``class_<i>`` beyond Cityscapes' 19."""
    return tuple(
        CLASS_NAMES[train_id] if train_id < NUM_CLASSES else f"class_{train_id}"
        for train_id in range(num_classes)
    )


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Map a uint8/int trainId map to Cityscapes labelIds (255 → ``unlabeled``), for the server
    (docs/method.md §6.3)."""
    if train_ids.min(initial=0) < 0 or train_ids.max(initial=0) > 255:
        raise ValueError("trainIds must lie in 0..255")
    return _TRAIN_ID_TO_LABEL_ID_LUT[train_ids.astype(np.intp)]


def evaluate_with_cityscapesscripts(
    *, prediction_files: Sequence[Path | str], ground_truth_files: Sequence[Path | str]
) -> dict[str, object]:
    """Run ``cityscapesscripts``' ``evaluateImgLists`` on labelId PNGs; return its result dict.

    Pixel level only: the instance-level score is off (it needs ``*_instanceIds.png``), nothing is
    printed or written. The result has ``classScores`` (name → IoU, NaN for ignored labels) and
    ``averageScoreClasses`` (mIoU). It calls ``np.in1d`` only for the instance and pixel-accuracy
    scores, which stay off; the ``numpy<2.4`` pin in pyproject.toml keeps it importable and callable
    anyway.
    """
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cityscapes_eval

    # A copy: the module keeps its settings in a global object.
    args = copy.copy(cityscapes_eval.args)
    args.evalInstLevelScore = False
    args.evalPixelAccuracy = False
    args.JSONOutput = False
    args.quiet = True
    args.colorized = False
    args.bold = ""
    args.nocol = ""
    return cityscapes_eval.evaluateImgLists(
        [str(path) for path in prediction_files], [str(path) for path in ground_truth_files], args
    )
