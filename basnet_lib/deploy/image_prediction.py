"""One photo of any size through a trained run: what ``basnet predict`` writes and the notebook's
upload view shows.

The photo goes the way a dataset image goes at evaluation (docs/decisions.md "Image-gradient
map"): Canny on the uint8 image the model sees, then ImageNet normalization, then
:func:`~basnet_lib.engine.evaluate.predict` (single scale, or the paper's multi-scale + flip "*").
With ``scale`` the image is first resized so that its long side has that many pixels (bilinear
with antialiasing, as the training scale augmentation), and the outputs are resized back to the
input's size: labels by nearest neighbour, probabilities bilinearly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn
from torchvision.transforms.v2 import InterpolationMode

from basnet_lib.data.labels import colorize_train_ids
from basnet_lib.distributed import resolve_device
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.evaluate import predict
from basnet_lib.engine.run_files import METRICS_FILE, load_trained_model, read_json
from basnet_lib.gradient_map import canny_edges, normalize_image
from basnet_lib.metrics.boundary_dense import segmentation_boundary
from basnet_lib.speed.inference import prepare_for_inference

# The four PNGs of a photo, by the name part that follows its stem (``<stem>_<kind>.png``).
OUTPUT_KINDS = ("trainIds", "color", "boundary", "overlay")
# Overlay: the photo and the Cityscapes colours half and half, white where the boundary
# probability reaches the run's threshold.
OVERLAY_COLOR_WEIGHT = 0.5
OVERLAY_BOUNDARY_RGB = (255, 255, 255)
# Boundary threshold of a run whose metrics.json has no boundary-map scores (and of a 0/1
# segmentation boundary); otherwise the run's ODS threshold on val is used (docs/usage.md).
DEFAULT_BOUNDARY_THRESHOLD = 0.5
# Rows of the overlay blended at once (its float32 temporaries: a band, not the photo).
_OVERLAY_ROWS = 256


@dataclass(frozen=True)
class TrainedPredictor:
    """A run's config, its model prepared for inference on ``device``, and the boundary probability
    from which a pixel counts as boundary in the overlay: the run's ODS threshold on val (the
    operating point of its best boundary F, ``metrics.json``), else 1/2."""

    run: RunConfig
    model: nn.Module
    device: torch.device
    boundary_threshold: float = DEFAULT_BOUNDARY_THRESHOLD


@dataclass(frozen=True)
class ImagePrediction:
    """A photo's outputs, all at the photo's size (H, W).

    ``image`` uint8 RGB (H, W, 3) as read; ``train_ids`` uint8 (H, W) argmax trainIds 0..18;
    ``boundary`` float32 (H, W) in [0, 1]: the boundary head's sigmoid, or, when
    ``boundary_from_segmentation`` (variants without a boundary head), the 0/1 boundary of
    ``train_ids``; ``probes`` float32 (3, H, W) sigmoid of the SAB probes (Fig. 4) of a
    single-scale pass of a model with probes, else ``None``; ``boundary_threshold``: see
    :class:`TrainedPredictor`.
    """

    image: np.ndarray
    train_ids: np.ndarray
    boundary: np.ndarray
    boundary_from_segmentation: bool
    probes: np.ndarray | None
    boundary_threshold: float = DEFAULT_BOUNDARY_THRESHOLD


def load_predictor(run_dir: str | Path, *, device: str = "auto", amp: bool = False) -> TrainedPredictor:
    """The trained model of ``run_dir`` on ``device`` (``"auto"``: CUDA when available), prepared by
    :func:`prepare_for_inference`; ``amp`` adds bf16 autocast (opt-in: changes results)."""
    run, model = load_trained_model(run_dir)
    resolved = resolve_device(device)
    prepared = prepare_for_inference(model.to(resolved), bf16=amp)
    return TrainedPredictor(run, prepared, resolved, _ods_threshold(Path(run_dir) / METRICS_FILE))


def model_input_size(size: tuple[int, int], scale: int | None) -> tuple[int, int]:
    """(H, W) the model sees: ``size`` itself, or with its long side resized to ``scale`` pixels."""
    if scale is None:
        return size
    if scale < 1:
        raise ValueError(f"scale={scale}: the long side needs at least 1 pixel")
    factor = scale / max(size)
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


@torch.inference_mode()
def predict_image(
    predictor: TrainedPredictor,
    image: np.ndarray,
    *,
    scale: int | None = None,
    multiscale: bool = False,
    probes: bool = True,
) -> ImagePrediction:
    """The run's prediction on one uint8 RGB photo (H, W, 3), at the photo's size (see the module
    docstring for ``scale`` and ``multiscale``); ``probes=False`` leaves the SAB probes out (three
    float maps at the photo's size that ``basnet predict`` does not write)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"predict_image expects a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    size = image.shape[:2]
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    model_size = model_input_size(size, scale)
    if model_size != size:
        pixels = TF.resize(pixels, list(model_size), interpolation=InterpolationMode.BILINEAR, antialias=True)
    canny = torch.from_numpy(canny_edges(pixels.permute(1, 2, 0).numpy()))[None, None]
    normalized = normalize_image(pixels[None])
    device = predictor.device
    prediction = predict(predictor.model, normalized.to(device), canny.to(device), multiscale=multiscale)
    labels = prediction.labels[:, None].to(torch.uint8)
    if model_size != size:  # NEAREST_EXACT samples at the pixel centres bilinear uses
        labels = TF.resize(labels, list(size), interpolation=InterpolationMode.NEAREST_EXACT)
    train_ids = labels[0, 0].cpu().numpy()
    from_segmentation = prediction.boundary is None
    boundary = (
        segmentation_boundary(train_ids)
        if from_segmentation
        else _bilinear(prediction.boundary, size)[0, 0].cpu().numpy()
    )
    maps = None
    if probes and prediction.probes is not None:
        maps = np.stack([_bilinear(probe, size)[0, 0].cpu().numpy() for probe in prediction.probes])
    threshold = DEFAULT_BOUNDARY_THRESHOLD if from_segmentation else predictor.boundary_threshold
    return ImagePrediction(image, train_ids, boundary, from_segmentation, maps, threshold)


def output_arrays(prediction: ImagePrediction) -> dict[str, np.ndarray]:
    """The uint8 arrays of the four PNGs, by :data:`OUTPUT_KINDS`: trainIds (H, W), Cityscapes
    colours (H, W, 3), boundary probability × 255 (H, W), overlay on the photo (H, W, 3)."""
    color = colorize_train_ids(prediction.train_ids)
    return {
        "trainIds": prediction.train_ids,
        "color": color,
        "boundary": np.rint(np.multiply(prediction.boundary, 255, dtype=np.float32), dtype=np.float32).astype(np.uint8),
        "overlay": overlay(prediction.image, color, prediction.boundary >= prediction.boundary_threshold),
    }


def overlay(image: np.ndarray, color: np.ndarray, is_boundary: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): the photo blended with the class colours, boundary pixels (bool (H, W))
    painted white. Blended a band of rows at a time: a photo's float copies never exist whole."""
    painted = np.empty_like(image)
    for top in range(0, image.shape[0], _OVERLAY_ROWS):
        rows = slice(top, top + _OVERLAY_ROWS)
        blend = (1 - OVERLAY_COLOR_WEIGHT) * image[rows].astype(np.float32) + OVERLAY_COLOR_WEIGHT * color[rows]
        painted[rows] = np.rint(blend)
    painted[is_boundary] = OVERLAY_BOUNDARY_RGB
    return painted


def _ods_threshold(metrics_path: Path) -> float:
    """The boundary map's ODS threshold in a run's ``metrics.json``, else the default; a value
    that is not a probability is an error naming the file."""
    if not metrics_path.is_file():
        return DEFAULT_BOUNDARY_THRESHOLD
    metrics = read_json(metrics_path)
    scores = (metrics.get("boundary_map") if isinstance(metrics, dict) else None) or {}
    threshold = scores.get("ODS_threshold", DEFAULT_BOUNDARY_THRESHOLD) if isinstance(scores, dict) else None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise ValueError(
            f"{metrics_path}: boundary_map.ODS_threshold is {threshold!r}, expected a probability in [0, 1]"
        )
    return float(threshold)


def _bilinear(tensor: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor.float()
    return F.interpolate(tensor.float(), size=size, mode="bilinear", align_corners=False).clamp_(0, 1)
