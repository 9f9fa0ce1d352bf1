"""Speed passes: the plain blocks of :mod:`basnet_lib.model` swapped for fast modules that compute
the same function, for training (:func:`prepare_for_training`) and inference
(:func:`prepare_for_inference`). The passes are listed in :mod:`basnet_lib.speed.passes`;
measurements: docs/performance.md."""

from basnet_lib.speed.inference import InferenceModel, float32_outputs, prepare_for_inference
from basnet_lib.speed.passes import INFERENCE_PASSES, TRAINING_PASSES, prepare_for_training

__all__ = [
    "INFERENCE_PASSES",
    "TRAINING_PASSES",
    "InferenceModel",
    "float32_outputs",
    "prepare_for_inference",
    "prepare_for_training",
]
