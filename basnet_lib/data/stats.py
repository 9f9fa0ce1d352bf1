"""Dataset statistics: class pixel frequencies per split (drawn by :func:`basnet_lib.plots.dataset.plot_class_frequencies`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from basnet_lib.data.cityscapes import find_samples
from basnet_lib.data.labels import (
    CLASS_NAMES,
    IGNORE_INDEX,
    NUM_CLASSES,
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


def class_pixel_counts(root: str | Path, *, split: str = "train") -> np.ndarray:
    """Pixels of each trainId 0..18 in ``split`` (the frequencies the loss's class weights use)."""
    frequencies = class_frequencies(root, splits=(split,), progress=False).set_index("train_id")
    return frequencies.loc[list(range(NUM_CLASSES)), "pixels"].to_numpy(dtype=float)
