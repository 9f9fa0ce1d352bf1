"""Both metric accumulators take integer trainId maps only, as tensors or numpy arrays, through one check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from basnet_lib.metrics import BoundaryFScore, ConfusionMatrix

ACCUMULATORS = (ConfusionMatrix, BoundaryFScore)


def _label_maps(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 19, size=(2, 24, 32)).astype(np.int64)
    pred = np.where(rng.random(target.shape) < 0.8, target, rng.integers(0, 19, size=target.shape))
    return pred, target


@pytest.mark.parametrize("accumulator", ACCUMULATORS, ids=lambda kind: kind.__name__)
def test_float_probabilities_are_refused_not_truncated(accumulator) -> None:
    metric = accumulator()
    _, target = _label_maps()
    probabilities = torch.rand(target.shape)  # all in [0, 1): truncated, every pixel would be class 0
    with pytest.raises(TypeError, match=r"pred is float32: metrics take integer trainId maps.*argmax"):
        metric.update(probabilities, torch.from_numpy(target))
    with pytest.raises(TypeError, match="target is float64"):
        metric.update(torch.from_numpy(target), torch.from_numpy(target).double())


@pytest.mark.parametrize("accumulator", ACCUMULATORS, ids=lambda kind: kind.__name__)
def test_nan_prediction_is_refused(accumulator) -> None:
    _, target = _label_maps()
    with pytest.raises(TypeError, match="pred is float32 and holds NaN"):
        accumulator().update(torch.full(target.shape, float("nan")), torch.from_numpy(target))


@pytest.mark.parametrize("accumulator", ACCUMULATORS, ids=lambda kind: kind.__name__)
def test_numpy_arrays_count_as_the_same_tensors_and_other_types_are_refused(accumulator) -> None:
    pred, target = _label_maps()
    from_numpy, from_tensors = accumulator(), accumulator()
    from_numpy.update(pred, target)
    from_tensors.update(torch.from_numpy(pred), torch.from_numpy(target))
    assert from_numpy.scores().as_dict() == from_tensors.scores().as_dict()
    with pytest.raises(TypeError, match=r"pred must be a torch.Tensor or numpy.ndarray .* got list"):
        accumulator().update(pred.tolist(), target)
    with pytest.raises(TypeError, match="pred is float64"):
        accumulator().update(pred.astype(np.float64), target)
    with pytest.raises(ValueError, match="differ in shape"):
        accumulator().update(pred[:, :10], target)
