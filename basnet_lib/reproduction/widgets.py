"""Interactive views of Figs. 4/6/7 (SPEC H3): sliders over images and SAB stages, a variant selector.

The figure is a bare matplotlib ``Figure`` rendered to PNG into an ``ipywidgets.Image``, so it
redraws in place in JupyterLab without a matplotlib widget backend, and a test can build the
widget, set a control's ``.value`` and check that the picture changed. The drawing itself is the
plain library function :func:`basnet_lib.plots.draw_explorer`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import ipywidgets
from matplotlib.figure import Figure

from basnet_lib.plots.grids import PANEL_INCHES, ValSamples, VariantPrediction, draw_explorer


@dataclass(frozen=True)
class PredictionExplorer:
    """The widget (``widget``, display it) and its parts, for callers and tests."""

    widget: ipywidgets.VBox
    image_slider: ipywidgets.IntSlider
    stage_slider: ipywidgets.IntSlider
    variant_selector: ipywidgets.Dropdown
    picture: ipywidgets.Image
    figure: Figure


def figure_png(figure: Figure, *, dpi: int = 80) -> bytes:
    """PNG bytes of ``figure``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def prediction_explorer(samples: ValSamples, predictions: dict[str, VariantPrediction]) -> PredictionExplorer:
    """A view of one val image and one variant: segmentation, boundary and one SAB-probe stage.

    Controls: image slider (0..N-1), SAB stage slider (1..3; Fig. 4), variant selector (Figs. 6/7).
    Each change redraws the figure and replaces the picture's PNG.
    """
    if not predictions:
        raise ValueError("prediction_explorer needs at least one variant's predictions")
    height, width = samples.images.shape[1:3]
    figure = Figure(figsize=(PANEL_INCHES * 5, PANEL_INCHES * height / width + 0.7), layout="constrained")
    variants = list(predictions)
    default_variant = next((v for v in reversed(variants) if predictions[v].probes is not None), variants[-1])
    image_slider = ipywidgets.IntSlider(value=0, min=0, max=len(samples.names) - 1, description="image")
    stage_slider = ipywidgets.IntSlider(value=3, min=1, max=3, description="SAB stage")
    variant_selector = ipywidgets.Dropdown(options=variants, value=default_variant, description="variant")
    picture = ipywidgets.Image(format="png")

    def redraw(_change: object = None) -> None:
        draw_explorer(
            figure,
            samples,
            predictions,
            image_index=image_slider.value,
            variant=variant_selector.value,
            stage=stage_slider.value,
        )
        picture.value = figure_png(figure)

    for control in (image_slider, stage_slider, variant_selector):
        control.observe(redraw, names="value")
    redraw()
    controls = ipywidgets.HBox([variant_selector, image_slider, stage_slider])
    return PredictionExplorer(
        widget=ipywidgets.VBox([controls, picture]),
        image_slider=image_slider,
        stage_slider=stage_slider,
        variant_selector=variant_selector,
        picture=picture,
        figure=figure,
    )


__all__ = ["PredictionExplorer", "figure_png", "prediction_explorer"]
