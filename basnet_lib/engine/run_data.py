"""A run's dataset as the run checks it before changing any file, and as resume and reuse compare it.

Before a run deletes or writes anything (``--overwrite`` included) its data is checked: the root,
both labelled splits' file lists and every label's ids, so that a bad val label stops the run
before training rather than after it. The data's fingerprint, the names and byte sizes of those
files relative to the root, is what a resumed or reused run compares instead of ``data.root``: a
moved dataset is the same data, a changed one is not (docs/method.md §8).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tqdm.auto import tqdm

from basnet_lib.data.build import dataset_root
from basnet_lib.data.cityscapes import LABELED_SPLITS, SampleFiles, _problem_message, find_samples
from basnet_lib.data.config import DataConfig
from basnet_lib.data.errors import DatasetError
from basnet_lib.data.png_io import read_label_ids
from basnet_lib.distributed import DistributedContext, run_on_main


def check_run_data(data: DataConfig, *, progress: bool = True) -> str:
    """Check ``data`` (generating the default SynthCity set if missing); return its fingerprint.

    Raises:
        DatasetError: the root or a split is missing, files are unpaired, or labels do not decode
            or hold ids outside the Cityscapes table; every bad label is named (up to 10).
    """
    root = dataset_root(data, progress=progress)
    samples = {split: find_samples(root, split) for split in LABELED_SPLITS}
    labels = [sample.label for split in LABELED_SPLITS for sample in samples[split]]
    problems = []
    for label in tqdm(labels, desc="check labels", unit="file", disable=not progress, leave=False):
        try:
            read_label_ids(label)
        except DatasetError as error:
            problems.append(str(error))
    if problems:
        raise DatasetError(_problem_message(f"{root}", problems))
    return _fingerprint(root, samples)


def checked_data_fingerprint(data: DataConfig, context: DistributedContext, *, progress: bool = True) -> str:
    """:func:`check_run_data` on rank 0 (which generates the SynthCity set once), then the
    fingerprint on every process; all raise when the check failed."""
    fingerprints = []
    run_on_main(context, lambda: fingerprints.append(check_run_data(data, progress=progress)))
    return fingerprints[0] if fingerprints else data_fingerprint(data)


def data_fingerprint(data: DataConfig) -> str:
    """The fingerprint of ``data``'s train and val files (file lists checked, labels not decoded)."""
    root = dataset_root(data, progress=False)
    return _fingerprint(root, {split: find_samples(root, split) for split in LABELED_SPLITS})


def _fingerprint(root: Path, samples: dict[str, list[SampleFiles]]) -> str:
    """``"train N / val M images, sha256 <16 hex>"`` of the files' paths relative to ``root`` and sizes."""
    digest = hashlib.sha256()
    for split in LABELED_SPLITS:
        for sample in samples[split]:
            for path in (sample.image, sample.label):
                digest.update(f"{path.relative_to(root).as_posix()}\t{path.stat().st_size}\n".encode())
    counts = " / ".join(f"{split} {len(samples[split])}" for split in LABELED_SPLITS)
    return f"{counts} images, sha256 {digest.hexdigest()[:16]}"
