"""Interactive views of Figs. 4/6/7 (docs/method.md §8.3): sliders over images and SAB stages, a
variant selector; and a view of one's own photo (an upload or a path) through a chosen run.

The figure is a bare matplotlib ``Figure`` rendered to PNG into an ``ipywidgets.Image``, so it
redraws in place in JupyterLab without a matplotlib widget backend, and a test can build the
widget, set a control's ``.value`` and check that the picture changed. The drawing itself is the
plain library function :func:`basnet_lib.plots.draw_explorer`.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from basnet_lib.data.errors import ImageFileError
from basnet_lib.data.image_files import read_rgb_image
from basnet_lib.deploy.image_prediction import (
    ImagePrediction,
    TrainedPredictor,
    load_predictor,
    output_arrays,
    predict_image,
)
from basnet_lib.plots.grids import PANEL_INCHES, ValSamples, VariantPrediction, draw_explorer, draw_own_image


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


@dataclass(frozen=True)
class OwnImageView:
    """The "your own image" widget (``widget``, display it) and its parts, for callers and tests.

    ``show(source, name)`` predicts a photo (its bytes, or a path) with the selected run and
    redraws; the upload, the path box (on Enter) and the run selector call it.
    """

    widget: ipywidgets.VBox
    upload: ipywidgets.FileUpload
    path_box: ipywidgets.Text
    run_selector: ipywidgets.Dropdown
    long_side: ipywidgets.IntText
    message: ipywidgets.HTML
    picture: ipywidgets.Image
    figure: Figure
    show: Callable[[bytes | Path, str], None]


def own_image_view(run_dirs: list[str | Path], *, device: str = "auto", long_side: int = 1024) -> OwnImageView:
    """A view that runs the selected run's model on an uploaded or named PNG/JPEG photo and shows
    ``basnet predict``'s four outputs (trainIds, colours, boundary, overlay) and, for a model with
    SAB probes, the probe map of each stage (Fig. 4).

    Building it loads nothing: a run's model is loaded on its first prediction and kept.
    ``long_side``: the model sees the photo with its long side resized to this (0: as it is);
    the outputs are at the photo's own size either way.
    """
    if not run_dirs:
        raise ValueError("own_image_view needs at least one finished run directory")
    options = {Path(run_dir).name: Path(run_dir) for run_dir in run_dirs}
    run_selector, upload, path_box, long_side_box, message, picture = _own_image_controls(options, long_side)
    figure = Figure(figsize=(PANEL_INCHES * 5, PANEL_INCHES * 1.6), layout="constrained")
    predictors: dict[Path, TrainedPredictor] = {}
    last_shown: list[tuple[bytes | Path, str]] = []

    def show(source: bytes | Path, name: str) -> None:
        try:
            image = read_rgb_image(source, name=name)
        except ImageFileError as error:
            message.value = f"<b>error</b>: {html.escape(str(error))}"
            return
        run_dir = options[run_selector.value]
        if run_dir not in predictors:
            predictors[run_dir] = load_predictor(run_dir, device=device)
        prediction = predict_image(predictors[run_dir], image, scale=long_side_box.value or None)
        draw_own_image(
            figure, _own_image_panels(prediction), prediction.probes, title=f"{name} · {run_selector.value}"
        )
        picture.value = figure_png(figure)
        height, width = image.shape[:2]
        message.value = html.escape(f"{name}: {width}×{height} px, run {run_selector.value}")
        last_shown[:] = [(source, name)]

    def uploaded(change: dict) -> None:
        if change["new"]:
            show(bytes(change["new"][-1]["content"]), change["new"][-1]["name"])

    def path_entered(change: dict) -> None:
        if change["new"].strip():
            show(Path(change["new"].strip()).expanduser(), change["new"].strip())

    def run_changed(_change: dict) -> None:
        if last_shown:
            show(*last_shown[0])

    upload.observe(uploaded, names="value")
    path_box.observe(path_entered, names="value")
    run_selector.observe(run_changed, names="value")
    controls = ipywidgets.HBox([run_selector, upload, path_box, long_side_box])
    return OwnImageView(
        ipywidgets.VBox([controls, message, picture]),
        upload, path_box, run_selector, long_side_box, message, picture, figure, show,
    )  # fmt: skip


def _own_image_controls(options: dict[str, Path], long_side: int) -> tuple:
    """The view's widgets: run selector (a ``full`` run first), upload, path box, long side,
    message line and picture."""
    default = next((name for name in reversed(options) if name.startswith("full")), list(options)[-1])
    return (
        ipywidgets.Dropdown(options=list(options), value=default, description="run"),
        ipywidgets.FileUpload(accept=".png,.jpg,.jpeg", multiple=False, description="upload"),
        ipywidgets.Text(placeholder="path/to/photo.jpg, then Enter", description="or path", continuous_update=False),
        ipywidgets.IntText(value=long_side, description="long side"),
        ipywidgets.HTML("Upload a PNG or JPEG, or type a path and press Enter."),
        ipywidgets.Image(format="png"),
    )


def _own_image_panels(prediction: ImagePrediction) -> dict[str, np.ndarray]:
    """The photo and ``basnet predict``'s four outputs, titled."""
    arrays = output_arrays(prediction)
    boundary = "boundary (of the segmentation)" if prediction.boundary_from_segmentation else "boundary"
    return {
        "input": prediction.image,
        "trainIds": arrays["trainIds"],
        "color": arrays["color"],
        boundary: prediction.boundary,
        "overlay": arrays["overlay"],
    }
