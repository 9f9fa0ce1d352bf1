"""BASNet's joint loss (Eq. 1, docs/method.md §3.1–3.3).

``total = seg + edge_weight · edge + probe_weight · probes`` with

- ``seg``: cross-entropy of ``out`` against the trainIds, ignoring 255 (docs/method.md §3.1);
- ``edge``: class-balanced BCE (GSCNN) of the ``boundary`` logits against the edge target
  (docs/method.md §3.1, §2.4); 0 for variants without a boundary output (``baseline``, ``ssb``);
- ``probes``: the sum of the balanced BCE of each SAB probe (docs/method.md §3.2, §1.11); 0 without
  probes.

Every term is returned unweighted, so logs compare across ``edge_weight`` settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from basnet_lib.config_checks import FLOAT32_MAX, check_number
from basnet_lib.data.labels import IGNORE_INDEX

LOSS_TERMS = ("seg", "edge", "probes", "total")


@dataclass(frozen=True)
class LossConfig:
    """The joint loss's settings: the ``loss`` section of a run's config (``--loss.edge_weight 3``).

    Attributes:
        edge_weight: λ of Eq. 1 (0.05 in the paper, docs/method.md §3.1).
        class_balance: exponent p of the segmentation term's class weights ``(median f / f_c)^p``
            from the training split's pixel frequencies f_c (:func:`balanced_class_weights`);
            0 = unweighted, the paper's.
        hard_pixel_fraction: share of each batch's labelled pixels the segmentation term averages
            over, those of highest loss (bootstrapped cross-entropy, online hard pixel mining); 1 =
            every pixel, the paper's.
        hard_pixel_probability: with ``hard_pixel_fraction < 1``, pixels whose label's predicted
            probability is below this also count, however many they are (OHEM as in PSPNet's and
            OCRNet's code: early in training that is every pixel); 0 = the fixed share only.
        probe_weight: weight of the probe term. The probes see detached features (docs/method.md §1.11),
            so this only sets how fast the probe heads learn; 1 trains each head like a plain edge loss.
        mask_ignored_edges: leave pixels whose *label* is 255 out of the edge and probe terms
            (weight 0, and not counted in N_pos, N_neg, N). The edge target itself treats 255 as a
            label (docs/method.md §2.4), so a class boundary against a void region is still a
            positive on the labelled side; only the void side, where we do not know what is there
            (crop padding, ego vehicle, out-of-ROI), is unsupervised, as the segmentation term already is.
    """

    edge_weight: float = 0.05
    class_balance: float = 0.0
    hard_pixel_fraction: float = 1.0
    hard_pixel_probability: float = 0.0
    probe_weight: float = 1.0
    mask_ignored_edges: bool = True

    def __post_init__(self) -> None:
        for name in ("edge_weight", "probe_weight"):  # each multiplies a float32 loss term
            check_number(self, name, minimum=0, maximum=FLOAT32_MAX, why="a weight of a float32 loss term")
        check_number(self, "class_balance", minimum=0)
        check_number(self, "hard_pixel_fraction", minimum=0, maximum=1, open_minimum=True)
        check_number(self, "hard_pixel_probability", minimum=0, maximum=1, open_maximum=True)


def balanced_class_weights(pixels: Sequence[float], exponent: float) -> tuple[float, ...]:
    """``(median f / f_c)^exponent`` per class from its pixel count ``f_c`` in the training split,
    the median over the classes present; a class absent from the split weighs 1."""
    pixels = np.asarray(pixels, dtype=float)
    present = pixels > 0
    median = float(np.median(pixels[present]))
    weights = np.ones(len(pixels))
    with np.errstate(over="ignore", under="ignore"):
        weights[present] = (median / pixels[present]) ** exponent
    float32 = np.finfo(np.float32)
    if not (np.isfinite(weights).all() and float32.tiny <= weights.min() and weights.max() <= float32.max):
        raise ValueError(
            f"LossConfig.class_balance={exponent!r} gives class weights from {weights.min():g} to {weights.max():g} "
            "on this training split, beyond float32, in which the loss is computed; use a smaller exponent"
        )
    return tuple(float(weight) for weight in weights)


def balanced_bce_with_logits(logits: Tensor, target: Tensor, *, valid: Tensor | None = None) -> Tensor:
    """GSCNN's class-balanced binary cross-entropy on logits, over the whole batch (docs/method.md §3.1).

    Positives (``target == 1``) are weighted by ``N_neg / N`` and negatives by ``N_pos / N``, with the
    counts taken over the valid pixels of the batch; the weighted sum is divided by ``N``. A batch
    with no positive (or no negative) pixel therefore contributes 0, as in GSCNN, and so does a
    batch with no valid pixel.

    Args:
        logits: (N, 1, H, W) or (N, H, W) boundary logits.
        target: same number of elements, 0/1 (bool, integer or float).
        valid: optional bool mask of the pixels that count, same number of elements.
    """
    logits = logits.reshape(-1).float()
    target = target.reshape(-1).float()
    if target.numel() != logits.numel():
        raise ValueError(f"edge target has {target.numel()} elements, logits have {logits.numel()}")
    valid = torch.ones_like(target, dtype=torch.bool) if valid is None else valid.reshape(-1)
    positive = valid & (target > 0.5)
    negative = valid & ~(target > 0.5)
    num_positive = positive.sum().to(logits.dtype)
    num_negative = negative.sum().to(logits.dtype)
    total = num_positive + num_negative
    # Weights are constants of the batch, not functions of the logits.
    weight = (positive * num_negative + negative * num_positive) / total.clamp(min=1)
    loss = F.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction="sum")
    return loss / total.clamp(min=1)


def segmentation_loss(
    logits: Tensor, labels: Tensor, config: LossConfig, *, class_weights: Sequence[float] = ()
) -> Tensor:
    """Cross-entropy of ``logits`` against ``labels`` (docs/method.md §3.1): the mean over the
    labelled pixels (weighted by ``class_weights`` when given), or over the hardest
    ``config.hard_pixel_fraction`` of them. A batch with no labelled pixel gives 0 instead of 0/0."""
    labelled = labels != IGNORE_INDEX
    weights = None
    if class_weights:
        weights = torch.tensor(class_weights, dtype=torch.float32, device=logits.device)
    if config.hard_pixel_fraction == 1:
        seg = F.cross_entropy(
            logits.float(), labels, weight=weights, ignore_index=IGNORE_INDEX, reduction="sum"
        )
        if weights is None:
            return seg / labelled.sum().clamp(min=1)
        return seg / weights[labels[labelled]].sum().clamp(min=1e-12)
    # Bootstrapped cross-entropy: the k labelled pixels of highest (unweighted) loss, k a fixed share.
    pixel_loss = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE_INDEX, reduction="none")
    pixel_loss = pixel_loss[labelled]
    if pixel_loss.numel() == 0:
        return pixel_loss.sum()
    pixel_weight = torch.ones_like(pixel_loss) if weights is None else weights[labels[labelled]]
    kept = math.ceil(config.hard_pixel_fraction * pixel_loss.numel())
    if config.hard_pixel_probability > 0:
        # A label probability below p is a loss above -ln p: every such pixel counts.
        kept = max(kept, int((pixel_loss.detach() > -math.log(config.hard_pixel_probability)).sum()))
    hardest = torch.topk(pixel_loss.detach(), kept, sorted=False).indices
    return (pixel_loss[hardest] * pixel_weight[hardest]).sum() / pixel_weight[hardest].sum().clamp(min=1e-12)


def joint_loss(
    outputs: Mapping[str, Tensor | Sequence[Tensor]],
    *,
    labels: Tensor,
    edge_target: Tensor | None,
    config: LossConfig | None = None,
    class_weights: Sequence[float] = (),
) -> dict[str, Tensor]:
    """Named loss terms ``seg``, ``edge``, ``probes``, ``total`` (docs/method.md §3.3) of one batch.

    Args:
        outputs: the model's dict (docs/method.md §1.12): ``"out"`` (N, K, H, W) logits, optional
            ``"boundary"`` (N, 1, H, W) logits and ``"sab_probes"`` (list of (N, 1, H, W) logits).
        labels: (N, H, W) int64 trainIds, 255 (``IGNORE_INDEX``) for unlabeled pixels.
        edge_target: (N, H, W) or (N, 1, H, W) 0/1 edge target (docs/method.md §2.4); may be ``None`` only
            when ``outputs`` has neither boundary logits nor probes.
        config: weights and ignore rules (default :class:`LossConfig()`).
        class_weights: per-class weights of the segmentation term (:func:`balanced_class_weights`);
            empty = unweighted.

    ``edge`` (or ``probes``) is a zero tensor when the model has no boundary output (or no probes):
    such variants have no edge loss (docs/method.md §1.10). Probe logits come from detached features,
    and the probe term touches nothing else, so it only trains the probe heads (docs/method.md §3.2).
    """
    config = LossConfig() if config is None else config
    logits = outputs["out"]
    if logits.ndim != 4 or labels.shape != (logits.shape[0], *logits.shape[-2:]):
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not match")
    labelled = labels != IGNORE_INDEX
    seg = segmentation_loss(logits, labels, config, class_weights=class_weights)
    valid = labelled if config.mask_ignored_edges else None
    zero = logits.new_zeros((), dtype=torch.float32)
    boundary = outputs.get("boundary")
    probe_logits = outputs.get("sab_probes") or ()
    if edge_target is None and (boundary is not None or probe_logits):
        raise ValueError(
            "the model has boundary outputs, so joint_loss needs edge_target (docs/method.md §2.4)"
        )
    edge = zero if boundary is None else balanced_bce_with_logits(boundary, edge_target, valid=valid)
    probes = zero
    for probe in probe_logits:
        probes = probes + balanced_bce_with_logits(probe, edge_target, valid=valid)
    total = seg + config.edge_weight * edge + config.probe_weight * probes
    return {"seg": seg, "edge": edge, "probes": probes, "total": total}
