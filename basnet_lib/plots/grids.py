"""Figs. 4, 6 and 7 as image grids (docs/method.md §6.4): one row per val image, input and ground
truth first.

What they show comes in as :class:`ValSamples` and one :class:`VariantPrediction` per variant
(assembled from trained runs by :mod:`basnet_lib.reproduction.predictions`).

- Fig. 4: SAB-probe boundary maps of the three stages (paper §3.3 last paragraph,
  docs/method.md §1.11);
- Fig. 6: segmentation of each Table 1 variant;
- Fig. 7: boundary of each variant (the head's sigmoid, or the boundary of the predicted
  segmentation for variants without a boundary head, marked "seg. boundary").

:func:`draw_explorer` is the one-row view the widgets redraw in place; :func:`draw_own_image` the
view of a photo of one's own (``basnet predict``'s four outputs and the SAB probes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from basnet_lib.data.labels import colorize_train_ids

PANEL_INCHES = 2.4


@dataclass(frozen=True)
class ValSamples:
    """The val images the figures show: uint8 RGB (N, H, W, 3), trainIds (N, H, W), edge target
    (N, H, W) of docs/method.md §2.4, and their names."""

    images: np.ndarray
    labels: np.ndarray
    edges: np.ndarray
    names: tuple[str, ...]


@dataclass(frozen=True)
class VariantPrediction:
    """One run's outputs on :class:`ValSamples`.

    ``labels`` (N, H, W) argmax trainIds; ``boundary`` (N, H, W) in [0, 1]: the boundary head's
    sigmoid, or (``boundary_from_segmentation``) the 0/1 boundary of ``labels``; ``probes``
    (3, N, H, W) sigmoid of the SAB probes (Fig. 4) or ``None``.
    """

    variant: str
    run_name: str
    labels: np.ndarray
    boundary: np.ndarray
    boundary_from_segmentation: bool
    probes: np.ndarray | None


def figure4_probes(samples: ValSamples, prediction: VariantPrediction) -> Figure:
    """Input, ground-truth edges, and the boundary map of SAB probe 1, 2, 3 (Fig. 4)."""
    if prediction.probes is None:
        raise ValueError(
            f"run {prediction.run_name} has no SAB probes (docs/method.md §1.11: ssb_bdb or full with probes)"
        )
    titles = ["input", "ground-truth edges"] + [
        f"+ SAB {stage + 1}" for stage in range(len(prediction.probes))
    ]
    figure, axes = _grid(samples, columns=len(titles))
    for row in range(len(samples.names)):
        _show(axes[row, 0], samples.images[row])
        _show(axes[row, 1], samples.edges[row], gray=True)
        for stage, probe in enumerate(prediction.probes):
            _show(axes[row, 2 + stage], probe[row], gray=True)
    _titles(axes, titles)
    figure.suptitle(f"Fig. 4: SAB-probe boundary maps per stage ({prediction.run_name})", fontsize=10)
    return figure


def figure6_segmentation(samples: ValSamples, predictions: dict[str, VariantPrediction]) -> Figure:
    """Input, ground truth, and each variant's segmentation in Cityscapes colours (Fig. 6)."""
    titles = ["input", "ground truth", *predictions]
    figure, axes = _grid(samples, columns=len(titles))
    for row in range(len(samples.names)):
        _show(axes[row, 0], samples.images[row])
        _show(axes[row, 1], colorize_train_ids(samples.labels[row]))
        for column, prediction in enumerate(predictions.values(), start=2):
            _show(axes[row, column], colorize_train_ids(prediction.labels[row].astype(np.uint8)))
    _titles(axes, titles)
    figure.suptitle("Fig. 6: segmentation per variant (val)", fontsize=10)
    return figure


def figure7_boundaries(samples: ValSamples, predictions: dict[str, VariantPrediction]) -> Figure:
    """Input, ground-truth edges, and each variant's boundary (Fig. 7, docs/method.md §6.4)."""
    titles = ["input", "ground-truth edges"] + [
        _boundary_title(prediction) for prediction in predictions.values()
    ]
    figure, axes = _grid(samples, columns=len(titles))
    for row in range(len(samples.names)):
        _show(axes[row, 0], samples.images[row])
        _show(axes[row, 1], samples.edges[row], gray=True)
        for column, prediction in enumerate(predictions.values(), start=2):
            _show(axes[row, column], prediction.boundary[row], gray=True)
    _titles(axes, titles)
    figure.suptitle("Fig. 7: boundary per variant (val)", fontsize=10)
    return figure


def draw_explorer(
    figure: Figure,
    samples: ValSamples,
    predictions: dict[str, VariantPrediction],
    *,
    image_index: int,
    variant: str,
    stage: int,
) -> Figure:
    """Redraw ``figure`` in place: input, ground truth, ``variant``'s segmentation and boundary,
    and its SAB probe ``stage`` (1..3) where the variant has probes."""
    prediction = predictions[variant]
    figure.clear()
    axes = figure.subplots(1, 5)
    _show(axes[0], samples.images[image_index])
    _show(axes[1], colorize_train_ids(samples.labels[image_index]))
    _show(axes[2], colorize_train_ids(prediction.labels[image_index].astype(np.uint8)))
    _show(axes[3], prediction.boundary[image_index], gray=True)
    titles = [
        "input",
        "ground truth",
        f"{variant}: segmentation",
        f"{variant}: {_explorer_boundary_title(prediction)}",
    ]
    if prediction.probes is not None:
        _show(axes[4], prediction.probes[stage - 1][image_index], gray=True)
        titles.append(f"SAB {stage} probe")
    else:
        axes[4].set_axis_off()
        axes[4].text(0.5, 0.5, f"no SAB probes\n({variant} has no BDB)", ha="center", va="center")
        titles.append("")
    for axis, title in zip(axes, titles, strict=True):
        axis.set_title(title, fontsize=8)
    figure.suptitle(samples.names[image_index], fontsize=8)
    return figure


def draw_own_image(
    figure: Figure,
    panels: dict[str, np.ndarray],
    probes: np.ndarray | None,
    *,
    title: str,
    max_side: int = 800,
) -> Figure:
    """Redraw ``figure`` in place: a row of ``panels`` (title: uint8 RGB (H, W, 3), or (H, W) in
    gray: floats from 0 to 1, integers such as trainIds from 0 to their maximum), and below it the
    SAB probe maps (3, H, W) when there are probes. Pictures larger than ``max_side`` are shown
    subsampled."""
    figure.clear()
    columns = max(len(panels), 3)
    axes = figure.subplots(2 if probes is not None else 1, columns, squeeze=False)
    for axis, (name, picture) in zip(axes[0], panels.items(), strict=False):
        picture = _subsampled(picture, max_side)
        gray = picture.ndim == 2
        top = (1 if picture.dtype.kind == "f" else max(int(picture.max()), 1)) if gray else None
        axis.imshow(
            picture, cmap="gray" if gray else None, vmin=0 if gray else None, vmax=top, interpolation="nearest"
        )
        axis.set_title(name, fontsize=8)
    if probes is not None:
        for stage, probe in enumerate(probes):
            _show(axes[1, stage], _subsampled(probe, max_side), gray=True)
            axes[1, stage].set_title(f"SAB {stage + 1} probe", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
        if not axis.images:
            axis.set_axis_off()
    figure.suptitle(title, fontsize=8)
    return figure


def _subsampled(picture: np.ndarray, max_side: int) -> np.ndarray:
    step = -(-max(picture.shape[:2]) // max_side)
    return picture[::step, ::step]


def _boundary_title(prediction: VariantPrediction) -> str:
    return (
        f"{prediction.variant} (seg. boundary)"
        if prediction.boundary_from_segmentation
        else prediction.variant
    )


def _explorer_boundary_title(prediction: VariantPrediction) -> str:
    """What the explorer's boundary panel shows (its other titles already name the variant)."""
    if prediction.boundary_from_segmentation:
        return "boundary of its segmentation (no BDB)"
    return "boundary map (BDB output)"


def _grid(samples: ValSamples, *, columns: int) -> tuple[Figure, np.ndarray]:
    height, width = samples.images.shape[1:3]
    rows = len(samples.names)
    figure = Figure(
        figsize=(PANEL_INCHES * columns, PANEL_INCHES * height / width * rows + 0.6), layout="constrained"
    )
    axes = figure.subplots(rows, columns, squeeze=False)
    for row, name in enumerate(samples.names):
        axes[row, 0].set_ylabel(name, fontsize=6)
    return figure, axes


def _show(axis: Axes, picture: np.ndarray, *, gray: bool = False) -> None:
    axis.imshow(
        picture,
        cmap="gray" if gray else None,
        vmin=0 if gray else None,
        vmax=1 if gray else None,
        interpolation="nearest",
    )
    axis.set_xticks([])
    axis.set_yticks([])


def _titles(axes: np.ndarray, titles: list[str]) -> None:
    for axis, title in zip(axes[0], titles, strict=True):
        axis.set_title(title, fontsize=8)
