"""Predictions of trained runs on a few val images, for Figs. 4, 6 and 7 and the widgets (SPEC F4).

Every variant predicts on the *same* images; a variant without a boundary head gets the boundary
of its predicted segmentation instead (SPEC F4).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from basnet_lib.data.build import build_dataset
from basnet_lib.data.edges import edge_target
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.evaluate import model_inputs
from basnet_lib.engine.trainer import load_run, load_trained_model
from basnet_lib.model.inference import prepare_for_inference


@dataclass(frozen=True)
class ValSamples:
    """The val images the figures show: uint8 RGB (N, H, W, 3), trainIds (N, H, W), edge target
    (N, H, W) of SPEC B4, and their names."""

    images: np.ndarray
    labels: np.ndarray
    edges: np.ndarray
    names: tuple[str, ...]


@dataclass(frozen=True)
class VariantPrediction:
    """One run's outputs on :class:`ValSamples`.

    ``labels`` (N, H, W) argmax trainIds; ``boundary`` (N, H, W) in [0, 1]: the boundary head's
    sigmoid, or (``boundary_from_segmentation``) the 0/1 boundary of ``labels``; ``probes``
    (3, N, H, W) sigmoid of the SAB probes (Fig. 4) or ``None``.
    """

    variant: str
    run_name: str
    labels: np.ndarray
    boundary: np.ndarray
    boundary_from_segmentation: bool
    probes: np.ndarray | None


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


def segmentation_boundary(labels: np.ndarray) -> np.ndarray:
    """0/1 boundary (…, H, W) of label maps: a pixel differs from its east, south or south-east
    neighbour (SPEC E2's boundary map, over all classes at once)."""
    boundary = np.zeros(labels.shape, dtype=bool)
    boundary[..., :, :-1] |= labels[..., :, :-1] != labels[..., :, 1:]
    boundary[..., :-1, :] |= labels[..., :-1, :] != labels[..., 1:, :]
    boundary[..., :-1, :-1] |= labels[..., :-1, :-1] != labels[..., 1:, 1:]
    return boundary.astype(np.float32)


@torch.inference_mode()
def predict_run(run_dir: str | Path, indices: list[int]) -> VariantPrediction:
    """Load a finished run's checkpoint and predict the val images ``indices`` at full resolution."""
    run, model = load_trained_model(run_dir)
    model = prepare_for_inference(model)
    dataset = build_dataset(run.data, split="val", train=False)
    labels, boundaries, probes = [], [], []
    for index in indices:
        sample = dataset[index]
        batch = {"image": sample["image"][None], "canny": sample["canny"][None]}
        outputs = model(*model_inputs(batch, torch.device("cpu")))
        labels.append(outputs["out"].argmax(dim=1)[0].numpy())
        if "boundary" in outputs:
            boundaries.append(outputs["boundary"].sigmoid()[0, 0].numpy())
        if "sab_probes" in outputs:
            probes.append(np.stack([probe.sigmoid()[0, 0].numpy() for probe in outputs["sab_probes"]]))
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
        predictions[prediction.variant] = prediction
    return samples, predictions


__all__ = [
    "ValSamples",
    "VariantPrediction",
    "load_val_samples",
    "predict_run",
    "predict_runs",
    "sample_indices",
    "segmentation_boundary",
]
