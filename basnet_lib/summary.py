"""Size of each model component beside torchvision's DeepLabV3, and what machine this is."""

from __future__ import annotations

import os
import platform
import sys

import pandas as pd
import torch
import torchvision
from torch import nn
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101

from basnet_lib.model import VARIANTS, BASNet, ModelConfig, build_basnet

# Paper names of the BASNet components (Fig. 1) for each attribute of :class:`BASNet`.
COMPONENTS = {
    "backbone": "ResNet",
    "deeplab_head": "ASPP",  # baseline: ASPP + DeepLabV3 classifier head
    "aspp": "ASPP",
    "laterals": "laterals",
    "semantic_branch": "SSB",
    "boundary_branch": "BDB",
    "aggregation": "AM",
    "semantic_classifier": "classifiers",
    "boundary_classifier": "classifiers",
    "sab_probes": "probes",
}
COMPONENT_COLUMNS = ("ResNet", "ASPP", "laterals", "SSB", "BDB", "AM", "classifiers", "probes")

_TORCHVISION_DEEPLABV3 = {"resnet50": deeplabv3_resnet50, "resnet101": deeplabv3_resnet101}


def torchvision_deeplabv3(backbone: str, *, num_classes: int = 19) -> nn.Module | None:
    """torchvision's ``deeplabv3_resnet*(num_classes, aux_loss=False)`` without weights, the peer of
    ``baseline`` (SPEC A10); ``None`` for backbones torchvision has no DeepLabV3 for (18/34)."""
    if backbone not in _TORCHVISION_DEEPLABV3:
        return None
    return _TORCHVISION_DEEPLABV3[backbone](
        weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False
    )


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def component_parameter_counts(model: BASNet) -> dict[str, int]:
    """Parameters per paper component (``COMPONENT_COLUMNS``), absent components as 0."""
    counts = dict.fromkeys(COMPONENT_COLUMNS, 0)
    for attribute, component in COMPONENTS.items():
        module = getattr(model, attribute)
        if module is not None:
            counts[component] += count_parameters(module)
    return counts


def parameter_table(*, backbones: tuple[str, ...], width: int, num_classes: int = 19) -> pd.DataFrame:
    """One row per (backbone, variant): parameters per component and total, in millions.

    ``vs_deeplabv3`` is the total over torchvision's ``deeplabv3_resnet*(num_classes, aux_loss=False)``
    (built without weights) where torchvision has one for the backbone.
    """
    rows = []
    for backbone in backbones:
        # The meta device allocates nothing: counting parameters needs only their shapes.
        with torch.device("meta"):
            deeplab = torchvision_deeplabv3(backbone, num_classes=num_classes)
        reference = count_parameters(deeplab) if deeplab is not None else None
        for variant in VARIANTS:
            with torch.device("meta"):
                model = build_basnet(
                    config=ModelConfig(
                        variant=variant, backbone=backbone, width=width, num_classes=num_classes
                    )
                )
            counts = component_parameter_counts(model)
            total = sum(counts.values())
            row = {"backbone": backbone, "variant": variant, "width": width}
            row.update({name: value / 1e6 for name, value in counts.items()})
            row["total_M"] = total / 1e6
            row["vs_deeplabv3"] = total / reference if reference else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)


def system_info() -> dict[str, object]:
    """Versions, devices and threads: what a result was computed with."""
    import cv2
    import numpy

    from basnet_lib import __version__

    cuda = torch.cuda.is_available()
    return {
        "basnet_lib": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda_available": cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda
        else [],
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "default_device": "cuda" if cuda else "cpu",
    }
