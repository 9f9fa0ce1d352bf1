"""Full check of a Cityscapes-layout dataset: every file decoded and checked once."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from basnet_lib.data.cityscapes import SPLITS, _problem_message, find_samples
from basnet_lib.data.errors import DatasetError
from basnet_lib.data.png_io import read_image, read_label_ids


def verify_dataset(
    root: str | Path, *, splits: tuple[str, ...] = ("train", "val"), progress: bool = True
) -> dict[str, int]:
    """Check the layout and every file of ``splits``; return the number of samples per split.

    Checks: layout and pairing (as building a dataset does), every image decodes as 8-bit RGB,
    every label decodes as 8-bit single-channel with only Cityscapes labelIds and the size of its
    image. All problems are collected and raised together.

    Raises:
        DatasetError: listing every bad file (up to 10 in the message) and what was expected.
    """
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not one of {SPLITS}")
    counts, problems = {}, []
    for split in splits:
        samples = find_samples(root, split)
        counts[split] = len(samples)
        for sample in tqdm(samples, desc=f"verify {split}", unit="img", disable=not progress):
            try:
                image = read_image(sample.image)
                if sample.label is not None:
                    read_label_ids(sample.label, expected_size=image.shape[:2])
            except DatasetError as error:
                problems.append(str(error))
    if problems:
        raise DatasetError(_problem_message(f"{root}", problems))
    return counts
