"""Notebook 01's block walkthrough: the recorded intermediates are the model's own, in range, of the
model's shapes, and put together by the paper's §3 equations into each block's output."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from basnet_lib.engine.checkpoint import save_checkpoint
from basnet_lib.engine.config_io import save_config
from basnet_lib.engine.run_files import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE
from basnet_lib.gradient_map import image_gradient_map
from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.plots import (
    block_outputs_figure,
    channel_attention_figure,
    gradient_map_figure,
    red_line_figure,
    spatial_attention_figure,
)
from basnet_lib.reproduction.block_walkthrough import trace_blocks, walkthrough_model
from basnet_lib.reproduction.experiments import planned_run

WIDTH, HEIGHT, IMAGE_WIDTH = 16, 64, 96


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    config = ModelConfig(variant="full", backbone="resnet18", width=WIDTH, aspp_channels=32, sab_probes=True)
    return build_basnet(config=config)


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (1, 3, HEIGHT, IMAGE_WIDTH), dtype=torch.uint8, generator=generator)
    gradient_map = image_gradient_map(images)
    return gradient_map[:, :3], gradient_map


@pytest.fixture(scope="module")
def walkthrough(model, inputs):
    return trace_blocks(model, *inputs)


def test_attention_maps_are_in_the_open_unit_interval_at_the_low_feature_size(walkthrough) -> None:
    for block in (*walkthrough.gabs, *walkthrough.sabs):
        assert block.spatial.shape == block.low.shape[1:], block.name
        assert 0 < block.spatial.min() and block.spatial.max() < 1, block.name
    for block in walkthrough.gabs:
        assert block.channel.shape == (WIDTH,)
        assert 0 < block.channel.min() and block.channel.max() < 1
        assert block.fused is None
    for block in walkthrough.sabs:
        assert block.channel is None and block.fused.shape == block.low.shape


def test_shapes_are_the_models(walkthrough) -> None:
    eighth, quarter = (WIDTH, HEIGHT // 8, IMAGE_WIDTH // 8), (WIDTH, HEIGHT // 4, IMAGE_WIDTH // 4)
    for blocks in (walkthrough.gabs, walkthrough.sabs):
        assert [block.name.rsplit(".", 1)[1] for block in blocks] == ["block1", "block2", "block3"]
        assert [block.output.shape for block in blocks] == [eighth, eighth, quarter]
        # The high-level upsampler upsamples only in block 3 (F_l from stage1) and passes F_h through elsewhere.
        assert blocks[2].high.shape == eighth and blocks[2].red_line.shape == quarter
        for block in blocks[:2]:
            np.testing.assert_array_equal(block.red_line, block.high)
    assert walkthrough.gradient_map.shape == (4, HEIGHT, IMAGE_WIDTH)
    am = walkthrough.aggregation
    assert am.fused.shape == quarter and am.context.shape == (WIDTH // 4, *quarter[1:])
    assert am.segmentation_global.shape == am.boundary_global.shape == (WIDTH // 8,)
    assert am.segmentation_logits.shape == (19, *quarter[1:]) and am.boundary_logits.shape == (
        1,
        *quarter[1:],
    )
    assert walkthrough.segmentation.shape == walkthrough.boundary.shape == (HEIGHT, IMAGE_WIDTH)


def test_the_paper_equations_give_each_blocks_output(walkthrough) -> None:
    for gab in walkthrough.gabs:  # F_gab = conv1x1(red(F_h)) + F_l ⊙ A ⊙ S
        expected = gab.projected + gab.low * gab.channel[:, None, None] * gab.spatial
        np.testing.assert_allclose(gab.output, expected, rtol=1e-5, atol=1e-5)
    for sab in walkthrough.sabs:  # F_sab = conv1x1(red(F_h)) + conv3x3([F_l, red(F_h), G]) ⊙ S
        np.testing.assert_allclose(sab.output, sab.projected + sab.fused * sab.spatial, rtol=1e-5, atol=1e-5)
    # Each block's F_h is the output of the block before it.
    for blocks in (walkthrough.gabs, walkthrough.sabs):
        for before, block in itertools.pairwise(blocks):
            np.testing.assert_array_equal(block.high, before.output)


def test_outputs_are_the_models_and_the_model_is_left_as_it_was(model, inputs) -> None:
    model.train()
    walkthrough = trace_blocks(model, *inputs)
    assert model.training
    assert not any(module._forward_hooks for module in model.modules())
    model.eval()
    with torch.inference_mode():
        outputs = model(*inputs)
    np.testing.assert_array_equal(walkthrough.segmentation, outputs["out"][0].argmax(0).numpy())
    np.testing.assert_allclose(walkthrough.boundary, torch.sigmoid(outputs["boundary"][0, 0]).numpy())


def test_a_model_without_both_branches_is_refused(inputs) -> None:
    model = build_basnet(
        config=ModelConfig(variant="ssb", backbone="resnet18", width=WIDTH, aspp_channels=32)
    )
    with pytest.raises(ValueError, match="both branches"):
        trace_blocks(model, *inputs)


def test_walkthrough_model_is_the_finished_runs_else_an_untrained_one(tmp_path) -> None:
    run = planned_run(preset_name="smoke", variant="full", results_root=tmp_path)
    first, source = walkthrough_model(run)
    second, _ = walkthrough_model(run)
    assert source.startswith("untrained")
    for (name, value), other in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(value, other), name  # seeded: always the same untrained weights
    trained = build_basnet(config=run.model)
    with torch.no_grad():
        trained.semantic_branch.block1.spatial_attention.bias.fill_(3.0)
    run.run_dir.mkdir(parents=True)
    save_config(run, run.run_dir / CONFIG_FILE)
    (run.run_dir / METRICS_FILE).write_text("{}")
    state = {"iteration": 6, "config": {}, "model": trained.state_dict(), "optimizer": {}, "scheduler": {}}
    save_checkpoint(run.run_dir / CHECKPOINT_FILE, {**state, "rng": {}})
    loaded, source = walkthrough_model(run)
    assert source.startswith("trained")
    assert torch.equal(loaded.semantic_branch.block1.spatial_attention.bias, torch.full((1,), 3.0))


def test_the_walkthrough_figures(walkthrough) -> None:
    def pictures(figure) -> int:
        return sum(len(axis.images) for axis in figure.axes)

    assert pictures(gradient_map_figure(walkthrough.gradient_map)) == 4
    assert sum(len(axis.patches) for axis in channel_attention_figure(walkthrough.gabs).axes) == 3 * WIDTH
    assert pictures(spatial_attention_figure(walkthrough.sabs, title="S")) == 3
    assert pictures(red_line_figure(walkthrough.gabs)) == 9
    assert pictures(block_outputs_figure(walkthrough)) == 10
    with pytest.raises(ValueError, match="no channel attention"):
        channel_attention_figure(walkthrough.sabs)
