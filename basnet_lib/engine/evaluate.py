"""Evaluation: full-resolution single scale or multi-scale + flip (docs/method.md §2.5), metrics as counts.

Each process evaluates every ``world_size``-th image; the metric counts are summed over processes
(docs/method.md §5.3, §8.5), so the result is the same as one process evaluating everything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.distributed import DistributedContext
from basnet_lib.gradient_map import IMAGENET_MEAN, IMAGENET_STD, canny_edges, stack_gradient_map
from basnet_lib.metrics import (
    BoundaryFScore,
    BoundaryIoU,
    BoundaryMapQuality,
    ConfusionMatrix,
    boundary_iou_columns,
)
from basnet_lib.speed.inference import prepare_for_inference

# docs/method.md §2.5: the paper's "*" setting.
MULTISCALE_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


@dataclass(frozen=True)
class Prediction:
    """Class probabilities (N, K, H, W) and boundary probabilities (N, 1, H, W) or ``None``;
    ``probe_logits``: the SAB probes' logits (3 × (N, 1, H, W), Fig. 4) of a single-scale pass
    of a model with probes, else empty."""

    probabilities: Tensor
    boundary: Tensor | None
    probe_logits: tuple[Tensor, ...] = ()

    @property
    def labels(self) -> Tensor:
        return self.probabilities.argmax(dim=1)

    @property
    def probes(self) -> list[Tensor] | None:
        """Sigmoid of each SAB probe, or ``None`` without probes."""
        return [logits.sigmoid() for logits in self.probe_logits] if self.probe_logits else None


def model_inputs(batch: dict, device: torch.device) -> tuple[Tensor, Tensor]:
    """(normalized image, gradient map G) of a data batch on ``device`` (docs/method.md §1.7)."""
    image = batch["image"].to(device, non_blocking=True)
    canny = batch["canny"].to(device, non_blocking=True)
    return image, stack_gradient_map(image, canny)


@torch.inference_mode()
def predict(model: nn.Module, image: Tensor, canny: Tensor, *, multiscale: bool = False) -> Prediction:
    """Softmax (and boundary sigmoid) of ``model`` on a normalized image batch and its Canny map.

    ``multiscale`` averages over :data:`MULTISCALE_SCALES` and horizontal flips (docs/method.md §2.5).
    At each scale the Canny map is recomputed from the resized uint8 image, as the data pipeline would
    (docs/method.md §1.7); the flipped pass flips image and Canny map.
    """
    if not multiscale:
        outputs = model(image, stack_gradient_map(image, canny))
        return Prediction(
            outputs["out"].softmax(dim=1),
            _sigmoid_or_none(outputs.get("boundary")),
            tuple(outputs.get("sab_probes") or ()),
        )
    size = image.shape[-2:]
    probabilities, boundary, passes = 0.0, 0.0, 0
    for scale in MULTISCALE_SCALES:
        scaled_size = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
        scaled = (
            image
            if scale == 1.0
            else F.interpolate(image, size=scaled_size, mode="bilinear", align_corners=False)
        )
        scaled_canny = canny if scale == 1.0 else _canny_of_normalized(scaled)
        for flip in (False, True):
            inputs, edges = (scaled.flip(-1), scaled_canny.flip(-1)) if flip else (scaled, scaled_canny)
            outputs = model(inputs, stack_gradient_map(inputs, edges))
            logits, boundary_logits = outputs["out"], outputs.get("boundary")
            if flip:
                logits = logits.flip(-1)
                boundary_logits = None if boundary_logits is None else boundary_logits.flip(-1)
            probabilities = probabilities + _resize(logits.softmax(dim=1), size)
            if boundary_logits is not None:
                boundary = boundary + _resize(boundary_logits.sigmoid(), size)
            passes += 1
    has_boundary = isinstance(boundary, Tensor)
    return Prediction(probabilities / passes, boundary / passes if has_boundary else None)


def evaluate(
    model: nn.Module,
    dataset: CityscapesSegmentation,
    *,
    context: DistributedContext,
    multiscale: bool = False,
    num_workers: int = 0,
    amp: bool = False,
    compiled: bool = False,
    winograd: bool = True,
    stage_timing: bool = False,
    max_images: int = 0,
    progress: bool = True,
) -> dict[str, object]:
    """mIoU, boundary F-scores and Boundary IoU (docs/method.md §5.1, §5.2, §5.4) of ``model`` on a
    labelled ``dataset``.

    The model runs through :func:`prepare_for_inference` (a channels_last copy with BatchNorm
    folded, large 3×3 convolutions by Winograd unless ``winograd=False``; ``amp`` adds bf16 autocast,
    ``compiled`` inductor with frozen weights, whose one-off compile is inside ``eval_seconds``);
    ``model`` itself is not changed. ``stage_timing`` adds
    ``stage_seconds`` (data loading, model, mIoU counts, boundary-F counts; this process), with a
    device synchronisation between stages on GPUs so each stage is charged its own time.
    ``max_images`` > 0 evaluates the first that many images only (validation during training).
    """
    if not dataset.has_labels:
        raise ValueError(f"{dataset.root} split {dataset.split!r} has no labels to evaluate against")
    prepared = prepare_for_inference(model, winograd=winograd, bf16=amp, compiled=compiled)
    counts = _Counts(context.device)
    loader = shard_loader(dataset, context=context, num_workers=num_workers, max_images=max_images)
    stages = _StageClock(context.device if stage_timing else None)
    started = time.perf_counter()
    bar = tqdm(
        loader, desc=f"evaluate {dataset.split}", disable=not (progress and context.is_main), leave=False
    )
    for batch in bar:  # a stage ends at each lap; "data" is the wait for the next batch
        image, canny = batch["image"].to(context.device), batch["canny"].to(context.device)
        target = batch["label"].to(context.device)
        stages.lap("data")
        counts.add(prepared, image, canny, target, batch.get("edge"), multiscale=multiscale, stages=stages)
    result = {
        "split": dataset.split,
        "multiscale": multiscale,
        "amp": amp,
        "compiled": compiled,
        "winograd": winograd,
        "num_images": min(max_images, len(dataset)) if max_images else len(dataset),
        **counts.scores(),
        "eval_seconds": time.perf_counter() - started,
    }
    if stage_timing:
        result["stage_seconds"] = stages.seconds
    return result


class _Counts:
    """The metric counts of an evaluation, summed over processes before they are scored
    (docs/method.md §5.3)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.confusion = ConfusionMatrix(device=device)
        self.fscore = BoundaryFScore(device=device)
        self.boundary_iou = BoundaryIoU(device=device)
        # The boundary output against the edge target it was trained on (the Canny channel of G as
        # the reference it must beat); counted only for models with a boundary output.
        self.boundary_map = BoundaryMapQuality(device=device)
        self.canny_map = BoundaryMapQuality(device=device)

    def add(
        self,
        model: nn.Module,
        image: Tensor,
        canny: Tensor,
        target: Tensor,
        edges: Tensor | None,
        *,
        multiscale: bool,
        stages: _StageClock,
    ) -> None:
        """Count one batch's prediction against its labels (and, for a boundary output, the edge
        target, still on the host: moved only when used)."""
        prediction = predict(model, image, canny, multiscale=multiscale)
        labels = prediction.labels
        stages.lap("model")
        if prediction.boundary is not None:
            edges = edges.to(self.device)
            self.boundary_map.update(prediction.boundary.float(), edges)
            self.canny_map.update(canny.float(), edges)
        self.confusion.update(labels, target)
        stages.lap("miou")
        self.fscore.update(labels, target)
        stages.lap("boundary_f")
        self.boundary_iou.update(labels, target)
        stages.lap("boundary_iou")

    def scores(self) -> dict[str, object]:
        """Every process's counts summed, then mIoU, boundary F and the boundary-map scores."""
        for accumulator in (self.confusion, self.fscore, self.boundary_iou, self.boundary_map, self.canny_map):
            accumulator.reduce_()
        boundary = self.fscore.scores().as_dict()
        segmentation, boundary_iou = self.confusion.scores(), self.boundary_iou.scores()
        map_counts = self.boundary_map.edge_counts.sum() + self.boundary_map.non_edge_counts.sum()
        has_boundary_map = bool(map_counts)
        return {
            **segmentation.as_dict(),
            "boundary_F": boundary["F"],
            "per_class_boundary_F": boundary["per_class_F"],
            "boundary_F_present": boundary["F_present"],
            "per_class_boundary_F_present": boundary["per_class_F_present"],
            "boundary_empty_pairs": boundary["empty_pairs"],
            **boundary_iou_columns(boundary_iou, segmentation),
            "boundary_map": _map_scores(self.boundary_map) if has_boundary_map else None,
            "canny_map": _canny_scores(self.canny_map) if has_boundary_map else None,
        }


def _map_scores(quality: BoundaryMapQuality) -> dict[str, object]:
    """ODS F, AP and the constant-map baseline of a boundary probability map (curves left out)."""
    scores = quality.scores().as_dict()
    return {key: scores[key] for key in ("ODS_F", "ODS_threshold", "AP", "edge_fraction", "constant_map_F")}


def _canny_scores(quality: BoundaryMapQuality) -> dict[str, object]:
    """The binary Canny map's own precision, recall and F (its one operating point, threshold 1)."""
    scores = quality.scores()
    return {
        "F": scores.f_measure[-1],
        "precision": scores.precision[-1],
        "recall": scores.recall[-1],
        "edge_fraction": scores.edge_fraction,
    }


class _StageClock:
    """Wall time per named stage of a loop; ``device=None`` switches it off (no synchronisation)."""

    def __init__(self, device: torch.device | None) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        if self.device is None:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now


def shard_loader(
    dataset: CityscapesSegmentation, *, context: DistributedContext, num_workers: int = 0, max_images: int = 0
) -> DataLoader:
    """This process's share of ``dataset``, one full-resolution image per batch.

    Every ``world_size``-th image from ``rank``: no image twice and none left out, unlike
    ``DistributedSampler``'s padding, so counts summed over processes equal one process's.
    """
    count = min(max_images, len(dataset)) if max_images else len(dataset)
    shard = Subset(dataset, range(context.rank, count, context.world_size))
    return DataLoader(shard, batch_size=1, num_workers=num_workers)


def _canny_of_normalized(image: Tensor) -> Tensor:
    """Canny map (N, 1, H, W) of an ImageNet-normalized batch, via its uint8 image."""
    mean = torch.tensor(IMAGENET_MEAN, device=image.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=image.device).view(1, 3, 1, 1)
    uint8 = ((image * std + mean) * 255).round().clamp(0, 255).to(torch.uint8)
    edges = [canny_edges(np.ascontiguousarray(item.permute(1, 2, 0).cpu().numpy())) for item in uint8]
    return torch.from_numpy(np.stack(edges))[:, None].to(image.device)


def _resize(tensor: Tensor, size: torch.Size) -> Tensor:
    if tensor.shape[-2:] == size:
        return tensor
    return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)


def _sigmoid_or_none(logits: Tensor | None) -> Tensor | None:
    return None if logits is None else logits.sigmoid()
