"""Validation of a run in training: the evaluations on val during training and the final one, the
``history.csv`` columns they fill, and the validation images TensorBoard shows."""

from __future__ import annotations

import numpy as np
from torch import nn

from basnet_lib.data.build import build_dataset
from basnet_lib.data.labels import colorize_train_ids
from basnet_lib.distributed import DistributedContext, unwrap_model
from basnet_lib.engine.checkpoint import capture_rng_state, restore_rng_state
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.evaluate import evaluate, predict
from basnet_lib.engine.history import VAL_F_COLUMNS
from basnet_lib.engine.nonfinite import check_weights_everywhere
from basnet_lib.speed import prepare_for_inference

# Validation images shown in TensorBoard at each validation.
TENSORBOARD_IMAGES = 2


def evaluate_during_training(run: RunConfig, model: nn.Module, context: DistributedContext) -> dict:
    """Val metrics of the current weights (on ``eval_images`` images); the model stays in training
    mode and its weights, buffers and the random state are untouched (evaluation uses a copy)."""
    random_state = capture_rng_state()  # the data loader draws a seed: keep training's stream as it was
    metrics = evaluate_on_val(run, model, context, max_images=run.train.eval_images, progress=False)
    restore_rng_state(random_state)
    model.train()
    return metrics


def evaluate_on_val(
    run: RunConfig, model: nn.Module, context: DistributedContext, *, multiscale: bool = False, max_images: int = 0, progress: bool
) -> dict:
    """The run's val split through :func:`evaluate` (the final evaluation and those during training);
    weights holding NaN or inf are an error, never a score."""
    check_weights_everywhere(unwrap_model(model).state_dict(), context.device, subject=f"{run.run_name} before evaluation")
    return evaluate(
        unwrap_model(model),
        build_dataset(run.data, split="val", train=False),
        context=context,
        multiscale=multiscale,
        num_workers=run.data.num_workers,
        amp=run.train.amp,
        max_images=max_images,
        progress=progress,
    )


def validation_columns(metrics: dict) -> dict[str, float]:
    """``history.csv`` columns of one evaluation: mIoU and boundary F at the three thresholds (0–1)."""
    columns = {"val_mIoU": metrics["mIoU"], "val_images": metrics["num_images"]}
    for name, value in zip(VAL_F_COLUMNS, metrics["boundary_F"].values(), strict=True):
        columns[name] = value
    if metrics.get("boundary_map") is not None:
        columns["val_boundary_ods_f"] = metrics["boundary_map"]["ODS_F"]
        columns["val_boundary_ap"] = metrics["boundary_map"]["AP"]
    return columns


def validation_panels(run: RunConfig, model: nn.Module, context: DistributedContext) -> dict[str, np.ndarray]:
    """The first val images beside their predicted and true labels (RGB uint8 panels by image
    name) for TensorBoard; ``{}`` when the run writes no TensorBoard log, and on every process but
    the first. Predicts with an inference copy: the training model and the random state are untouched."""
    if not (run.train.tensorboard and context.is_main):
        return {}
    dataset = build_dataset(run.data, split="val", train=False)
    inference = prepare_for_inference(unwrap_model(model))
    panels = {}
    for index in range(min(TENSORBOARD_IMAGES, len(dataset))):
        sample = dataset[index]
        image, canny = sample["image"][None].to(context.device), sample["canny"][None].to(context.device)
        predicted = predict(inference, image, canny).labels[0].cpu().numpy().astype(np.uint8)
        rgb, train_ids = dataset.read_arrays(index)
        panels[str(sample["name"])] = np.concatenate(
            [rgb, colorize_train_ids(predicted), colorize_train_ids(train_ids)], axis=1
        )
    return panels
