"""What each Table 1 variant is made of: parameters and FLOPs per component beside torchvision's
DeepLabV3, and tensor shapes through every block (Fig. 1, docs/decisions.md "Architecture"; the
block diagram is drawn by :func:`basnet_lib.plots.draw_block_diagram`).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on a model built on the
``meta`` device (shapes only, no arithmetic: instant even for ResNet-101 at 1024×2048). It counts
a multiply-add as 2 FLOPs, covers convolutions and matrix products, and ignores element-wise ops,
pooling and interpolation.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101

from basnet_lib.model import ModelConfig, build_basnet, variant_names

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
# torchvision DeepLabV3's attributes in the paper's component names.
_DEEPLABV3_COMPONENTS = {"backbone": "ResNet", "classifier": "ASPP"}
# Modules whose children get their own row in the shapes table.
_EXPANDED = ("backbone", "semantic_branch", "boundary_branch", "aggregation")
_TORCHVISION_DEEPLABV3 = {"resnet50": deeplabv3_resnet50, "resnet101": deeplabv3_resnet101}
# Parameter counts need only shapes: any image size gives the same table.
_PARAMETER_IMAGE_SIZE = (64, 64)


def torchvision_deeplabv3(backbone: str, *, num_classes: int = 19) -> nn.Module | None:
    """torchvision's ``deeplabv3_resnet*(num_classes, aux_loss=False)`` without weights, the peer of
    ``baseline`` (docs/decisions.md "Architecture"); ``None`` for backbones torchvision has no
    DeepLabV3 for (18/34)."""
    if backbone not in _TORCHVISION_DEEPLABV3:
        return None
    return _TORCHVISION_DEEPLABV3[backbone](
        weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False
    )


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def component_costs(
    model: nn.Module, *, image_size: tuple[int, int], components: dict[str, str]
) -> pd.DataFrame:
    """Parameters and forward GFLOPs of one image (``image_size``) per paper component.

    ``components`` maps the model's attributes to paper names (several may share one name).
    The model is moved to the ``meta`` device; pass a model you do not need afterwards.
    """
    model = model.to("meta").eval()
    height, width = image_size
    inputs = [torch.empty(1, 3, height, width, device="meta")]
    if isinstance(getattr(model, "boundary_branch", None), nn.Module):
        inputs.append(torch.empty(1, 4, height, width, device="meta"))  # G (docs/decisions.md "Image-gradient map")
    with FlopCounterMode(display=False) as counter:
        model(*inputs)
    flops_by_module = {key: sum(values.values()) for key, values in counter.get_flop_counts().items()}
    prefix = type(model).__name__
    rows = {}
    for attribute, name in components.items():
        module = getattr(model, attribute, None)
        if module is None:
            continue
        row = rows.setdefault(name, {"component": name, "params_M": 0.0, "GFLOPs": 0.0})
        row["params_M"] += count_parameters(module) / 1e6
        row["GFLOPs"] += flops_by_module.get(f"{prefix}.{attribute}", 0) / 1e9
    table = pd.DataFrame(list(rows.values()))
    total = {
        "component": "total",
        "params_M": count_parameters(model) / 1e6,
        "GFLOPs": counter.get_total_flops() / 1e9,
    }
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def architecture_table(
    configs: list[ModelConfig], *, image_size: tuple[int, int], num_classes: int = 19
) -> pd.DataFrame:
    """Long table of (model, component, params_M, GFLOPs) for each config, plus torchvision's
    ``deeplabv3_resnet*`` (weights=None) for every backbone torchvision has one for (50/101)."""
    frames = []
    references = []
    for config in configs:
        with torch.device("meta"):
            model = build_basnet(config=config)
        costs = component_costs(model, image_size=image_size, components=COMPONENTS)
        frames.append(
            costs.assign(model=f"BASNet {config.variant}", backbone=config.backbone, width=config.width)
        )
        if config.backbone not in references:
            references.append(config.backbone)
    for backbone in references:
        with torch.device("meta"):
            deeplab = torchvision_deeplabv3(backbone, num_classes=num_classes)
        if deeplab is None:  # torchvision has DeepLabV3 for ResNet-50/101 only
            continue
        costs = component_costs(deeplab, image_size=image_size, components=_DEEPLABV3_COMPONENTS)
        frames.append(costs.assign(model="torchvision DeepLabV3", backbone=backbone, width=256))
    table = pd.concat(frames, ignore_index=True)
    return table[["backbone", "width", "model", "component", "params_M", "GFLOPs"]]


def pivot_components(table: pd.DataFrame, *, value: str) -> pd.DataFrame:
    """One row per (backbone, width, model), one column per component, of ``value``."""
    order = [*COMPONENT_COLUMNS, "total"]
    pivot = table.pivot_table(
        index=["backbone", "width", "model"], columns="component", values=value, sort=False
    )
    return pivot[[name for name in order if name in pivot.columns]].fillna(0.0)


def parameter_table(*, backbones: tuple[str, ...], width: int, num_classes: int = 19) -> pd.DataFrame:
    """One row per (backbone, variant): parameters per component and total, in millions
    (:func:`architecture_table`'s parameters, one column per component).

    ``vs_deeplabv3`` is the total over torchvision's ``deeplabv3_resnet*(num_classes, aux_loss=False)``
    (built without weights) where torchvision has one for the backbone.
    """
    configs = [
        ModelConfig(variant=variant, backbone=backbone, width=width, num_classes=num_classes)
        for backbone in backbones
        for variant in variant_names()
    ]
    table = architecture_table(configs, image_size=_PARAMETER_IMAGE_SIZE, num_classes=num_classes)
    params = pivot_components(table, value="params_M").reset_index()
    references = params[params["model"] == "torchvision DeepLabV3"].set_index("backbone")["total"]
    rows = params[params["model"] != "torchvision DeepLabV3"]
    frame = pd.DataFrame(
        {
            "backbone": rows["backbone"],
            "variant": rows["model"].str.removeprefix("BASNet "),
            "width": rows["width"],
            **{name: rows[name] if name in rows else 0.0 for name in COMPONENT_COLUMNS},
            "total_M": rows["total"],
        }
    ).reset_index(drop=True)
    frame["vs_deeplabv3"] = frame["total_M"] / frame["backbone"].map(references)
    return frame


def block_shapes(model: nn.Module, image: Tensor, gradient_map: Tensor | None = None) -> pd.DataFrame:
    """Input and output shapes of every block in one forward pass (forward hooks), in call order.

    Rows: the model's components, with the children of the backbone, the two branches and the
    aggregation module expanded (docs/decisions.md "Architecture": block1 is the coarsest).
    """
    rows: list[dict] = []
    handles = []
    for name, module in _blocks(model):

        def hook(module: nn.Module, inputs: tuple, output: object, name: str = name) -> None:
            rows.append(
                {
                    "block": name,
                    "component": COMPONENTS.get(name.split(".")[0], name),
                    "type": type(module).__name__,
                    "inputs": ", ".join(_shape_text(value) for value in inputs if _shape_text(value)),
                    "output": _shape_text(output),
                    "params": count_parameters(module),
                }
            )

        handles.append(module.register_forward_hook(hook))

    def output_hook(module: nn.Module, inputs: tuple, output: object) -> None:
        rows.append(
            {
                "block": "output",
                "component": "outputs",
                "type": type(module).__name__,
                "inputs": "",
                "output": _shape_text(output),
                "params": 0,
            }
        )

    handles.append(model.register_forward_hook(output_hook))
    try:
        with torch.inference_mode():
            model.eval()
            model(image, gradient_map)
    finally:
        for handle in handles:
            handle.remove()
    return pd.DataFrame(rows)


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    blocks = []
    for name, module in model.named_children():
        if name in _EXPANDED:
            blocks += [(f"{name}.{child}", submodule) for child, submodule in module.named_children()]
        else:
            blocks.append((name, module))
    return blocks


def _shape_text(value: object) -> str:
    if isinstance(value, Tensor):
        return "×".join(str(size) for size in value.shape)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_shape_text(item)}" for key, item in value.items())
    if isinstance(value, tuple | list):
        return "; ".join(text for text in (_shape_text(item) for item in value) if text)
    return ""
