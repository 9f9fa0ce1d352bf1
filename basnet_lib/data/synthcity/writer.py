"""Write a SynthCity dataset in the Cityscapes layout (docs/method.md §2.1, §2.2), in parallel.

Image ``index`` of split ``split`` is rendered from ``SeedSequence([seed, split code, index])``,
so each file depends only on (seed, split, index, size): the output is byte-identical for the same
seed whatever the number of worker processes or their scheduling (PNG bytes are fixed by the
array and the fixed compression level; a different zlib/OpenCV build may encode them differently).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from basnet_lib.data.cityscapes import COLOR_SUFFIX, image_path, label_path
from basnet_lib.data.errors import DatasetError
from basnet_lib.data.labels import NUM_CLASSES, colorize_label_ids
from basnet_lib.data.png_io import write_png
from basnet_lib.data.synthcity.scene import render_scene

# Bump whenever a change to the generator changes its output: cached sets are then regenerated.
GENERATOR_VERSION = 1
MANIFEST_NAME = "synthcity.json"
_SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
_CITIES_PER_SPLIT = 3
# Cityscapes names its annotated frames ``<city>_<sequence>_000019``.
_FRAME = 19


@dataclass(frozen=True)
class SynthCityParams:
    """Everything a generated set depends on; saved as its manifest."""

    train: int
    val: int
    test: int
    height: int
    width: int
    seed: int
    version: int = GENERATOR_VERSION

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            if getattr(self, name) < 0:
                raise ValueError(f"SynthCity {name}={getattr(self, name)} must be >= 0")
        if self.height < 16 or self.width < 16:
            raise ValueError(f"SynthCity size {self.height}x{self.width} must be at least 16x16")

    def count(self, split: str) -> int:
        return {"train": self.train, "val": self.val, "test": self.test}[split]


def sample_location(split: str, index: int) -> tuple[str, str]:
    """(city, name) of image ``index``: three cities per split, Cityscapes-style names.

    City names have no underscore, so cityscapesscripts' file-name parser reads them.
    """
    city = f"{split}city{index % _CITIES_PER_SPLIT}"
    return city, f"{city}_{index:06d}_{_FRAME:06d}"


def render_sample(params: SynthCityParams, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB image and labelIds of one sample; a pure function of its arguments."""
    sequence = np.random.SeedSequence([params.seed, _SPLIT_CODES[split], index])
    return render_scene(
        np.random.default_rng(sequence),
        height=params.height,
        width=params.width,
        featured_train_id=index % NUM_CLASSES,
    )


def generate_synthcity(
    out: str | Path,
    *,
    train: int,
    val: int,
    test: int = 0,
    height: int = 256,
    width: int = 512,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Render a SynthCity set into ``out`` and write its manifest ``synthcity.json`` last.

    ``train`` and ``val`` get ``*_leftImg8bit.png``, ``*_gtFine_labelIds.png`` and
    ``*_gtFine_color.png`` (for viewing); ``test`` gets images only (its labels are unknown,
    as in Cityscapes). ``workers`` processes render in parallel (default: all cores).

    Raises:
        FileExistsError: ``out`` already holds a dataset and ``overwrite`` is false.
        DatasetError: ``overwrite`` is true but ``out`` is not a SynthCity set (see
            :func:`check_is_synthcity_set`); nothing is deleted.
    """
    params = SynthCityParams(train=train, val=val, test=test, height=height, width=width, seed=seed)
    out = Path(out)
    existing = [out / name for name in ("leftImg8bit", "gtFine", MANIFEST_NAME) if (out / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out}: already holds {', '.join(p.name for p in existing)}; "
            "pass overwrite=True (basnet synthcity --overwrite) to replace the SynthCity set there"
        )
    if existing:
        check_is_synthcity_set(out)
    for path in existing:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out.mkdir(parents=True, exist_ok=True)

    tasks = [(out, params, split, index) for split in _SPLIT_CODES for index in range(params.count(split))]
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks) or 1))
    bar = tqdm(total=len(tasks), desc=f"SynthCity {height}x{width}", unit="img", disable=not progress)
    if workers == 1:
        for task in tasks:
            _write_sample(task)
            bar.update()
    else:
        with _pool_context().Pool(workers, initializer=_init_worker, initargs=(os.getpid(),)) as pool:
            for _ in pool.imap_unordered(_write_sample, tasks, chunksize=4):
                bar.update()
    bar.close()
    (out / MANIFEST_NAME).write_text(json.dumps(asdict(params), indent=2, sort_keys=True) + "\n")
    return out


def read_manifest(root: str | Path) -> SynthCityParams | None:
    """The parameters a SynthCity set was generated with, or ``None`` when it has no valid manifest."""
    path = Path(root) / MANIFEST_NAME
    try:
        return SynthCityParams(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def check_is_synthcity_set(root: str | Path) -> None:
    """Refuse to delete ``root`` unless it holds a valid SynthCity manifest: the one check before
    any SynthCity folder (``--out`` or the cache) is replaced, so a user's files are never deleted.

    Raises:
        DatasetError: ``root`` has no readable ``synthcity.json``.
    """
    manifest = Path(root) / MANIFEST_NAME
    if read_manifest(root) is None and manifest.is_file():
        raise DatasetError(
            f"{manifest}: not a readable SynthCity manifest (damaged?), so {root} is not known to be a "
            "SynthCity set; refusing to delete anything there: choose another folder, or empty it yourself"
        )
    if read_manifest(root) is None:
        raise DatasetError(
            f"{root}: has no SynthCity manifest {MANIFEST_NAME}, so it is not a SynthCity set (or one whose "
            "generation was interrupted); refusing to delete anything there: choose another folder, or "
            "empty it yourself"
        )


def _write_sample(task: tuple[Path, SynthCityParams, str, int]) -> None:
    out, params, split, index = task
    image, label_ids = render_sample(params, split, index)
    city, name = sample_location(split, index)
    write_png(image_path(out, split, city, name), image)
    if split != "test":
        labels = label_path(out, split, city, name)
        write_png(labels, label_ids)
        write_png(labels.with_name(f"{name}{COLOR_SUFFIX}"), colorize_label_ids(label_ids))


def _init_worker(parent: int) -> None:
    # One process per core already: OpenCV's own threads would only oversubscribe.
    cv2.setNumThreads(1)
    # A terminal's Ctrl-C reaches every process of its group: the parent alone stops, and the pool's
    # exit ends its workers (no traceback from each).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent ended by a signal (SIGTERM, SIGKILL) cannot end its workers, which would go on writing
    # images: each ends once it sees its parent gone, as torch's DataLoader workers do.
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def _pool_context() -> multiprocessing.context.BaseContext:
    """``spawn``: fresh workers. ``fork`` from a process whose OpenCV or torch thread pools have
    run can deadlock the children (seen with a DataLoader and cv2 calls earlier in a session)."""
    return multiprocessing.get_context("spawn")
