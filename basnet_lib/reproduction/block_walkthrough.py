"""What each block of one model computes on one image: the intermediates of notebook 01's walkthrough
of the paper's §3 (docs/method.md §1.4–§1.8).

Forward hooks on the blocks' own submodules record what the model itself computes (no block is
re-implemented here): for every GAB and SAB its inputs ``F_l`` and ``F_h``, the high-level
upsampler's output, the spatial attention ``S``, the GAB's channel attention ``A``, the SAB's fusion
conv, the projected ``F_h`` and the block output; for the AM its fused feature, the shared context
``T`` and both outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.run_files import METRICS_FILE, load_trained_model
from basnet_lib.model import GlobalAttentionBlock, build_basnet
from basnet_lib.plots.block_walkthrough import AggregationTrace, AttentionBlockTrace, BlockWalkthrough

BLOCK_NAMES = ("block1", "block2", "block3")  # coarse to fine, as the branches call them


def walkthrough_model(run: RunConfig) -> tuple[nn.Module, str]:
    """The model the walkthrough shows: ``run``'s trained weights when its run directory holds a
    finished run, else an untrained model of its config (seeded: always the same weights); and a
    line saying which."""
    if (Path(run.run_dir) / METRICS_FILE).is_file():
        _, model = load_trained_model(run.run_dir)
        return model, f"trained model of {run.run_dir}"
    with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
        torch.manual_seed(0)
        model = build_basnet(config=run.model.without_imagenet_weights())
    return model, f"untrained {run.model.variant} model (no finished run in {run.run_dir})"


def trace_blocks(model: nn.Module, image: Tensor, gradient_map: Tensor) -> BlockWalkthrough:
    """Run ``model`` (eval mode, no gradients) on one normalized image (1, 3, H, W) and its gradient
    map ``G`` (1, 4, H, W); return every GAB's, SAB's and the AM's intermediates as numpy arrays
    without the batch axis. The model needs both branches (``ssb_bdb`` or ``full``); the AM part is
    ``None`` without an aggregation module. The model's train/eval mode is restored afterwards."""
    if image.shape[0] != 1:
        raise ValueError(f"trace_blocks takes one image, got a batch of {image.shape[0]}")
    if getattr(model, "semantic_branch", None) is None or getattr(model, "boundary_branch", None) is None:
        raise ValueError("trace_blocks needs a model with both branches (variant ssb_bdb or full)")
    branches = {"semantic_branch": model.semantic_branch, "boundary_branch": model.boundary_branch}
    # One record per block, filled by its hooks: {branch name: [block1's, block2's, block3's]}.
    records: dict[str, list[dict[str, Tensor]]] = {name: [{} for _ in BLOCK_NAMES] for name in branches}
    handles = []
    for name, branch in branches.items():
        for block_name, record in zip(BLOCK_NAMES, records[name], strict=True):
            handles += _record_block(getattr(branch, block_name), record)
    aggregation: dict[str, Tensor] = {}
    if getattr(model, "aggregation", None) is not None:
        handles += _record_aggregation(model.aggregation, aggregation)
    was_training = model.training
    try:
        model.eval()
        with torch.inference_mode():
            outputs = model(image, gradient_map)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return BlockWalkthrough(
        gradient_map=_array(gradient_map),
        gabs=_block_traces("semantic_branch", records["semantic_branch"]),
        sabs=_block_traces("boundary_branch", records["boundary_branch"]),
        aggregation=_aggregation_trace(aggregation) if aggregation else None,
        segmentation=outputs["out"][0].argmax(0).numpy().astype(np.uint8),
        boundary=_array(torch.sigmoid(outputs["boundary"]))[0],
    )


def _keep(record: dict[str, Tensor], field: str) -> Callable:
    """A forward hook storing a module's output as ``record[field]``."""

    def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
        record[field] = output

    return hook


def _record_block(block: nn.Module, record: dict[str, Tensor]) -> list:
    """Hooks filling ``record`` with a GAB's or SAB's inputs, output and parts."""

    def inputs_and_output(module: nn.Module, args: tuple, output: Tensor) -> None:
        record["low"], record["high"], record["output"] = args[0], args[1], output

    parts = {
        "red_line": block.red_line,
        "spatial": block.spatial_attention,
        "projected": block.high_projection,
    }
    if isinstance(block, GlobalAttentionBlock):
        parts["channel"] = block.channel_attention
    else:
        parts["fused"] = block.fuse
    return [block.register_forward_hook(inputs_and_output)] + [
        module.register_forward_hook(_keep(record, field)) for field, module in parts.items()
    ]


def _record_aggregation(aggregation: nn.Module, record: dict[str, Tensor]) -> list:
    """Hooks filling ``record`` with the AM's fused feature, context ``T`` and both outputs."""
    parts = {
        "fused": aggregation.fuse,
        "context": aggregation.context,
        "segmentation_global": aggregation.segmentation.global_context,
        "boundary_global": aggregation.boundary.global_context,
        "segmentation_logits": aggregation.segmentation,
        "boundary_logits": aggregation.boundary,
    }
    return [module.register_forward_hook(_keep(record, field)) for field, module in parts.items()]


def _block_traces(branch: str, records: list[dict[str, Tensor]]) -> tuple[AttentionBlockTrace, ...]:
    return tuple(
        _block_trace(f"{branch}.{name}", record) for name, record in zip(BLOCK_NAMES, records, strict=True)
    )


def _block_trace(name: str, record: dict[str, Tensor]) -> AttentionBlockTrace:
    """One GAB's or SAB's record as arrays; the attention logits go through the block's sigmoid."""
    channel = record.get("channel")
    fused = record.get("fused")
    return AttentionBlockTrace(
        name=name,
        low=_array(record["low"]),
        high=_array(record["high"]),
        red_line=_array(record["red_line"]),
        spatial=_array(torch.sigmoid(record["spatial"]))[0],
        channel=None if channel is None else _array(torch.sigmoid(channel))[:, 0, 0],
        fused=None if fused is None else _array(fused),
        projected=_array(record["projected"]),
        output=_array(record["output"]),
    )


def _aggregation_trace(record: dict[str, Tensor]) -> AggregationTrace:
    return AggregationTrace(
        fused=_array(record["fused"]),
        context=_array(record["context"]),
        segmentation_global=_array(record["segmentation_global"])[:, 0, 0],
        boundary_global=_array(record["boundary_global"])[:, 0, 0],
        segmentation_logits=_array(record["segmentation_logits"]),
        boundary_logits=_array(record["boundary_logits"]),
    )


def _array(tensor: Tensor) -> np.ndarray:
    """The first (only) image of a batch as float32 numpy."""
    return tensor[0].float().numpy()
