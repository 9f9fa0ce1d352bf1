"""Fig. 1 as a block diagram: boxes for the blocks of a shapes table (one row per block, as
:func:`basnet_lib.reproduction.architecture.block_shapes` makes it) with their output shapes, and
arrows along the data flow (docs/decisions.md "Architecture")."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

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
    """Boxes for the blocks of ``shapes`` (columns ``block``, ``component``, ``inputs``, ``output``)
    with their output shapes, and arrows along the data flow (laterals omitted: each tapped stage
    passes a 1×1 conv first, docs/decisions.md "Architecture")."""
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


def _first_input(shapes: pd.DataFrame) -> str:
    return shapes["inputs"].iloc[0].split(",")[0] if len(shapes) else ""
