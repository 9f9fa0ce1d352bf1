"""ONNX export of a trained model, for onnxruntime and other ONNX runtimes (README "ONNX").

The exported graph is :func:`~basnet_lib.speed.inference.prepare_for_inference`'s model without
Winograd (NNPACK's operator has no ONNX form): eval mode, BatchNorm folded into the convolutions.
The exporter is ``torch.onnx.export(..., dynamo=True)``: it captures the graph with
``torch.export`` and translates it with onnxscript's ATen library. Its non-strict capture fails on
the boundary branch (whose per-size cache of ``G`` is keyed by sizes, which it cannot hash) and it
falls back to the strict (TorchDynamo) capture, which succeeds with dynamic sizes.

Graph inputs, float32, the same for every variant:

- ``image`` (N, 3, H, W): ImageNet-normalized RGB (``(rgb / 255 - mean) / std``);
- ``gradient_map`` (N, 4, H, W): ``G`` = [``image``, Canny map in {0, 1}] (docs/decisions.md
  "Image-gradient map"); variants without a boundary branch do not read it.

Outputs: ``out`` (N, K, H, W) segmentation logits and, for ``ssb_bdb``/``full``, ``boundary``
(N, 1, H, W) boundary logits (the training-only SAB probes are left out). N, H and W are dynamic;
H and W must be multiples of 8, the output stride: then every feature map is an exact fraction of
the input, and the max-pooling that brings the Canny map to the SABs' sizes is an ordinary ONNX
MaxPool. Canny stays outside the graph (OpenCV); :func:`onnx_inputs` is that pre-processing step.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from basnet_lib.data.output_files import check_output_files
from basnet_lib.data.synthcity import SynthCityParams, render_sample
from basnet_lib.engine.run_files import load_trained_model
from basnet_lib.gradient_map import image_gradient_map
from basnet_lib.speed.inference import prepare_for_inference

ONNX_INPUT_NAMES = ("image", "gradient_map")
# The backbone's output stride: H and W of the exported graph are multiples of it.
SIZE_MULTIPLE = 8
# What `basnet export` requires of its check: share of pixels whose class (argmax) agrees.
MIN_ARGMAX_AGREEMENT = 0.999
# The traced example: batch 2, so the batch size is not specialised to 1; its values do not matter.
_EXAMPLE_SHAPE = (2, 64, 128)


class OnnxGraph(nn.Module):
    """A prepared model with the ONNX graph's signature: two tensors in, a tuple of outputs out."""

    def __init__(self, prepared: nn.Module, output_names: tuple[str, ...]) -> None:
        super().__init__()
        self.prepared = prepared
        self.output_names = output_names

    def forward(self, image: Tensor, gradient_map: Tensor) -> tuple[Tensor, ...]:
        outputs = self.prepared(image, gradient_map)
        return tuple(outputs[name] for name in self.output_names)


@dataclass(frozen=True)
class OnnxCheck:
    """onnxruntime against PyTorch on the same inputs.

    ``max_abs_difference``: per output name, the largest absolute logit difference;
    ``argmax_agreement``: share of pixels whose class (argmax of ``out``) is the same.
    """

    max_abs_difference: dict[str, float]
    argmax_agreement: float
    pixels: int


def output_names(model: nn.Module) -> tuple[str, ...]:
    """The exported outputs of a BASNet: ``out``, plus ``boundary`` with a boundary branch."""
    return ("out", "boundary") if getattr(model, "boundary_branch", None) is not None else ("out",)


def export_onnx(
    model_or_run_dir: nn.Module | str | Path, path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write the inference graph of a trained BASNet (or of a run directory's checkpoint) to ``path``.

    One self-contained ``.onnx`` file (weights inside), written atomically (temp file + rename);
    an existing file (a symbolic link included, even a broken one: it is replaced, not written
    through) is refused unless ``overwrite``, and a folder in its place or a folder that cannot be
    made always, before the export starts. The model itself is not changed.
    """
    path = Path(path)
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (basnet export --overwrite) to replace it")
    check_output_files([path], overwrite=True)
    model = (
        model_or_run_dir
        if isinstance(model_or_run_dir, nn.Module)
        else load_trained_model(model_or_run_dir)[1]
    )
    names = output_names(model)
    graph = OnnxGraph(prepare_for_inference(model, winograd=False), names).eval()
    batch, height, width = _EXAMPLE_SHAPE
    image = torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(0))
    example = (image, torch.cat([image, torch.zeros(batch, 1, height, width)], dim=1))
    sizes = {
        0: torch.export.Dim("batch", min=1, max=1024),
        2: SIZE_MULTIPLE * torch.export.Dim("height_8", min=2, max=2048),
        3: SIZE_MULTIPLE * torch.export.Dim("width_8", min=2, max=2048),
    }
    with warnings.catch_warnings():
        # Both inputs share the size symbols, which the exporter reports as names it does not use.
        warnings.filterwarnings("ignore", message=".*will not be used, since it shares the same shape")
        onnx_program = torch.onnx.export(
            graph,
            example,
            input_names=list(ONNX_INPUT_NAMES),
            output_names=list(names),
            dynamic_shapes={name: sizes for name in ONNX_INPUT_NAMES},
            dynamo=True,
            verbose=False,
        )
    _require_dynamic_sizes(onnx_program.model_proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        onnx_program.save(temporary, external_data=False)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _require_dynamic_sizes(model_proto) -> None:
    # The exporter's fallback to strict tracing may specialise a dimension to the example's
    # size rather than fail; such a graph would reject every other size.
    for graph_input in model_proto.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        static = [axis for axis in (0, 2, 3) if not dims[axis].dim_param]
        if static:
            raise RuntimeError(
                f"ONNX export fixed axes {static} of input {graph_input.name!r} to the example's size"
            )


def onnx_inputs(images: np.ndarray) -> dict[str, np.ndarray]:
    """The pre-processing step: uint8 RGB (H, W, 3) or (N, H, W, 3) → the graph's float32 inputs.

    ``image`` is the ImageNet-normalized RGB, ``gradient_map`` ``G`` with the Canny map of
    :func:`basnet_lib.gradient_map.canny_edges` (OpenCV, thresholds 10 and 100).
    """
    batch = images[None] if images.ndim == 3 else images
    if batch.shape[1] % SIZE_MULTIPLE or batch.shape[2] % SIZE_MULTIPLE:
        raise ValueError(
            f"the ONNX graph takes H and W multiples of {SIZE_MULTIPLE}, got {batch.shape[1]}x{batch.shape[2]}"
        )
    gradient_map = image_gradient_map(torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2))
    return {"image": gradient_map[:, :3].numpy().copy(), "gradient_map": gradient_map.numpy()}


def onnxruntime_session(path: str | Path, *, threads: int | None = None):
    """An onnxruntime CPU ``InferenceSession`` of ``path``; ``threads`` sets its intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_onnx(
    model: nn.Module, path: str | Path, images: np.ndarray, *, threads: int | None = None
) -> OnnxCheck:
    """Run the ONNX file with onnxruntime and the model as ``evaluate`` does (``prepare_for_inference``
    defaults) on uint8 RGB ``images`` (N, H, W, 3), one image at a time; compare their logits."""
    session = onnxruntime_session(path, threads=threads)
    names = [output.name for output in session.get_outputs()]
    reference = prepare_for_inference(model)
    differences = dict.fromkeys(names, 0.0)
    agreeing = pixels = 0
    for image in images:
        inputs = onnx_inputs(image)
        onnx_outputs = dict(zip(names, session.run(names, inputs), strict=True))
        with torch.inference_mode():
            torch_outputs = reference(
                torch.from_numpy(inputs["image"]), torch.from_numpy(inputs["gradient_map"])
            )
        for name in names:
            difference = np.abs(onnx_outputs[name] - torch_outputs[name].numpy()).max()
            differences[name] = max(differences[name], float(difference))
        agreeing += int((onnx_outputs["out"].argmax(1) == torch_outputs["out"].argmax(1).numpy()).sum())
        pixels += image.shape[0] * image.shape[1]
    return OnnxCheck(differences, agreeing / pixels, pixels)


def synthcity_images(count: int, *, height: int, width: int, seed: int = 0) -> np.ndarray:
    """The first ``count`` SynthCity val scenes rendered at ``height``×``width``: uint8 (N, H, W, 3).

    At the size of a generated set they are that set's val images (rendering is a pure function
    of seed, split, index and size).
    """
    params = SynthCityParams(train=0, val=count, test=0, height=height, width=width, seed=seed)
    return np.stack([render_sample(params, "val", index)[0] for index in range(count)])
