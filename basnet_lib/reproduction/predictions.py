"""What Figs. 4, 6 and 7 and the widgets show: trained runs' predictions on a few val images
(docs/method.md §6.4).

Every variant predicts on the *same* images, through the engine's checkpoint loading and its
:func:`~basnet_lib.engine.evaluate.predict`; a variant without a boundary head gets the boundary
of its predicted segmentation instead (docs/method.md §6.4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from basnet_lib.data.build import build_dataset
from basnet_lib.data.edges import edge_target
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.evaluate import predict
from basnet_lib.engine.run_files import load_run, load_trained_model
from basnet_lib.metrics.boundary_dense import segmentation_boundary
from basnet_lib.plots.grids import ValSamples, VariantPrediction
from basnet_lib.speed.inference import prepare_for_inference


def sample_indices(dataset_size: int, count: int) -> list[int]:
    """``count`` indices spread evenly over a split (always the same for the same sizes)."""
    count = max(1, min(count, dataset_size))
    return [int(index) for index in np.linspace(0, dataset_size - 1, count).round()]


def load_val_samples(run: RunConfig, indices: list[int]) -> ValSamples:
    dataset = build_dataset(run.data, split="val", train=False)
    images, labels, names = [], [], []
    for index in indices:
        image, train_ids = dataset.read_arrays(index)
        images.append(image)
        labels.append(train_ids)
        names.append(dataset.samples[index].name)
    edges = [edge_target(label) for label in labels]
    return ValSamples(np.stack(images), np.stack(labels), np.stack(edges).astype(np.float32), tuple(names))


def predict_run(run_dir: str | Path, indices: list[int]) -> VariantPrediction:
    """A finished run's predictions on the val images ``indices`` at full resolution."""
    run, model = load_trained_model(run_dir)
    model = prepare_for_inference(model)
    dataset = build_dataset(run.data, split="val", train=False)
    labels, boundaries, probes = [], [], []
    for index in indices:
        sample = dataset[index]
        prediction = predict(model, sample["image"][None], sample["canny"][None])
        labels.append(prediction.labels[0].numpy())
        if prediction.boundary is not None:
            boundaries.append(prediction.boundary[0, 0].numpy())
        if prediction.probes is not None:
            probes.append(np.stack([probe[0, 0].numpy() for probe in prediction.probes]))
    labels_array = np.stack(labels)
    from_segmentation = not boundaries
    boundary = segmentation_boundary(labels_array) if from_segmentation else np.stack(boundaries)
    return VariantPrediction(
        variant=run.model.variant,
        run_name=run.run_name,
        labels=labels_array,
        boundary=boundary,
        boundary_from_segmentation=from_segmentation,
        probes=np.stack(probes, axis=1) if probes else None,
    )


def predict_runs(
    run_dirs: list[str | Path], *, count: int = 3
) -> tuple[ValSamples, dict[str, VariantPrediction]]:
    """The same ``count`` val images for every run: the samples and each variant's prediction."""
    if not run_dirs:
        raise ValueError("predict_runs needs at least one finished run directory")
    first = load_run(run_dirs[0]).config
    size = len(build_dataset(first.data, split="val", train=False))
    indices = sample_indices(size, count)
    samples = load_val_samples(first, indices)
    predictions = {}
    for run_dir in run_dirs:
        prediction = predict_run(run_dir, indices)
        if prediction.variant in predictions:  # one column per variant: never drop a run silently
            raise ValueError(
                f"{run_dir}: a second `{prediction.variant}` run; the figures show one run per variant"
            )
        predictions[prediction.variant] = prediction
    return samples, predictions
