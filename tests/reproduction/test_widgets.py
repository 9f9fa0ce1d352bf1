"""The interactive view redraws in place (headless) and the static figures draw (notebooks 04-05)."""

from __future__ import annotations

import numpy as np
import pytest

from basnet_lib.metrics.boundary_dense import segmentation_boundary
from basnet_lib.plots import (
    ValSamples,
    VariantPrediction,
    figure4_probes,
    figure6_segmentation,
    figure7_boundaries,
)
from basnet_lib.reproduction.widgets import prediction_explorer


@pytest.fixture
def samples_and_predictions() -> tuple[ValSamples, dict[str, VariantPrediction]]:
    generator = np.random.default_rng(0)
    count, height, width = 2, 16, 32
    samples = ValSamples(
        images=generator.integers(0, 256, (count, height, width, 3), dtype=np.uint8),
        labels=generator.integers(0, 19, (count, height, width), dtype=np.uint8),
        edges=generator.random((count, height, width)).round().astype(np.float32),
        names=("a", "b"),
    )
    baseline_labels = generator.integers(0, 19, (count, height, width))
    predictions = {
        "baseline": VariantPrediction(
            "baseline", "baseline-run", baseline_labels, segmentation_boundary(baseline_labels), True, None
        ),
        "full": VariantPrediction(
            "full",
            "full-run",
            generator.integers(0, 19, (count, height, width)),
            generator.random((count, height, width)),
            False,
            generator.random((3, count, height, width)),
        ),
    }
    return samples, predictions


def test_explorer_redraws_when_a_control_changes(samples_and_predictions) -> None:
    explorer = prediction_explorer(*samples_and_predictions)
    assert explorer.variant_selector.value == "full"  # the variant with SAB probes is shown first
    pictures = [bytes(explorer.picture.value)]
    assert pictures[0].startswith(b"\x89PNG")
    for control, value in (
        (explorer.stage_slider, 1),
        (explorer.image_slider, 1),
        (explorer.variant_selector, "baseline"),
    ):
        control.value = value
        assert bytes(explorer.picture.value) != pictures[-1], control.description
        pictures.append(bytes(explorer.picture.value))
    assert "baseline" in explorer.figure.axes[2].get_title()
    explorer.stage_slider.value = 2  # a variant without probes still redraws without error
    assert explorer.figure.axes[4].texts[0].get_text().startswith("no SAB probes")


def test_static_figures_have_a_panel_per_column(samples_and_predictions) -> None:
    samples, predictions = samples_and_predictions
    assert len(figure6_segmentation(samples, predictions).axes) == 2 * 4
    figure = figure7_boundaries(samples, predictions)
    assert "seg. boundary" in figure.axes[2].get_title()
    assert len(figure4_probes(samples, predictions["full"]).axes) == 2 * 5
    with pytest.raises(ValueError, match="no SAB probes"):
        figure4_probes(samples, predictions["baseline"])


def test_explorer_boundary_panel_says_what_it_shows(samples_and_predictions) -> None:
    explorer = prediction_explorer(*samples_and_predictions)
    assert explorer.figure.axes[3].get_title() == "full: boundary map (BDB output)"
    explorer.variant_selector.value = "baseline"
    assert explorer.figure.axes[3].get_title() == "baseline: boundary of its segmentation (no BDB)"
