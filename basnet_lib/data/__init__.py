"""Data (docs/method.md §2). The package's face is the Cityscapes-layout reader, part of the
paper's core: samples, labels, transforms and edge targets. The SynthCity generator
(:mod:`basnet_lib.data.synthcity`), dataset building (:mod:`~basnet_lib.data.build`), checks
(:mod:`~basnet_lib.data.verify`), statistics (:mod:`~basnet_lib.data.stats`) and photo files
(:mod:`~basnet_lib.data.image_files`) are imported from their modules."""

from basnet_lib.data.cityscapes import SPLITS, CityscapesSegmentation, SampleFiles, find_samples, sample_seed
from basnet_lib.data.config import DataConfig
from basnet_lib.data.edges import edge_target
from basnet_lib.data.errors import DatasetError, ImageFileError
from basnet_lib.data.labels import (
    CLASS_NAMES,
    IGNORE_INDEX,
    LABEL_ID_TO_TRAIN_ID,
    NUM_CLASSES,
    TRAIN_ID_TO_LABEL_ID,
    colorize_label_ids,
    colorize_train_ids,
    label_ids_to_train_ids,
)
from basnet_lib.data.transforms import EvalTransform, TrainTransform, build_transform

__all__ = [
    "CLASS_NAMES",
    "IGNORE_INDEX",
    "LABEL_ID_TO_TRAIN_ID",
    "NUM_CLASSES",
    "SPLITS",
    "TRAIN_ID_TO_LABEL_ID",
    "CityscapesSegmentation",
    "DataConfig",
    "DatasetError",
    "EvalTransform",
    "ImageFileError",
    "SampleFiles",
    "TrainTransform",
    "build_transform",
    "colorize_label_ids",
    "colorize_train_ids",
    "edge_target",
    "find_samples",
    "label_ids_to_train_ids",
    "sample_seed",
]
