"""Test-split predictions as Cityscapes labelId PNGs for the evaluation server (docs/method.md §6.3)."""

from __future__ import annotations

from pathlib import Path

from torch import nn
from tqdm.auto import tqdm

from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.data.png_io import write_png
from basnet_lib.distributed import DistributedContext
from basnet_lib.engine.evaluate import predict, shard_loader
from basnet_lib.metrics.cityscapes import train_ids_to_label_ids
from basnet_lib.speed.inference import prepare_for_inference


def export_predictions(
    model: nn.Module,
    dataset: CityscapesSegmentation,
    out_dir: str | Path,
    *,
    context: DistributedContext,
    multiscale: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Write ``<out_dir>/<image stem>.png`` (labelIds, full resolution) for every image of ``dataset``.

    The server matches files by the ``city_sequence_frame`` part of the name, which the stem keeps.
    Each process writes its own share of the images.
    """
    out_dir = Path(out_dir)
    prepared = prepare_for_inference(model)
    written = []
    loader = shard_loader(dataset, context=context)
    for batch in tqdm(loader, desc=f"export {dataset.split}", disable=not (progress and context.is_main)):
        image, canny = batch["image"].to(context.device), batch["canny"].to(context.device)
        train_ids = predict(prepared, image, canny, multiscale=multiscale).labels[0].cpu().numpy()
        path = out_dir / f"{batch['name'][0]}.png"
        write_png(path, train_ids_to_label_ids(train_ids))
        written.append(path)
    return written
