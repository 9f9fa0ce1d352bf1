"""``ModelConfig``: every architectural choice of one BASNet model (docs/method.md §1).

The fields are exactly the model parameters of the notebooks; the config is saved as JSON beside
every result (see :mod:`basnet_lib.engine.config_io`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from basnet_lib.config_checks import check_int
from basnet_lib.model.variants import table1_variants, variant_names, variant_row

# docs/method.md §1.1: torchvision ResNets; resnet101 is the paper's.
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


@dataclass(frozen=True)
class ModelConfig:
    """One BASNet model.

    Attributes:
        variant: Table 1 row (docs/method.md §1.10), one of
            :func:`basnet_lib.model.variants.variant_names`; its row in
            :data:`basnet_lib.model.variants.TABLE1_VARIANTS` says which modules the model has.
        backbone: ``resnet18`` | ``resnet34`` | ``resnet50`` | ``resnet101``, dilated to output stride 8.
        num_classes: segmentation classes (19 Cityscapes train ids).
        width: decoder width ``C`` of both branches (docs/method.md §1.3); a multiple of 8 because the
            aggregation module uses ``C/4`` and ``C/8`` channels (docs/method.md §1.8).
        aspp_channels: output channels of the backbone's ASPP (docs/method.md §1.2); 256 in DeepLabV3.
        sab_probes: add the detached Fig. 4 probe heads on each SAB (docs/method.md §1.11); needs a
            boundary branch.
        pretrained_backbone: start the ResNet from ImageNet weights, read from ``backbone_weights``
            or from torchvision's cache (``$TORCH_HOME``); torchvision's hash-checked download fills
            the cache once, unless ``BASNET_OFFLINE=1`` (``basnet train --offline``) forbids it.
            Offline is a property of the machine, not of the model, so it is not a field here.
        backbone_weights: path of a local ResNet state dict to use instead of torchvision's cache
            ("" = use the cache); never downloaded. Only with ``pretrained_backbone``.
    """

    variant: str = "full"
    backbone: str = "resnet101"
    num_classes: int = 19
    width: int = 256
    aspp_channels: int = 256
    sab_probes: bool = False
    pretrained_backbone: bool = False
    backbone_weights: str = ""

    def __post_init__(self) -> None:
        if self.variant not in variant_names():
            raise ValueError(f"ModelConfig.variant={self.variant!r} is not one of {variant_names()}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"ModelConfig.backbone={self.backbone!r} is not one of {BACKBONES}")
        check_int(self, "num_classes", minimum=1)
        check_int(self, "width", minimum=8)
        if self.width % 8:
            raise ValueError(
                f"ModelConfig.width={self.width} must be divisible by 8: the aggregation module "
                "uses width/4 and width/8 channels (docs/method.md §1.8)"
            )
        check_int(self, "aspp_channels", minimum=1)
        if self.sab_probes and not self.has_boundary_branch:
            with_boundary = [repr(row.name) for row in table1_variants() if row.boundary_branch]
            raise ValueError(
                f"ModelConfig.sab_probes=True needs a boundary detection branch, "
                f"but variant {self.variant!r} has none (use {' or '.join(with_boundary)})"
            )
        if self.backbone_weights and not self.pretrained_backbone:
            raise ValueError("ModelConfig.backbone_weights is set but pretrained_backbone=False")

    def without_imagenet_weights(self) -> ModelConfig:
        """This model started from random weights: for a model whose every weight a checkpoint
        replaces, or whose cost alone is wanted, so that no ImageNet file is read or downloaded."""
        return dataclasses.replace(self, pretrained_backbone=False, backbone_weights="")

    @property
    def has_semantic_branch(self) -> bool:
        return variant_row(self.variant).semantic_branch

    @property
    def has_boundary_branch(self) -> bool:
        return variant_row(self.variant).boundary_branch

    @property
    def has_aggregation(self) -> bool:
        return variant_row(self.variant).aggregation

    @property
    def needs_gradient_map(self) -> bool:
        """Whether ``forward`` needs the 4-channel image-gradient map ``G`` (docs/method.md §1.6, §1.7)."""
        return self.has_boundary_branch

