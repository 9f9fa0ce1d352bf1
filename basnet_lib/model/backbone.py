"""Dilated ResNet backbone with the four taps BASNet reads (docs/method.md §1.1).

Output stride 8 ("holding-resolution", paper §3.1): ``layer3`` dilation 2 and ``layer4`` dilation 4, no
stride in either, exactly as torchvision's DeepLabV3 builds ResNet-50/101 with
``replace_stride_with_dilation=[False, True, True]``. torchvision refuses dilation for the
BasicBlock of ResNet-18/34, so for those the strides and dilations are set after construction
following the same convention (a layer's first block keeps the previous dilation).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import (
    ResNet,
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    WeightsEnum,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
)
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.resnet import BasicBlock

from basnet_lib.config_checks import parse_bool
from basnet_lib.model.tensor_files import first_line, load_tensor_file

# The four backbones of docs/method.md §1.1 with their torchvision constructors and ImageNet weights.
_RESNETS = {
    "resnet18": (resnet18, ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (resnet34, ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (resnet50, ResNet50_Weights.IMAGENET1K_V1),
    "resnet101": (resnet101, ResNet101_Weights.IMAGENET1K_V1),
}

# Taps (docs/method.md §1.1): stage1 = layer1 (1/4), stage2 = layer2 (1/8), stage3 = layer3 (1/8),
# stage4 = layer4 (1/8, fed to the ASPP that makes the "top" feature).
TAP_LAYERS = {"layer1": "stage1", "layer2": "stage2", "layer3": "stage3", "layer4": "stage4"}

# Set to 1 to forbid downloading ImageNet weights (``basnet train --offline`` sets it).
OFFLINE_ENV = "BASNET_OFFLINE"


class DilatedResNetBackbone(IntermediateLayerGetter):
    """ResNet trunk at output stride 8 returning ``{"stage1", ..., "stage4"}`` features.

    A subclass of torchvision's ``IntermediateLayerGetter`` (what DeepLabV3 uses), so the module
    names and the state dict are the same as in ``torchvision.models.segmentation``.
    """

    def __init__(self, resnet: ResNet) -> None:
        super().__init__(resnet, return_layers=dict(TAP_LAYERS))
        last_block = resnet.layer4[-1]
        self.out_channels = {
            "stage1": _block_out_channels(resnet.layer1[-1]),
            "stage2": _block_out_channels(resnet.layer2[-1]),
            "stage3": _block_out_channels(resnet.layer3[-1]),
            "stage4": _block_out_channels(last_block),
        }


def build_backbone(
    *, name: str, pretrained: bool = False, weights_path: str = "", offline: bool | None = None
) -> DilatedResNetBackbone:
    """Dilated ResNet ``name`` (``resnet18`` ... ``resnet101``), ImageNet weights optional.

    With ``pretrained`` the weights come from ``weights_path`` (an explicit local file, never
    downloaded) or from torchvision's weights API (:func:`imagenet_state_dict`). ``offline`` forbids
    downloading (``None``: the ``BASNET_OFFLINE`` environment variable decides).
    """
    if name not in _RESNETS:
        raise ValueError(f"unknown backbone {name!r}; expected one of {tuple(_RESNETS)}")
    constructor, imagenet_weights = _RESNETS[name]
    if constructor in (resnet50, resnet101):
        resnet = constructor(weights=None, replace_stride_with_dilation=[False, True, True])
    else:
        resnet = constructor(weights=None)
        _dilate_basic_layer(resnet.layer3, previous_dilation=1, dilation=2)
        _dilate_basic_layer(resnet.layer4, previous_dilation=2, dilation=4)
    if pretrained:
        if weights_path:
            path = Path(weights_path)
            state = read_state_dict(path)
        else:
            path = imagenet_cache_path(imagenet_weights)
            is_offline = offline_from_environment() if offline is None else offline
            state = imagenet_state_dict(imagenet_weights, offline=is_offline)
        load_resnet_state(resnet, state, path=path)
    return DilatedResNetBackbone(resnet)


def offline_from_environment() -> bool:
    """Whether ``BASNET_OFFLINE`` forbids downloads: unset or empty no, otherwise a boolean as
    :func:`~basnet_lib.config_checks.parse_bool` reads it (``1/true/yes/on``, ``0/false/no/off``).

    Any other value is an error rather than a guess, so a typo cannot silently allow the network.
    """
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    try:
        return bool(value) and parse_bool(value)
    except ValueError:
        raise ValueError(f"{OFFLINE_ENV}={value!r}: expected 1/true/yes/on or 0/false/no/off") from None


def imagenet_cache_path(weights: WeightsEnum) -> Path:
    """Where torchvision keeps ``weights``: ``$TORCH_HOME/hub/checkpoints/<file name of its URL>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def imagenet_state_dict(weights: WeightsEnum, *, offline: bool) -> dict[str, torch.Tensor]:
    """The state dict of torchvision's ``weights``, from its cache or downloaded into it once.

    ``weights.get_state_dict`` downloads a missing file with a progress bar and checks it against
    the SHA-256 prefix in its name (``resnet101-63fe2227.pth``) before moving it into place, so an
    interrupted download leaves no file behind. It would trust a file already in the cache, which
    may have been placed there by hand: that one is checked here (:func:`check_hash_prefix`) and
    read as any user's file (:func:`read_state_dict`).
    """
    path = imagenet_cache_path(weights)
    if path.is_file():
        check_hash_prefix(path, url=weights.url)
        # Read as any user's file: one placed there by hand may hold anything.
        return read_state_dict(path, remedy=f"delete it to download {weights.url} again")
    if offline:
        raise FileNotFoundError(
            f"offline ({OFFLINE_ENV}=1 or --offline): ImageNet weights {path} do not exist; "
            f"download {weights.url} and place it at {path}, or set ModelConfig.backbone_weights=/path."
        )
    try:
        state = weights.get_state_dict(progress=True, check_hash=True, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as error:  # no network (URLError is an OSError), hash mismatch
        raise RuntimeError(
            f"downloading ImageNet weights {weights.url} to {path} failed ({first_line(error)}); "
            f"place the file there yourself, or set ModelConfig.backbone_weights=/path."
        ) from error
    return _require_state_dict(state, path=path)


def check_hash_prefix(path: Path, *, url: str) -> None:
    """Refuse a cached weights file whose SHA-256 does not start with the prefix in its name (the
    check torch.hub makes on what it downloads, with the same file-name pattern)."""
    match = torch.hub.HASH_REGEX.search(path.name)
    prefix = match.group(1) if match else ""
    with path.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    if not digest.startswith(prefix):
        raise ValueError(
            f"ImageNet weights {path}: SHA-256 {digest[: len(prefix)]}... does not match {prefix} in its "
            f"name (a wrong or damaged file); delete it to download {url} again."
        )


def read_state_dict(path: Path, *, remedy: str = "check ModelConfig.backbone_weights") -> dict[str, torch.Tensor]:
    """The ResNet state dict in ``path`` (``ModelConfig.backbone_weights``, or the cache), loaded
    with ``weights_only=True``: a file that asks for code or objects is refused, nothing in it runs
    (:func:`~basnet_lib.model.tensor_files.load_tensor_file`); ``remedy`` ends its errors."""
    if not path.is_file():
        raise FileNotFoundError(f"ImageNet weights {path} do not exist; {remedy}")
    try:
        state = load_tensor_file(path, kind="ResNet state dict")
    except ValueError as error:  # refused, corrupt: one line naming the file
        raise type(error)(f"{error}; {remedy}") from None
    return _require_state_dict(state, path=path)


def load_resnet_state(resnet: ResNet, state: dict[str, torch.Tensor], *, path: Path) -> None:
    """Load an ImageNet ResNet ``state`` read from ``path`` into ``resnet`` (errors name ``path``)."""
    result = resnet.load_state_dict(state, strict=False)
    # The classifier (fc) may be absent or differ; every trunk tensor must be there.
    missing = [key for key in result.missing_keys if not key.startswith("fc.")]
    if missing:
        raise ValueError(
            f"{path}: not weights of this ResNet; missing {len(missing)} tensors, e.g. {missing[:3]}"
        )


def _require_state_dict(state: object, *, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a ResNet state dict, found {type(state).__name__}")
    return state


def _dilate_basic_layer(layer: nn.Sequential, *, previous_dilation: int, dilation: int) -> None:
    """Remove the stride of a BasicBlock layer and dilate it, as torchvision does for Bottlenecks.

    The first block keeps ``previous_dilation`` (torchvision's ``_make_layer`` convention), the
    following blocks use ``dilation``; padding equals dilation so 3×3 convs keep the size.
    """
    for index, block in enumerate(layer):
        if not isinstance(block, BasicBlock):
            raise TypeError(f"expected BasicBlock, found {type(block).__name__}")
        block_dilation = previous_dilation if index == 0 else dilation
        for conv in (block.conv1, block.conv2):
            conv.stride = (1, 1)
            conv.dilation = (block_dilation, block_dilation)
            conv.padding = (block_dilation, block_dilation)
        if block.downsample is not None:
            block.downsample[0].stride = (1, 1)
        block.stride = 1


def _block_out_channels(block: nn.Module) -> int:
    # Bottleneck ends in bn3, BasicBlock in bn2.
    last_norm = block.bn3 if hasattr(block, "bn3") else block.bn2
    return last_norm.num_features
