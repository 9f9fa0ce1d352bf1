"""``DataConfig``: where the data comes from and how training samples are augmented (docs/decisions.md "Data")."""

from __future__ import annotations

import math
from dataclasses import dataclass

from basnet_lib.config_checks import check_int


@dataclass(frozen=True)
class DataConfig:
    """One dataset and its augmentation; the fields are the notebooks' data parameters.

    Attributes:
        root: a folder in the Cityscapes layout (docs/decisions.md "Data"), SynthCity or the real dataset.
            ``""`` means the default SynthCity set, generated into the cache on first use
            from the ``synthcity_*`` fields (see :func:`basnet_lib.data.ensure_synthcity`).
        synthcity_train, synthcity_val, synthcity_test: images per split of the default set.
        synthcity_height, synthcity_width: size of the default set's images (docs/decisions.md "SynthCity": 256×512).
        synthcity_seed: seed of the default set.
        crop_height, crop_width: training crop (docs/decisions.md "Data"); the paper's is 480×480 (paper §4.2), the
            default suits the CPU preset (docs/decisions.md "cpu recipe").
        scale_min, scale_max: random scale range of training images (0.5..2.0 in the paper's "*" setting, docs/decisions.md "Training protocol"), drawn
            uniformly.
        hflip: flip training samples horizontally with probability 1/2 (docs/decisions.md "Data").
        num_workers: ``DataLoader`` worker processes.
    """

    root: str = ""
    synthcity_train: int = 400
    synthcity_val: int = 100
    synthcity_test: int = 0
    synthcity_height: int = 256
    synthcity_width: int = 512
    synthcity_seed: int = 0
    crop_height: int = 128
    crop_width: int = 256
    scale_min: float = 0.5
    scale_max: float = 2.0
    hflip: bool = True
    num_workers: int = 2

    def __post_init__(self) -> None:
        for name in ("synthcity_train", "synthcity_val", "synthcity_test", "num_workers"):
            check_int(self, name, minimum=0)
        for name in ("synthcity_height", "synthcity_width", "crop_height", "crop_width"):
            check_int(self, name, minimum=8)
        if not (math.isfinite(self.scale_min) and math.isfinite(self.scale_max)) or not 0 < self.scale_min <= self.scale_max:
            raise ValueError(
                f"DataConfig needs finite 0 < scale_min <= scale_max, got scale_min={self.scale_min}, "
                f"scale_max={self.scale_max}"
            )

    @property
    def crop_size(self) -> tuple[int, int]:
        return (self.crop_height, self.crop_width)

