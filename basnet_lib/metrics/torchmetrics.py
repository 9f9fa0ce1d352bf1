"""The exact metrics as ``torchmetrics.Metric`` classes, for training loops of one's own (PyTorch
Lightning's ``validation_step``, or any loop): Cityscapes mIoU, GSCNN's boundary F-score and Boundary
IoU (docs/method.md §5.1, §5.2, §5.4).

Each class's states are the counts of the library's own accumulator, with sum reduction, so they
synchronise across processes the torchmetrics way and score exactly as :mod:`basnet_lib.metrics`
does. torchmetrics is an optional dependency (``pip install torchmetrics``, or the ``torchmetrics`` extra).

    iou, boundary_f = CityscapesIoU(), GSCNNBoundaryF()
    iou.update(logits.argmax(1), labels); boundary_f.update(logits.argmax(1), labels)
    iou.compute()["mIoU"], boundary_f.compute()["F"]  # tensors: log them, or read them
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torchmetrics import Metric

from basnet_lib.data.labels import IGNORE_INDEX, NUM_CLASSES
from basnet_lib.metrics.boundary_fscore import GSCNN_THRESHOLDS, BoundaryFScore
from basnet_lib.metrics.boundary_iou import BOUNDARY_IOU_BANDS, BoundaryIoU
from basnet_lib.metrics.confusion import ConfusionMatrix

Accumulator = ConfusionMatrix | BoundaryFScore | BoundaryIoU


class _CountsMetric(Metric):
    """A ``Metric`` whose states are an accumulator's count tensors (summed across processes): the
    accumulator counts each batch into them, image by image as it always does (so the float sums of
    the F-score add up in the library's order), and :meth:`accumulator` scores them."""

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self, make_accumulator: Callable[[torch.device], Accumulator], states: tuple[str, ...]) -> None:
        super().__init__()
        self._make_accumulator, self._states = make_accumulator, states
        empty = make_accumulator(torch.device("cpu"))
        for name in states:
            self.add_state(name, default=getattr(empty, name), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch of integer trainId maps (the argmax of the logits) and their labels."""
        accumulator = self.accumulator()
        accumulator.update(preds, target)
        for name in self._states:
            setattr(self, name, getattr(accumulator, name))

    def accumulator(self) -> Accumulator:
        """The library's accumulator holding this metric's counts (after ``compute``'s
        synchronisation, every process's)."""
        device = getattr(self, self._states[0]).device
        accumulator = self._make_accumulator(device)
        for name in self._states:
            setattr(accumulator, name, getattr(self, name).clone())
        return accumulator


class CityscapesIoU(_CountsMetric):
    """mIoU (docs/method.md §5.1): ``compute()`` gives ``mIoU`` and ``per_class_iou`` (NaN for a class
    in neither map)."""

    def __init__(self, *, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__(
            lambda device: ConfusionMatrix(num_classes=num_classes, ignore_index=ignore_index, device=device),
            ("counts",),
        )

    def compute(self) -> dict[str, Tensor]:
        scores = self.accumulator().scores()
        return {"mIoU": _tensor(scores.mean_iou), "per_class_iou": _tensor(scores.iou)}


class GSCNNBoundaryF(_CountsMetric):
    """GSCNN's boundary F-score at ``thresholds`` (docs/method.md §5.2): ``compute()`` gives ``F``
    (T,) and ``per_class_F`` (T, K)."""

    def __init__(
        self, *, thresholds: tuple[float, ...] = GSCNN_THRESHOLDS, num_classes: int = NUM_CLASSES,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:  # fmt: skip
        def accumulator(device: torch.device) -> BoundaryFScore:
            return BoundaryFScore(thresholds=thresholds, num_classes=num_classes, ignore_index=ignore_index,
                                  device=device)  # fmt: skip

        super().__init__(accumulator, ("f_sums", "image_counts", "present_f_sums", "present_counts", "empty_pairs"))

    def compute(self) -> dict[str, Tensor]:
        scores = self.accumulator().scores()
        return {"F": _tensor(scores.mean), "per_class_F": _tensor(scores.per_class)}


class BoundaryIoUMetric(_CountsMetric):
    """Boundary IoU at band fractions ``bands`` (docs/method.md §5.4): ``compute()`` gives ``mean`` (T,)
    and ``per_class`` (T, K), NaN where a class's union is empty."""

    def __init__(
        self, *, bands: tuple[float, ...] = BOUNDARY_IOU_BANDS, num_classes: int = NUM_CLASSES,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:  # fmt: skip
        super().__init__(
            lambda device: BoundaryIoU(bands=bands, num_classes=num_classes, ignore_index=ignore_index, device=device),
            ("intersection", "union"),
        )

    def compute(self) -> dict[str, Tensor]:
        scores = self.accumulator().scores()
        return {"mean": _tensor(scores.mean), "per_class": _tensor(scores.per_class)}


def _tensor(values: float | tuple) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)  # the library's float64 scores, unrounded
