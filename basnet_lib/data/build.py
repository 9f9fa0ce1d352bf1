"""Datasets from a :class:`DataConfig`: the root it names (or the cached SynthCity set)."""

from __future__ import annotations

from pathlib import Path

from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.data.config import DataConfig
from basnet_lib.data.synthcity.cache import ensure_synthcity
from basnet_lib.data.transforms import build_transform


def dataset_root(config: DataConfig, *, progress: bool = True) -> Path:
    """``config.root``, or the default SynthCity set of ``config`` (generated if missing)."""
    if config.root:
        return Path(config.root)
    return ensure_synthcity(
        train=config.synthcity_train,
        val=config.synthcity_val,
        test=config.synthcity_test,
        height=config.synthcity_height,
        width=config.synthcity_width,
        seed=config.synthcity_seed,
        progress=progress,
    )


def build_dataset(config: DataConfig, *, split: str, train: bool, seed: int = 0) -> CityscapesSegmentation:
    """The ``split`` of ``config``'s dataset with the training (docs/decisions.md "Data") or evaluation
    (docs/method.md §2.5) transform.

    ``seed`` seeds the augmentation (see :class:`CityscapesSegmentation`); it does not matter for
    evaluation.
    """
    return CityscapesSegmentation(
        dataset_root(config), split, transform=build_transform(config, train=train), seed=seed
    )
