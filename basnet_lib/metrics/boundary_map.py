"""Quality of a boundary probability map against the binary edge target, as counts first.

The boundary branch's sigmoid output ``p`` (N, 1, H, W) is compared with the edge target of
:func:`basnet_lib.data.edges.edge_target` pixel by pixel: no distance tolerance, because that
target is already a band of ±2 pixels around each label change (a tolerance on top would count
the band twice). The state is two int64 histograms of ``p`` over ``num_bins`` equal-width bins
(edge pixels, non-edge pixels), which add across batches, accumulators and DDP processes; the
precision/recall curve, the dataset-level best F ("ODS") and the step-wise average precision
follow from them. Threshold ``t_k = k / num_bins`` predicts "edge" for the pixels of bins
``>= k``, i.e. where ``p >= t_k`` up to the float rounding of ``p · num_bins``.

A binary map (the Canny channel of ``G``) fills only the first and last bins, so its curve has
two points: the map itself (every ``t_k`` with ``k >= 1``) and "everything is edge" (``t_0``),
whose F is :func:`constant_map_f` of the edge fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from basnet_lib.metrics.reduction import all_reduce_sum_, as_state_tensor

DEFAULT_NUM_BINS = 100


def constant_map_f(edge_fraction: float) -> float:
    """ODS F of a map that is the same everywhere: precision = edge fraction, recall = 1.

    The baseline to read :attr:`BoundaryMapScores.ods_f` against: ``2p / (1 + p)``.
    """
    if not 0.0 <= edge_fraction <= 1.0:
        raise ValueError(f"edge_fraction={edge_fraction} must be in [0, 1]")
    # Same operations as the accumulator's 2·P·R/(P+R) with R = 1, so the two agree bit for bit.
    return 2 * edge_fraction * 1.0 / (edge_fraction + 1.0)


@dataclass(frozen=True)
class BoundaryMapScores:
    """Pixel-exact precision/recall of a boundary map over thresholds ``t_k = k / num_bins``.

    ``precision`` is NaN where no pixel is predicted, ``recall`` NaN where there is no edge pixel;
    ``f_measure`` is 0 where nothing is matched. ``ods_*`` and ``average_precision`` are NaN
    without edge pixels.
    """

    thresholds: tuple[float, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f_measure: tuple[float, ...]
    ods_f: float
    ods_threshold: float
    average_precision: float
    edge_fraction: float
    num_pixels: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (NaN → None); ``constant_map_F`` is the baseline of a constant map."""
        baseline = float("nan") if math.isnan(self.edge_fraction) else constant_map_f(self.edge_fraction)
        return {
            "ODS_F": _json_number(self.ods_f),
            "ODS_threshold": _json_number(self.ods_threshold),
            "AP": _json_number(self.average_precision),
            "edge_fraction": _json_number(self.edge_fraction),
            "constant_map_F": _json_number(baseline),
            "num_pixels": self.num_pixels,
            "thresholds": list(self.thresholds),
            "precision": [_json_number(value) for value in self.precision],
            "recall": [_json_number(value) for value in self.recall],
        }


class BoundaryMapQuality:
    """Histograms of boundary probabilities: ``edge_counts`` / ``non_edge_counts`` (num_bins,) int64.

    Pixel ``p`` falls in bin ``min(floor(p · num_bins), num_bins − 1)``. Matching is pixel-exact
    (no distance tolerance; the edge target is already a 2-pixel band). The counts add across
    batches (:meth:`update`), accumulators (:meth:`merge`) and DDP processes (:meth:`reduce_`).
    """

    def __init__(self, num_bins: int = DEFAULT_NUM_BINS, *, device: torch.device | str = "cpu") -> None:
        if num_bins < 1:
            raise ValueError(f"num_bins={num_bins} must be at least 1")
        self.num_bins = num_bins
        self.edge_counts = torch.zeros(num_bins, dtype=torch.int64, device=device)
        self.non_edge_counts = torch.zeros(num_bins, dtype=torch.int64, device=device)

    def reset(self) -> None:
        self.edge_counts.zero_()
        self.non_edge_counts.zero_()

    @torch.no_grad()
    def update(self, probabilities: Tensor, target: Tensor, valid: Tensor | None = None) -> None:
        """Add a batch: probabilities in [0, 1] and a {0, 1} edge target, (N, 1, H, W) or (N, H, W).

        ``valid`` (boolean, same shape rules) drops the pixels where it is False.
        """
        probabilities = _as_batch(probabilities, "probabilities")
        target = _as_batch(target, "target")
        if probabilities.shape != target.shape:
            raise ValueError(
                f"probabilities {tuple(probabilities.shape)} and target {tuple(target.shape)} differ in (N, H, W)"
            )
        _check_probabilities(probabilities)
        is_edge = _binary_target(target)
        if valid is not None:
            valid = _as_batch(valid, "valid")
            if valid.dtype != torch.bool or valid.shape != target.shape:
                raise ValueError(
                    f"valid must be a boolean mask of shape {tuple(target.shape)}, got {valid.dtype} "
                    f"{tuple(valid.shape)}"
                )
        counts = _histograms(probabilities, is_edge, valid, num_bins=self.num_bins)
        self.non_edge_counts += counts[0].to(self.non_edge_counts.device)
        self.edge_counts += counts[1].to(self.edge_counts.device)

    def merge(self, other: BoundaryMapQuality) -> None:
        """Add another accumulator's histograms (same number of bins)."""
        if other.num_bins != self.num_bins:
            raise ValueError(f"cannot merge {other.num_bins} bins into {self.num_bins}")
        self.edge_counts += as_state_tensor(other.edge_counts, like=self.edge_counts)
        self.non_edge_counts += as_state_tensor(other.non_edge_counts, like=self.non_edge_counts)

    def reduce_(self) -> None:
        """Sum the histograms over DDP processes in place (no-op outside ``torch.distributed``)."""
        all_reduce_sum_(self.edge_counts)
        all_reduce_sum_(self.non_edge_counts)

    def scores(self) -> BoundaryMapScores:
        """Curves over ``t_k = k / num_bins``, ODS F, step-wise AP and the edge fraction."""
        return boundary_map_scores(self.edge_counts, self.non_edge_counts)


def boundary_map_scores(edge_counts: Tensor, non_edge_counts: Tensor) -> BoundaryMapScores:
    """Scores of the two histograms (num_bins,) of :class:`BoundaryMapQuality`."""
    num_bins = edge_counts.numel()
    # Predicting "edge" from bin k upwards: true/false positives are suffix sums over the bins.
    true_pos = edge_counts.cpu().to(torch.float64).flip(0).cumsum(0).flip(0)
    false_pos = non_edge_counts.cpu().to(torch.float64).flip(0).cumsum(0).flip(0)
    positives, total = float(true_pos[0]), float(true_pos[0] + false_pos[0])
    precision = true_pos / (true_pos + false_pos)  # NaN where nothing is predicted
    recall = true_pos / positives if positives > 0 else torch.full_like(true_pos, float("nan"))
    f_measure = 2 * precision * recall / (precision + recall)
    f_measure = torch.where(true_pos > 0, f_measure, torch.zeros_like(f_measure))
    thresholds = tuple(k / num_bins for k in range(num_bins))
    nan = float("nan")
    ods_f, ods_threshold, average_precision = nan, nan, nan
    if positives > 0:
        # Ties (e.g. a constant or binary map) go to the highest threshold, the tightest cut.
        best = num_bins - 1 - int(torch.argmax(f_measure.flip(0)))
        ods_f, ods_threshold = float(f_measure[best]), thresholds[best]
        average_precision = step_average_precision(precision, recall)
    return BoundaryMapScores(
        thresholds=thresholds,
        precision=tuple(float(value) for value in precision),
        recall=tuple(float(value) for value in recall),
        f_measure=tuple(float(value) for value in f_measure),
        ods_f=ods_f,
        ods_threshold=ods_threshold,
        average_precision=average_precision,
        edge_fraction=positives / total if total > 0 else nan,
        num_pixels=int(total),
    )


def step_average_precision(precision: Tensor, recall: Tensor) -> float:
    """``Σ_k P_k · (R_k − R_{k+1})`` from the highest threshold down, ``R`` = 0 above it.

    This is sklearn's ``average_precision_score`` (no interpolation) with the bins as scores.
    A threshold that adds no edge pixel adds nothing, also where its precision is undefined.
    """
    recall_gain = recall - torch.cat([recall[1:], recall.new_zeros(1)])
    terms = torch.where(recall_gain > 0, precision * recall_gain, torch.zeros_like(recall_gain))
    return float(terms.sum())


def _as_batch(values: Tensor, name: str) -> Tensor:
    """(N, 1, H, W) or (N, H, W) → (N, H, W)."""
    if values.ndim == 4 and values.shape[1] == 1:
        return values[:, 0]
    if values.ndim == 3:
        return values
    raise ValueError(f"{name} must be (N, 1, H, W) or (N, H, W), got {tuple(values.shape)}")


def _check_probabilities(probabilities: Tensor) -> None:
    if probabilities.dtype == torch.bool or probabilities.is_complex():
        raise ValueError(f"probabilities must be real numbers in [0, 1], got dtype {probabilities.dtype}")
    if probabilities.numel() == 0:
        return
    if not bool(torch.isfinite(probabilities).all()):
        raise ValueError("probabilities must be finite numbers in [0, 1] (got NaN or inf)")
    low, high = (float(value) for value in torch.aminmax(probabilities))
    if low < 0 or high > 1:
        raise ValueError(
            f"probabilities have values in [{low}, {high}], expected [0, 1] (apply the sigmoid first)"
        )


def _binary_target(target: Tensor) -> Tensor:
    """Boolean edge mask of a {0, 1} target (float, integer or bool)."""
    if target.dtype == torch.bool:
        return target
    is_edge = target == 1
    if not bool((is_edge | (target == 0)).all()):
        raise ValueError("target must be a binary edge map with values in {0, 1}")
    return is_edge


def _histograms(probabilities: Tensor, is_edge: Tensor, valid: Tensor | None, *, num_bins: int) -> Tensor:
    """(2, num_bins) int64 counts [non-edge, edge] of one batch, on the tensors' device."""
    # float32 at least: half precision would move p · num_bins across bin edges. The product is
    # taken in the input's precision, so 0.3 lands in bin 30 as it reads, not in bin 29.
    values = probabilities if probabilities.dtype == torch.float64 else probabilities.to(torch.float32)
    bins = torch.clamp((values * num_bins).floor_(), max=num_bins - 1).to(torch.int64)
    # One bincount over edge·B + bin fills both histograms; invalid pixels go to a dropped bin.
    index = bins + is_edge.to(torch.int64) * num_bins
    if valid is not None:
        index = torch.where(valid.to(index.device), index, 2 * num_bins)
    return torch.bincount(index.reshape(-1), minlength=2 * num_bins + 1)[: 2 * num_bins].view(2, num_bins)


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value
