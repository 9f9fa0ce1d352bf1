"""Pictures of a dataset: image, colour labels, edge target and Canny map of a few samples, and the
class pixel frequencies per split."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.data.edges import edge_target
from basnet_lib.data.labels import CLASS_NAMES, NUM_CLASSES, TRAIN_ID_COLORS, colorize_train_ids
from basnet_lib.data.transforms import EvalTransform
from basnet_lib.gradient_map import canny_edges


def draw_samples_figure(root: str | Path, out: str | Path, *, split: str = "val", count: int = 4) -> Path:
    """Save a ``count``-row PNG of the first samples of ``split`` (evaluation input, docs/method.md §2.5).

    Columns: image, trainId labels in Cityscapes colours (ignore black), edge target (docs/method.md §2.4),
    Canny map (docs/method.md §1.7). Rows are spread evenly over the split. The figure is sized and saved at
    a resolution that keeps the file small (about 100 dpi, 12 inches wide).
    """
    dataset = CityscapesSegmentation(root, split, transform=EvalTransform())
    if not dataset.has_labels:
        raise ValueError(f"split {split!r} has no labels to draw")
    indices = np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int)
    image, _ = dataset.read_arrays(0)
    aspect = image.shape[0] / image.shape[1]
    figure, axes = plt.subplots(len(indices), 4, figsize=(12, 3 * aspect * len(indices) + 0.4), squeeze=False)
    for row, index in enumerate(indices):
        image, train_ids = dataset.read_arrays(int(index))
        panels = (image, colorize_train_ids(train_ids), edge_target(train_ids), canny_edges(image))
        for column, panel in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(panel, cmap="gray" if panel.ndim == 2 else None, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(("image", "labels (trainIds)", "edge target", "Canny edges")[column])
        axes[row, 0].set_ylabel(dataset.samples[int(index)].name, fontsize=7)
    figure.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


def plot_class_frequencies(frequencies: pd.DataFrame, *, title: str = "Class pixel frequencies") -> Figure:
    """Grouped bar plot (log scale) of :func:`class_frequencies`' ``fraction``: classes × splits.

    Each class's bars carry its Cityscapes colour; splits differ by hatching.
    """
    classes = [*CLASS_NAMES, "ignore"]
    splits = list(dict.fromkeys(frequencies["split"]))
    figure, axis = plt.subplots(figsize=(11, 3.8), layout="constrained")
    bar_width = 0.8 / max(len(splits), 1)
    hatches = ["", "//", "..", "xx"]
    for position, split in enumerate(splits):
        table = frequencies[frequencies["split"] == split].set_index("class").reindex(classes)
        x = np.arange(len(classes)) + (position - (len(splits) - 1) / 2) * bar_width
        colors = [TRAIN_ID_COLORS[i] / 255 for i in range(NUM_CLASSES)] + [(0.5, 0.5, 0.5)]
        axis.bar(
            x,
            table["fraction"].fillna(0).to_numpy(),
            bar_width,
            color=colors,
            edgecolor="black",
            linewidth=0.4,
            hatch=hatches[position % len(hatches)],
            label=split,
        )
    axis.set_yscale("log")
    axis.set_xticks(np.arange(len(classes)), classes, rotation=45, ha="right")
    axis.set_ylabel("fraction of pixels")
    axis.set_title(title)
    axis.legend(title="split (hatching)")
    return figure
