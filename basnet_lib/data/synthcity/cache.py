"""The default SynthCity set, generated into a cache folder on first use (docs/method.md §2.2, §7.2).

Cache folder: ``$BASNET_CACHE/synthcity`` when set, else ``.cache/synthcity`` in the repository
checkout (where the package lives), else ``~/.cache/basnet/synthcity``. A set is reused only when
its manifest matches the requested parameters and the generator version; a set with another
manifest is regenerated; a folder without a manifest is never deleted.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from basnet_lib.data.cityscapes import IMAGE_SUFFIX, LABEL_SUFFIX
from basnet_lib.data.synthcity.writer import (
    MANIFEST_NAME,
    SynthCityParams,
    check_is_synthcity_set,
    generate_synthcity,
    read_manifest,
)


def missing_files(root: Path, params: SynthCityParams) -> str:
    """What a set whose manifest says ``params`` lacks ("": nothing): the manifest is written last,
    but files may have gone since (a cleaned cache, a full disk). Counts the images and labels of
    every split and looks for empty files; the images are not decoded (the run's data check
    decodes every label, docs/usage.md "Training and evaluation")."""
    for split in ("train", "val", "test"):
        kinds = [("images", "leftImg8bit", IMAGE_SUFFIX)]
        if split != "test":
            kinds.append(("labels", "gtFine", LABEL_SUFFIX))
        for kind, folder, suffix in kinds:
            files = list((root / folder / split).glob(f"*/*{suffix}"))
            expected = params.count(split)
            if len(files) != expected:
                listed = f"{expected} {split} {kind} its manifest {MANIFEST_NAME} lists"
                return f"holds {len(files)} of the {listed}"
            empty = [path for path in files if path.stat().st_size == 0]
            if empty:
                return f"{empty[0]} is empty"
    return ""


def cache_dir() -> Path:
    """Root of the project's caches (see the module docstring)."""
    if os.environ.get("BASNET_CACHE"):
        return Path(os.environ["BASNET_CACHE"])
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".cache"
    return Path.home() / ".cache" / "basnet"


def default_synthcity_root(*, train: int, val: int, test: int, height: int, width: int, seed: int) -> Path:
    """Cache folder of the set with these parameters (one folder per parameter set)."""
    return cache_dir() / "synthcity" / f"{height}x{width}-train{train}-val{val}-test{test}-seed{seed}"


def ensure_synthcity(
    root: str | Path | None = None,
    *,
    train: int = 400,
    val: int = 100,
    test: int = 0,
    height: int = 256,
    width: int = 512,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Root of a SynthCity set with these parameters, generated first if missing or stale.

    Generation writes into a temporary sibling folder renamed into place when complete, so an
    interrupted run never leaves a half-written set that looks finished.

    Raises:
        DatasetError: ``root`` exists, is not empty and is not a SynthCity set (no manifest).
    """
    params = SynthCityParams(train=train, val=val, test=test, height=height, width=width, seed=seed)
    if root is None:
        root = default_synthcity_root(train=train, val=val, test=test, height=height, width=width, seed=seed)
    root = Path(root)
    if root.exists():
        if read_manifest(root) == params:
            missing = missing_files(root, params)
            if not missing:
                return root
            # The manifest is ours: the folder is a set this library generated, safe to replace.
            print(f"{root}: {missing}; generating the set again", file=sys.stderr)
        elif any(root.iterdir()):
            check_is_synthcity_set(root)
        shutil.rmtree(root)
    partial = root.with_name(f".{root.name}.partial-{os.getpid()}")
    try:
        generate_synthcity(
            partial,
            train=train,
            val=val,
            test=test,
            height=height,
            width=width,
            seed=seed,
            workers=workers,
            progress=progress,
            overwrite=True,
        )
        root.parent.mkdir(parents=True, exist_ok=True)
        try:
            partial.rename(root)
        except OSError:
            # Another process finished the same set first: keep its copy if it is the right one.
            if read_manifest(root) != params:
                raise
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return root
