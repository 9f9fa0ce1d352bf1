"""Test-split predictions as Cityscapes labelId PNGs for the evaluation server (docs/method.md §6.3).

The whole plan is checked before the first image is predicted, on every process, and nothing is
written when it fails (:mod:`basnet_lib.data.output_files`): two images of the same name in two
cities (one output file), an output folder that cannot be made or written into, a folder where a
PNG goes, and, without ``overwrite``, a PNG that exists already (a symbolic link included). Each
PNG is written to a temporary file and renamed (a link is replaced, never written through); a
failed write names the file.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from tqdm.auto import tqdm

from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.data.output_files import OutputPlanError, check_output_files
from basnet_lib.data.png_io import write_pngs_atomically
from basnet_lib.distributed import DistributedContext, barrier
from basnet_lib.engine.evaluate import predict, shard_loader
from basnet_lib.engine.file_writes import FileWriteError
from basnet_lib.metrics.cityscapes import train_ids_to_label_ids
from basnet_lib.speed.inference import prepare_for_inference


def export_predictions(
    model: nn.Module,
    dataset: CityscapesSegmentation,
    out_dir: str | Path,
    *,
    context: DistributedContext,
    multiscale: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Write ``<out_dir>/<image stem>.png`` (labelIds, full resolution) for every image of ``dataset``.

    The server matches files by the ``city_sequence_frame`` part of the name, which the stem keeps.
    Each process writes its own share of the images, once every process has checked the plan
    (module docstring; :class:`~basnet_lib.data.output_files.OutputPlanError` when it fails).
    """
    plan = plan_export(dataset, Path(out_dir))
    check_output_files(plan.values(), overwrite=overwrite)
    barrier()  # no process writes before every process has checked the files as they were
    prepared = prepare_for_inference(model)
    written = []
    loader = shard_loader(dataset, context=context)
    for batch in tqdm(loader, desc=f"export {dataset.split}", disable=not (progress and context.is_main)):
        image, canny = batch["image"].to(context.device), batch["canny"].to(context.device)
        train_ids = predict(prepared, image, canny, multiscale=multiscale).labels[0].cpu().numpy()
        path = plan[batch["name"][0]]
        try:
            write_pngs_atomically({path: train_ids_to_label_ids(train_ids)})
        except OSError as error:
            raise FileWriteError(path, error) from error
        written.append(path)
    return written


def plan_export(dataset: CityscapesSegmentation, out_dir: Path) -> dict[str, Path]:
    """Each image's output PNG by its name; two images of one name (in two cities) are an
    :class:`~basnet_lib.data.output_files.OutputPlanError` naming both."""
    plan: dict[str, Path] = {}
    images: dict[str, Path] = {}
    for sample in dataset.samples:
        if sample.name in images:
            raise OutputPlanError(
                f"{images[sample.name]} and {sample.image} would both be exported as "
                f"{out_dir / f'{sample.name}.png'} (one name in two cities); rename one"
            )
        images[sample.name] = sample.image
        plan[sample.name] = out_dir / f"{sample.name}.png"
    return plan
