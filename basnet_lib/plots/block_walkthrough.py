"""Notebook 01's walkthrough of the paper's §3 on one image: the gradient map ``G``, the attention
maps of every GAB and SAB, the high-level upsamplers ``ρ``, and what each block outputs.

What they show comes in as a :class:`BlockWalkthrough` (numpy arrays without the batch axis),
recorded by :func:`basnet_lib.reproduction.block_walkthrough.trace_blocks`. Feature maps with many
channels are drawn as their channel mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from basnet_lib.data.labels import colorize_train_ids

PANEL_WIDTH = 3.2
GRADIENT_MAP_TITLES = ("R (normalized)", "G (normalized)", "B (normalized)", "Canny")


@dataclass(frozen=True)
class AttentionBlockTrace:
    """One GAB or SAB on one image (paper §3.2–3.3).

    ``low`` ``F_l`` (C, H, W); ``high`` ``F_h`` as the block receives it (C, H, W or H/2, W/2);
    ``red_line`` ``ρ(F_h)``, the output of the block's high-level upsampler (its attribute
    ``red_line``) (C, H, W); ``spatial`` ``S`` (H, W) in (0, 1); ``channel`` the GAB's ``A`` (C,) in
    (0, 1), ``None`` for a SAB; ``fused`` the SAB's ``conv3x3([F_l, ρ(F_h), G↓])`` (C, H, W), ``None``
    for a GAB; ``projected`` ``conv1x1(ρ(F_h))`` (C, H, W); ``output`` the block's (C, H, W).
    """

    name: str
    low: np.ndarray
    high: np.ndarray
    red_line: np.ndarray
    spatial: np.ndarray
    channel: np.ndarray | None
    fused: np.ndarray | None
    projected: np.ndarray
    output: np.ndarray


@dataclass(frozen=True)
class AggregationTrace:
    """The AM on one image (paper §3.4): ``fused`` conv1x1([F_ssb, F_bdb]) (C, H, W), ``context``
    ``T`` (C/4, H, W), the pooled global context of each side (C/8,), and both outputs' logits
    (K, H, W) and (1, H, W), at 1/4 of the input."""

    fused: np.ndarray
    context: np.ndarray
    segmentation_global: np.ndarray
    boundary_global: np.ndarray
    segmentation_logits: np.ndarray
    boundary_logits: np.ndarray


@dataclass(frozen=True)
class BlockWalkthrough:
    """Every block of one forward pass: ``gradient_map`` ``G`` (4, H, W), three GABs and three SABs
    (coarse to fine), the AM (``None`` without one), and the model's outputs at input size:
    ``segmentation`` trainIds (H, W) and ``boundary`` probability (H, W)."""

    gradient_map: np.ndarray
    gabs: tuple[AttentionBlockTrace, ...]
    sabs: tuple[AttentionBlockTrace, ...]
    aggregation: AggregationTrace | None
    segmentation: np.ndarray
    boundary: np.ndarray


def gradient_map_figure(gradient_map: np.ndarray) -> Figure:
    """The four channels of ``G`` (4, H, W), one panel each (paper Fig. 1, blue line)."""
    figure, axes = _row(len(GRADIENT_MAP_TITLES), aspect=gradient_map.shape[1] / gradient_map.shape[2])
    for axis, channel, title in zip(axes, gradient_map, GRADIENT_MAP_TITLES, strict=True):
        canny = title == "Canny"
        _map(axis, channel, title, cmap="gray" if canny else "RdBu_r", centred=not canny)
    figure.suptitle("Image-gradient map G: normalized RGB and the Canny edges", fontsize=10)
    return figure


def channel_attention_figure(gabs: tuple[AttentionBlockTrace, ...]) -> Figure:
    """Each GAB's channel attention ``A`` as bars over the channels."""
    figure = Figure(figsize=(PANEL_WIDTH * len(gabs), 2.9), layout="constrained")
    axes = figure.subplots(1, len(gabs), squeeze=False, sharey=True)[0]
    for axis, block in zip(axes, gabs, strict=True):
        if block.channel is None:
            raise ValueError(f"{block.name} has no channel attention (a SAB?)")
        axis.bar(np.arange(len(block.channel)), block.channel, width=1.0, color="tab:blue")
        axis.set(ylim=(0, 1), xlabel="channel", title=f"GAB {_stage(block)}: A")
    axes[0].set_ylabel("channel weight A")
    figure.suptitle("GAB channel attention A = σ(conv1×1([GAP(F_l), GAP(F_h)]))", fontsize=10)
    return figure


def spatial_attention_figure(blocks: tuple[AttentionBlockTrace, ...], *, title: str) -> Figure:
    """Each block's spatial attention ``S`` (H, W) in (0, 1), one panel per stage."""
    figure, axes = _row(len(blocks), aspect=_aspect(blocks[-1].spatial))
    for axis, block in zip(axes, blocks, strict=True):
        kind = "GAB" if block.channel is not None else "SAB"
        _map(
            axis,
            block.spatial,
            f"{kind} {_stage(block)}: S {block.spatial.shape}",
            cmap="magma",
            limits=(0, 1),
        )
    figure.suptitle(title, fontsize=10)
    return figure


def red_line_figure(blocks: tuple[AttentionBlockTrace, ...]) -> Figure:
    """Per block: channel means of ``F_h`` as received, after the high-level upsampler ``ρ`` (the
    blocks' ``red_line``), and after the 1×1 projection (``F_up``); ``ρ`` upsamples only in block 3
    (F_l from stage1)."""
    figure = Figure(figsize=(PANEL_WIDTH * 3, 1.8 * len(blocks) + 0.5), layout="constrained")
    axes = figure.subplots(len(blocks), 3, squeeze=False)
    for row, block in zip(axes, blocks, strict=True):
        stages = (
            ("F_h", block.high),
            ("ρ(F_h)", block.red_line),
            ("F_up = conv1×1(·)", block.projected),
        )
        for axis, (label, feature) in zip(row, stages, strict=True):
            _map(axis, feature.mean(axis=0), f"block {_stage(block)}: {label} {feature.shape[1:]}")
    figure.suptitle("The high-level upsamplers ρ: F_h on its way into each block (channel means)", fontsize=10)
    return figure


def block_outputs_figure(walkthrough: BlockWalkthrough) -> Figure:
    """Channel means of every GAB and SAB output, then the AM's (or the branches') outputs."""
    blocks = (*walkthrough.gabs, *walkthrough.sabs)
    figure = Figure(figsize=(PANEL_WIDTH * 4, 1.8 * 3 + 0.5), layout="constrained")
    axes = figure.subplots(3, 4)
    for axis, block in zip([*axes[0, :3], *axes[1, :3]], blocks, strict=True):
        kind = "GAB" if block.channel is not None else "SAB"
        _map(axis, block.output.mean(axis=0), f"{kind} {_stage(block)} output {block.output.shape}")
    axes[0, 3].set_axis_off()
    axes[1, 3].set_axis_off()
    am = walkthrough.aggregation
    if am is not None:
        _map(axes[2, 0], am.fused.mean(axis=0), f"AM: conv1×1([F_ssb, F_bdb]) {am.fused.shape}")
        _map(axes[2, 1], am.context.mean(axis=0), f"AM: T = ASPP(·) {am.context.shape}")
    else:
        axes[2, 0].set_axis_off()
        axes[2, 1].set_axis_off()
    _show_rgb(axes[2, 2], colorize_train_ids(walkthrough.segmentation), "segmentation P_s (argmax)")
    _map(axes[2, 3], walkthrough.boundary, "boundary P_b (sigmoid)", cmap="gray", limits=(0, 1))
    figure.suptitle("What each block outputs (channel means) and the model's two outputs", fontsize=10)
    return figure


def _row(columns: int, *, aspect: float) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=(PANEL_WIDTH * columns, PANEL_WIDTH * aspect + 0.7), layout="constrained")
    return figure, figure.subplots(1, columns, squeeze=False)[0]


def _map(
    axis: Axes,
    values: np.ndarray,
    title: str,
    *,
    cmap: str = "viridis",
    limits: tuple[float, float] | None = None,
    centred: bool = False,
) -> None:
    """One (H, W) map with its colour bar; ``centred`` puts 0 in the middle of the colour map."""
    if centred:
        extent = float(np.abs(values).max()) or 1.0
        limits = (-extent, extent)
    low, high = limits if limits is not None else (None, None)
    image = axis.imshow(values, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
    axis.figure.colorbar(image, ax=axis, shrink=0.8)
    _plain(axis, title)


def _show_rgb(axis: Axes, picture: np.ndarray, title: str) -> None:
    axis.imshow(picture, interpolation="nearest")
    _plain(axis, title)


def _plain(axis: Axes, title: str) -> None:
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title, fontsize=8)


def _stage(block: AttentionBlockTrace) -> str:
    return block.name.rsplit("block", 1)[-1]


def _aspect(values: np.ndarray) -> float:
    return values.shape[-2] / values.shape[-1]
