"""What each Table 1 variant is made of: parameters and FLOPs per component beside torchvision's
DeepLabV3, tensor shapes through every block, and a drawn block diagram (Fig. 1, docs/decisions.md "Architecture").

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on a model built on the
``meta`` device (shapes only, no arithmetic: instant even for ResNet-101 at 1024×2048). It counts
a multiply-add as 2 FLOPs, covers convolutions and matrix products, and ignores element-wise ops,
pooling and interpolation.
"""

from __future__ import annotations

import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.summary import COMPONENT_COLUMNS, COMPONENTS, count_parameters, torchvision_deeplabv3

# torchvision DeepLabV3's attributes in the paper's component names.
_DEEPLABV3_COMPONENTS = {"backbone": "ResNet", "classifier": "ASPP"}
# Modules whose children get their own row in the shapes table.
_EXPANDED = ("backbone", "semantic_branch", "boundary_branch", "aggregation")


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


# Block diagram layout (column, row): backbone down the left, the two branches coarse to fine
# upwards (docs/decisions.md "Architecture"), outputs on top, as in Fig. 1.
_LAYOUT = {
    "input": (0, 6),
    "backbone.conv1": (0, 5),
    "backbone.layer1": (0, 4),
    "backbone.layer2": (0, 3),
    "backbone.layer3": (0, 2),
    "backbone.layer4": (0, 1),
    "aspp": (1, 1),
    "deeplab_head": (1, 1),
    "semantic_branch.block1": (2, 2),
    "semantic_branch.block2": (2, 3),
    "semantic_branch.block3": (2, 4),
    "boundary_branch.block1": (3, 2),
    "boundary_branch.block2": (3, 3),
    "boundary_branch.block3": (3, 4),
    "gradient map G": (4, 3),
    "semantic_classifier": (2, 5),
    "boundary_classifier": (3, 5),
    "aggregation": (2.5, 5),
}
_EDGES = [
    ("input", "backbone.conv1"),
    ("backbone.conv1", "backbone.layer1"),
    ("backbone.layer1", "backbone.layer2"),
    ("backbone.layer2", "backbone.layer3"),
    ("backbone.layer3", "backbone.layer4"),
    ("backbone.layer4", "aspp"),
    ("backbone.layer4", "deeplab_head"),
    *[
        (f"backbone.layer{4 - k}", f"{branch}.block{k}")
        for branch in ("semantic_branch", "boundary_branch")
        for k in (1, 2, 3)
    ],
    *[
        (f"{branch}.block{k}", f"{branch}.block{k + 1}")
        for branch in ("semantic_branch", "boundary_branch")
        for k in (1, 2)
    ],
    ("aspp", "semantic_branch.block1"),
    ("aspp", "boundary_branch.block1"),
    *[("gradient map G", f"boundary_branch.block{k}") for k in (1, 2, 3)],
    ("semantic_branch.block3", "semantic_classifier"),
    ("boundary_branch.block3", "boundary_classifier"),
    ("semantic_branch.block3", "aggregation"),
    ("boundary_branch.block3", "aggregation"),
    ("aggregation", "output"),
    ("semantic_classifier", "output"),
    ("boundary_classifier", "output"),
    ("deeplab_head", "output"),
]
# Edges that would cross the SSB column bend around it.
_BENT = {(f"backbone.layer{4 - k}", f"boundary_branch.block{k}") for k in (1, 2, 3)}
_HALF_WIDTH, _HALF_HEIGHT, _COLUMN_STEP = 1.0, 0.3, 2.4
_BOX_COLORS = {"ResNet": "#d9d9d9", "ASPP": "#c6dbef", "SSB": "#9ecae1", "BDB": "#fdd0a2", "AM": "#a1d99b"}


def draw_block_diagram(shapes: pd.DataFrame, *, title: str) -> Figure:
    """Boxes for the blocks of a :func:`block_shapes` table with their output shapes, and arrows
    along the data flow (laterals omitted: each tapped stage passes a 1×1 conv first, docs/decisions.md "Architecture")."""
    outputs = dict(zip(shapes["block"], shapes["output"], strict=True))
    components = dict(zip(shapes["block"], shapes["component"], strict=True))
    outputs["input"] = _first_input(shapes)
    if any(block.startswith("boundary_branch") for block in outputs):
        outputs["gradient map G"] = "4×H×W (RGB + Canny)"
    if "aggregation.segmentation" in outputs:  # docs/decisions.md "Architecture": one box for the module, both outputs
        outputs["aggregation"] = f"{outputs['aggregation.segmentation']}; {outputs['aggregation.boundary']}"
        components["aggregation"] = "AM"
    layout = dict(_LAYOUT, output=(1, 2.3) if "deeplab_head" in outputs else (2.5, 6))
    positions = {
        name: (column * _COLUMN_STEP, row) for name, (column, row) in layout.items() if name in outputs
    }
    figure = Figure(figsize=(11, 6.5), layout="constrained")
    axis = figure.subplots()
    for name, (x, y) in positions.items():
        shapes_text = "\n".join(outputs[name].split("; ")[:2])  # output: "out" and "boundary"
        label = f"{name.replace('backbone.', '').replace('_branch', '')}\n{shapes_text}"
        color = _BOX_COLORS.get(components.get(name, ""), "#f0f0f0")
        axis.add_patch(
            FancyBboxPatch(
                (x - _HALF_WIDTH, y - _HALF_HEIGHT),
                2 * _HALF_WIDTH,
                2 * _HALF_HEIGHT,
                boxstyle="round,pad=0.02",
                facecolor=color,
                edgecolor="black",
            )
        )
        axis.text(x, y, label, ha="center", va="center", fontsize=7)
    for start, end in _EDGES:
        if start in positions and end in positions:
            bend = (start, end) in _BENT
            axis.annotate(
                "",
                xy=_box_edge(positions[end], positions[start], bend=bend),
                xytext=_box_edge(positions[start], positions[end], bend=bend),
                arrowprops={
                    "arrowstyle": "->",
                    "color": "tab:gray",
                    "lw": 0.8,
                    "connectionstyle": f"arc3,rad={-0.15 if bend else 0}",
                },
            )
    axis.set_xlim(-1.3, 4 * _COLUMN_STEP + 1.3)
    axis.set_ylim(0.4, 6.6)
    axis.set_axis_off()
    axis.set_title(title, fontsize=10)
    return figure


def _box_edge(center: tuple[float, float], toward: tuple[float, float], *, bend: bool) -> tuple[float, float]:
    """Where the line from a box's centre towards ``toward`` leaves the box (bent edges leave its top)."""
    if bend:
        return center[0] + (_HALF_WIDTH if toward[0] > center[0] else -_HALF_WIDTH) * 0.6, center[
            1
        ] + _HALF_HEIGHT
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    scale = min(_HALF_WIDTH / abs(dx) if dx else float("inf"), _HALF_HEIGHT / abs(dy) if dy else float("inf"))
    return center[0] + scale * dx, center[1] + scale * dy


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


def _first_input(shapes: pd.DataFrame) -> str:
    return shapes["inputs"].iloc[0].split(",")[0] if len(shapes) else ""


__all__ = ["architecture_table", "block_shapes", "component_costs", "draw_block_diagram", "pivot_components"]
