"""Reader of any dataset in the Cityscapes layout: SynthCity or the real Cityscapes (docs/decisions.md "Data").

Layout: ``leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png`` and, for ``train`` and ``val``,
``gtFine/{split}/{city}/{stem}_gtFine_labelIds.png``. The ``test`` split has no labels: its
samples carry no ``label``/``edge`` (the real dataset's placeholder test labels are not read).

Building a dataset checks the layout cheaply (root and split exist, images found, every image has
its label and every label its image); each file is decoded and checked when its sample is loaded,
and :func:`basnet_lib.data.verify_dataset` checks every file up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from basnet_lib.data.edges import edge_target
from basnet_lib.data.errors import DatasetError
from basnet_lib.data.labels import label_ids_to_train_ids
from basnet_lib.data.png_io import read_image, read_label_ids
from basnet_lib.data.transforms import EvalTransform, TrainTransform
from basnet_lib.gradient_map import canny_edges, normalize_image

SPLITS = ("train", "val", "test")
LABELED_SPLITS = ("train", "val")
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
COLOR_SUFFIX = "_gtFine_color.png"
# How many problems one error message lists before it only counts the rest.
_MAX_LISTED = 10


@dataclass(frozen=True)
class SampleFiles:
    """The files of one sample; ``name`` is the image stem without ``_leftImg8bit``."""

    name: str
    image: Path
    label: Path | None


def image_path(root: Path, split: str, city: str, name: str) -> Path:
    return Path(root) / "leftImg8bit" / split / city / f"{name}{IMAGE_SUFFIX}"


def label_path(root: Path, split: str, city: str, name: str) -> Path:
    return Path(root) / "gtFine" / split / city / f"{name}{LABEL_SUFFIX}"


def find_samples(root: str | Path, split: str) -> list[SampleFiles]:
    """The samples of one split, sorted by name, with the layout checked (docs/decisions.md "Data").

    Raises:
        DatasetError: the root or split folder is missing or holds no images, an image has no
            label or a label no image (train/val); the message names every such file (up to 10).
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {SPLITS}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(
            f"{root}: dataset root does not exist; expected a folder with leftImg8bit/ and gtFine/ "
            "in the Cityscapes layout"
        )
    image_dir = root / "leftImg8bit" / split
    if not image_dir.is_dir():
        raise DatasetError(f"{image_dir}: split folder does not exist; expected leftImg8bit/{split}/<city>/")
    images = sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}"))
    if not images:
        raise DatasetError(f"{image_dir}: split folder holds no <city>/*{IMAGE_SUFFIX} images")
    if split not in LABELED_SPLITS:
        return [SampleFiles(name=_stem(path, IMAGE_SUFFIX), image=path, label=None) for path in images]

    samples, problems = [], []
    for path in images:
        name = _stem(path, IMAGE_SUFFIX)
        expected = label_path(root, split, path.parent.name, name)
        if expected.is_file():
            samples.append(SampleFiles(name=name, image=path, label=expected))
        else:
            problems.append(f"{path}: image has no label; expected {expected}")
    label_dir = root / "gtFine" / split
    for path in sorted(label_dir.glob(f"*/*{LABEL_SUFFIX}")):
        expected = image_path(root, split, path.parent.name, _stem(path, LABEL_SUFFIX))
        if not expected.is_file():
            problems.append(f"{path}: label has no image; expected {expected}")
    if problems:
        raise DatasetError(_problem_message(f"{root} split {split!r}", problems))
    return samples


class CityscapesSegmentation(Dataset):
    """Samples of one split of a Cityscapes-layout dataset (docs/decisions.md "Data"), as dicts of tensors.

    A sample holds ``"image"`` float32 (3, H, W) ImageNet-normalized, ``"canny"`` float32
    (1, H, W) in {0, 1} (docs/decisions.md "Image-gradient map"), ``"name"`` (the image stem) and, except in ``test``,
    ``"label"`` int64 (H, W) trainIds with 255 ignore and ``"edge"`` float32 (1, H, W) in {0, 1}
    (docs/decisions.md "Data"). Canny and edge are computed from the uint8 image and the label *after* the
    geometric transforms (docs/decisions.md "Data").

    Determinism: the transform of sample ``index`` draws from a ``torch.Generator`` seeded with
    ``(seed, epoch, index)``, never from global RNGs, so its crop depends on nothing else: not on
    the number of ``DataLoader`` workers, which worker gets it, or the process rank. Call
    :meth:`set_epoch` before each epoch (with ``persistent_workers=False``, the default, the
    workers receive the updated dataset each epoch).
    """

    def __init__(
        self, root: str | Path, split: str, *, transform: TrainTransform | EvalTransform, seed: int = 0
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.samples = find_samples(self.root, split)
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    @property
    def has_labels(self) -> bool:
        return self.split in LABELED_SPLITS

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def read_arrays(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Untransformed RGB uint8 (H, W, 3) and trainIds uint8 (H, W) (``None`` in test)."""
        files = self.samples[index]
        image = read_image(files.image)
        if files.label is None:
            return image, None
        label_ids = read_label_ids(files.label, expected_size=image.shape[:2])
        return image, label_ids_to_train_ids(label_ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        image, train_ids = self.read_arrays(index)
        generator = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, index))
        image_tensor = torch.from_numpy(image).permute(2, 0, 1)
        label_tensor = None if train_ids is None else torch.from_numpy(train_ids)
        image_tensor, label_tensor = self.transform(image_tensor, label_tensor, generator=generator)
        # docs/decisions.md "Image-gradient map": Canny on the uint8 image after the geometric transforms.
        canny = canny_edges(image_tensor.permute(1, 2, 0).numpy())
        sample: dict[str, torch.Tensor | str] = {
            "image": normalize_image(image_tensor[None])[0],
            "canny": torch.from_numpy(canny)[None],
            "name": self.samples[index].name,
        }
        if label_tensor is not None:
            # docs/decisions.md "Data": edge target of the transformed label (pad 255 counts as a label).
            sample["edge"] = torch.from_numpy(edge_target(label_tensor.numpy()))[None]
            sample["label"] = label_tensor.long()
        return sample


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for one sample's augmentation, well mixed from (seed, epoch, index)."""
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def _stem(path: Path, suffix: str) -> str:
    return path.name[: -len(suffix)]


def _problem_message(subject: str, problems: list[str]) -> str:
    listed = "\n  ".join(problems[:_MAX_LISTED])
    more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
    return f"{subject}: {len(problems)} problem(s)\n  {listed}{more}"
