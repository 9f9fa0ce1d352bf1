"""Dataset statistics: class pixel frequencies per split, and their bar plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from basnet_lib.data.cityscapes import find_samples
from basnet_lib.data.labels import (
    CLASS_NAMES,
    IGNORE_INDEX,
    NUM_CLASSES,
    TRAIN_ID_COLORS,
    label_ids_to_train_ids,
)
from basnet_lib.data.png_io import read_label_ids


def class_frequencies(
    root: str | Path, *, splits: tuple[str, ...] = ("train", "val"), progress: bool = True
) -> pd.DataFrame:
    """Pixels per trainId and split, one row per (split, class) including ``ignore``.

    Columns: ``split``, ``train_id`` (0..18, 255), ``class``, ``pixels``, ``fraction`` (of all
    pixels of the split, ignore included) and ``images`` (images of the split containing it).
    """
    rows = []
    for split in splits:
        pixels = np.zeros(256, dtype=np.int64)
        images = np.zeros(256, dtype=np.int64)
        for sample in tqdm(
            find_samples(root, split), desc=f"count {split}", unit="img", disable=not progress
        ):
            if sample.label is None:
                raise ValueError(f"split {split!r} has no labels to count")
            counts = np.bincount(label_ids_to_train_ids(read_label_ids(sample.label)).ravel(), minlength=256)
            pixels += counts
            images += counts > 0
        total = max(int(pixels.sum()), 1)
        for train_id in [*range(NUM_CLASSES), IGNORE_INDEX]:
            name = CLASS_NAMES[train_id] if train_id < NUM_CLASSES else "ignore"
            rows.append(
                {
                    "split": split,
                    "train_id": train_id,
                    "class": name,
                    "pixels": int(pixels[train_id]),
                    "fraction": pixels[train_id] / total,
                    "images": int(images[train_id]),
                }
            )
    return pd.DataFrame(rows)


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
