"""``basnet predict RUN_DIR INPUT... --out DIR``: a trained run on photos, four PNGs per photo.

Inputs are image files (read whatever their suffix), folders (their ``.png``/``.jpg``/``.jpeg``
files, any case, not recursive, hidden files skipped) or glob patterns (``**`` recursive; their
matches as files or folders). Each photo ``<stem>`` gets, at its own size after EXIF rotation
(:mod:`basnet_lib.deploy.image_prediction`), ``<stem>_trainIds.png``, ``<stem>_color.png``,
``<stem>_boundary.png`` and ``<stem>_overlay.png`` in the output folder.

Before anything is predicted the whole plan is checked, and nothing is written when it fails: two
inputs with the same stem (their outputs would collide: an error naming both), an output that is
an input, an output folder that cannot be made or written into, a folder where an output file goes,
or an output that exists already, a symbolic link included (without ``overwrite``;
:mod:`basnet_lib.data.output_files`). Then a photo that cannot be read or written, or that needs
more memory than there is (the CPU allocator's ``RuntimeError`` included), is reported on stderr in
one line naming it (``try --scale`` for memory) and the others go on; each photo's PNGs are written
atomically (:func:`~basnet_lib.data.png_io.write_pngs_atomically`).
"""

from __future__ import annotations

import argparse
import glob
import re
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch
from PIL import Image
from tqdm.auto import tqdm

from basnet_lib.data.errors import ImageFileError
from basnet_lib.data.image_files import IMAGE_SUFFIXES, read_rgb_image
from basnet_lib.data.output_files import OutputPlanError, check_output_files
from basnet_lib.data.png_io import write_pngs_atomically
from basnet_lib.deploy.image_prediction import OUTPUT_KINDS, load_predictor, output_arrays, predict_image

_GLOB_CHARACTERS = frozenset("*?[")
# The messages of allocation failures that are not a MemoryError (torch's CPU allocator, OpenCV).
_ALLOCATION_FAILED = re.compile(
    r"can't allocate memory|not enough memory|out of memory|failed to allocate|insufficient memory", re.IGNORECASE
)


class PredictionPlanError(OutputPlanError):
    """The inputs or outputs of a prediction are not usable; nothing was written."""


@dataclass(frozen=True)
class PredictionSummary:
    """``outputs``: each photo predicted and its written PNGs by kind; ``failures``: each photo that
    failed and its one-line error; ``seconds``: wall time of the predictions (model load included)."""

    outputs: dict[Path, dict[str, Path]]
    failures: dict[Path, str]
    seconds: float

    @property
    def images(self) -> int:
        return len(self.outputs) + len(self.failures)


def predict_images(
    run_dir: str | Path,
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    scale: int | None = None,
    multiscale: bool = False,
    amp: bool = False,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
) -> PredictionSummary:
    """Predict every photo of ``inputs`` with the run's model and write its four PNGs to ``out_dir``.

    ``scale``: long side in pixels the model sees (outputs come back at the photo's size);
    ``multiscale``: the paper's "*" (scales 0.5..1.75 and flips); ``amp``: bf16 autocast;
    ``device``: ``"auto"``, ``"cpu"``, ``"cuda"``. Raises :class:`PredictionPlanError` before
    writing anything when the plan fails (module docstring); photos that fail later are listed in
    the summary's ``failures`` (and on stderr) while the others are written.
    """
    images = find_input_images(inputs)
    plan = plan_outputs(images, Path(out_dir))
    try:
        check_output_files([path for paths in plan.values() for path in paths.values()], overwrite=overwrite)
    except OutputPlanError as error:
        raise PredictionPlanError(str(error)) from None
    started = time.perf_counter()
    predictor = load_predictor(run_dir, device=device, amp=amp)
    outputs, failures = {}, {}
    for path in tqdm(images, desc="predict", unit="image", disable=not progress):
        try:
            image = read_rgb_image(path)
            prediction = predict_image(predictor, image, scale=scale, multiscale=multiscale, probes=False)
            arrays = output_arrays(prediction)
            write_pngs_atomically({plan[path][kind]: arrays[kind] for kind in OUTPUT_KINDS})
        except Exception as error:
            if not isinstance(error, ImageFileError | OSError) and not is_out_of_memory(error):
                raise  # a fault of the program, not of this photo
            failures[path] = _failure_message(path, error)
            tqdm.write(f"error: {failures[path]}", file=sys.stderr)
        else:
            outputs[path] = plan[path]
    return PredictionSummary(outputs, failures, time.perf_counter() - started)


def find_input_images(inputs: Sequence[str | Path]) -> list[Path]:
    """The photos named by ``inputs`` (files, folders, glob patterns), in order, each once."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += _images_in_folder(path)
        elif path.is_file():
            found.append(path)
        elif _GLOB_CHARACTERS & set(str(item)):
            matches = [Path(match) for match in sorted(glob.glob(str(item), recursive=True))]
            if not matches:
                raise PredictionPlanError(f"{item}: no file matches this pattern")
            for match in matches:
                if match.is_dir():
                    found += _images_in_folder(match)
                elif _is_image_name(match):
                    found.append(match)
        else:
            raise PredictionPlanError(f"{item}: no such file or folder")
    unique, seen = [], set()
    for path in found:  # a photo named twice (a file and its folder, overlapping globs) once
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    if not unique:
        listed = ", ".join(str(item) for item in inputs)
        raise PredictionPlanError(f"no PNG or JPEG images in {listed}")
    return unique


def plan_outputs(images: Sequence[Path], out_dir: Path) -> dict[Path, dict[str, Path]]:
    """Each photo's four output paths by kind; two photos with the same stem, or an output that is
    one of the photos, are a :class:`PredictionPlanError`."""
    owners: dict[Path, Path] = {}
    sources = {image.resolve() for image in images}
    plan = {}
    for image in images:
        plan[image] = {kind: out_dir / f"{image.stem}_{kind}.png" for kind in OUTPUT_KINDS}
        for output in plan[image].values():
            owner = owners.setdefault(output, image)
            if owner != image:
                raise PredictionPlanError(
                    f"{owner} and {image} would both write {output} (same stem); rename one or "
                    "predict them into separate output folders"
                )
            if output.resolve() in sources:
                raise PredictionPlanError(f"{image}'s output {output} is one of the input images")
    return plan


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says that an allocation failed: ``MemoryError`` (NumPy, Pillow), CUDA's
    ``OutOfMemoryError``, the CPU allocator's ``RuntimeError`` (``DefaultCPUAllocator: can't
    allocate memory``) or OpenCV's ``Insufficient memory``."""
    if isinstance(error, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError | cv2.error) and bool(_ALLOCATION_FAILED.search(str(error)))


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory (config.json + checkpoint.pt)")
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image files, folders (their PNG/JPEG files) or quoted globs"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the four PNGs of each image")
    parser.add_argument(
        "--scale", type=_positive_int, metavar="PIXELS", help="resize the long side to PIXELS for the model"
    )
    parser.add_argument("--multiscale", action="store_true", help="scales 0.5..1.75 and flip (the paper's *)")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (opt-in: changes results)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def predict_command(args: argparse.Namespace) -> int:
    """Exit status 0: every image written; 1: some images failed (counted); 2: nothing done."""
    try:
        summary = predict_images(
            args.run_dir,
            args.inputs,
            args.out,
            scale=args.scale,
            multiscale=args.multiscale,
            amp=args.amp,
            device=args.device,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except PredictionPlanError as error:
        print(f"basnet predict: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(OUTPUT_KINDS)} PNGs each for {len(summary.outputs)} images to {args.out}")
    if summary.failures:
        print(f"basnet predict: {len(summary.failures)} of {summary.images} images failed", file=sys.stderr)
        return 1
    return 0


def _images_in_folder(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file() and _is_image_name(path))


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _failure_message(path: Path, error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, ImageFileError):
        return text  # names the file already
    if is_out_of_memory(error):
        return f"{path}: out of memory at {_pixels(path)} pixels ({text}); try --scale, e.g. --scale 2048"
    return f"{path}: cannot write its outputs ({text})"


def _pixels(path: Path) -> str:
    """``WxH`` of an image file from its header (without decoding it), or ``its``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # read as for the prediction
            with Image.open(path) as image:
                return f"{image.width}x{image.height}"
    except Exception:  # the error reported is the memory's, not this one
        return "its"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of pixels, got {text}")
    return value
