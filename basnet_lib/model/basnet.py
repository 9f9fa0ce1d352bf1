"""The BASNet model: backbone, two branches, aggregation module; every Table 1 row (docs/method.md §1.10)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from basnet_lib.model.aggregation import AggregationModule
from basnet_lib.model.aspp import ASPP, BACKBONE_ASPP_RATES, DeepLabV3Head
from basnet_lib.model.backbone import DilatedResNetBackbone, build_backbone
from basnet_lib.model.branches import BoundaryDetectionBranch, SemanticSegmentationBranch
from basnet_lib.model.config import ModelConfig
from basnet_lib.model.layers import LateralProjections
from basnet_lib.model.probes import SABProbes
from basnet_lib.model.spatial_attention import GRADIENT_MAP_CHANNELS


class BASNet(nn.Module):
    """Boundary-assistant symmetrical network (Fig. 1).

    Modules are passed in explicitly (torchvision style); :func:`build_basnet` assembles them
    from a :class:`ModelConfig`, whose variant's row (:mod:`basnet_lib.model.variants`) says which:

    - no semantic branch (``baseline``): ``backbone`` + ``deeplab_head`` (torchvision's DeepLabV3,
      logits upsampled ×8);
    - otherwise ``backbone`` + ``aspp`` + ``laterals`` + ``semantic_branch``, plus a
      ``boundary_branch`` where the row has one; ``aggregation`` or the 1×1
      ``semantic_classifier``/``boundary_classifier`` make the outputs (×4 upsampling).

    ``forward(image, gradient_map)`` returns a dict (docs/method.md §1.12): ``"out"`` (N, K, H, W) logits,
    ``"boundary"`` (N, 1, H, W) logits when there is a boundary branch, ``"sab_probes"`` (3 ×
    (N, 1, H, W) logits) when probes are on. ``gradient_map`` is ``G`` (N, 4, H, W) from
    :func:`basnet_lib.gradient_map.image_gradient_map`; only variants with a boundary branch read it.
    """

    def __init__(
        self,
        *,
        backbone: DilatedResNetBackbone,
        deeplab_head: DeepLabV3Head | None = None,
        aspp: ASPP | None = None,
        laterals: LateralProjections | None = None,
        semantic_branch: SemanticSegmentationBranch | None = None,
        boundary_branch: BoundaryDetectionBranch | None = None,
        aggregation: AggregationModule | None = None,
        semantic_classifier: nn.Conv2d | None = None,
        boundary_classifier: nn.Conv2d | None = None,
        sab_probes: SABProbes | None = None,
    ) -> None:
        super().__init__()
        if deeplab_head is None and (aspp is None or laterals is None or semantic_branch is None):
            raise ValueError(
                "BASNet needs either deeplab_head (baseline) or aspp, laterals and semantic_branch"
            )
        if aggregation is None and semantic_classifier is None and deeplab_head is None:
            raise ValueError("BASNet needs an aggregation module or a semantic classifier")
        if boundary_branch is not None and aggregation is None and boundary_classifier is None:
            raise ValueError("a boundary branch needs an aggregation module or a boundary classifier")
        if sab_probes is not None and boundary_branch is None:
            raise ValueError("SAB probes need a boundary branch")
        self.backbone = backbone
        self.deeplab_head = deeplab_head
        self.aspp = aspp
        self.laterals = laterals
        self.semantic_branch = semantic_branch
        self.boundary_branch = boundary_branch
        self.aggregation = aggregation
        self.semantic_classifier = semantic_classifier
        self.boundary_classifier = boundary_classifier
        self.sab_probes = sab_probes

    def forward(self, image: Tensor, gradient_map: Tensor | None = None) -> dict[str, Tensor | list[Tensor]]:
        size = (image.shape[-2], image.shape[-1])
        features = self.backbone(image)
        if self.deeplab_head is not None:
            return {"out": _upsample(self.deeplab_head(features["stage4"]), size)}

        inputs = self.laterals(features, self.aspp(features["stage4"]))
        semantic = self.semantic_branch(inputs)
        if self.boundary_branch is None:
            return {"out": _upsample(self.semantic_classifier(semantic), size)}

        _check_gradient_map(gradient_map, image)
        sab_outputs = self.boundary_branch(inputs, gradient_map)
        boundary = sab_outputs[-1]
        if self.aggregation is not None:
            segmentation_logits, boundary_logits = self.aggregation(semantic, boundary)
        else:
            segmentation_logits = self.semantic_classifier(semantic)
            boundary_logits = self.boundary_classifier(boundary)
        result: dict[str, Tensor | list[Tensor]] = {
            "out": _upsample(segmentation_logits, size),
            "boundary": _upsample(boundary_logits, size),
        }
        if self.sab_probes is not None:
            result["sab_probes"] = self.sab_probes(sab_outputs, size)
        return result


def build_basnet(*, config: ModelConfig) -> BASNet:
    """Assemble the BASNet of ``config`` (docs/method.md §1.1–1.12): the modules its variant's row has."""
    backbone = build_backbone(
        name=config.backbone, pretrained=config.pretrained_backbone, weights_path=config.backbone_weights
    )
    deep_channels = backbone.out_channels["stage4"]
    if not config.has_semantic_branch:  # the baseline: torchvision's DeepLabV3 (docs/method.md §1.10)
        head = DeepLabV3Head(deep_channels, config.num_classes, channels=config.aspp_channels)
        return BASNet(backbone=backbone, deeplab_head=head)

    width = config.width
    tap_channels = {**backbone.out_channels, "top": config.aspp_channels}
    has_aggregation = config.has_aggregation
    has_boundary = config.has_boundary_branch
    return BASNet(
        backbone=backbone,
        aspp=ASPP(deep_channels, list(BACKBONE_ASPP_RATES), out_channels=config.aspp_channels),
        laterals=LateralProjections(tap_channels, width=width),
        semantic_branch=SemanticSegmentationBranch(width),
        boundary_branch=BoundaryDetectionBranch(width) if has_boundary else None,
        aggregation=AggregationModule(width, num_classes=config.num_classes) if has_aggregation else None,
        semantic_classifier=None if has_aggregation else nn.Conv2d(width, config.num_classes, 1),
        boundary_classifier=nn.Conv2d(width, 1, 1) if has_boundary and not has_aggregation else None,
        sab_probes=SABProbes(width) if config.sab_probes else None,
    )


def _upsample(logits: Tensor, size: tuple[int, int]) -> Tensor:
    # torchvision's DeepLabV3 convention: bilinear, align_corners=False.
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def _check_gradient_map(gradient_map: Tensor | None, image: Tensor) -> None:
    if gradient_map is None:
        raise ValueError(
            "this variant has a boundary branch and needs the image-gradient map G: "
            "call model(image, gradient_map) with G from basnet_lib.gradient_map.image_gradient_map"
        )
    expected = (image.shape[0], GRADIENT_MAP_CHANNELS, *image.shape[-2:])
    if tuple(gradient_map.shape) != expected:
        raise ValueError(f"gradient_map has shape {tuple(gradient_map.shape)}, expected {expected}")
