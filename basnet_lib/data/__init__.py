"""Data (docs/method.md §2): Cityscapes-layout reader, SynthCity generator, transforms, edge targets."""

from basnet_lib.data.build import build_dataset, dataset_root
from basnet_lib.data.cityscapes import SPLITS, CityscapesSegmentation, SampleFiles, find_samples, sample_seed
from basnet_lib.data.config import DataConfig
from basnet_lib.data.edges import edge_target
from basnet_lib.data.errors import DatasetError, ImageFileError
from basnet_lib.data.image_files import read_rgb_image
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
from basnet_lib.data.stats import class_frequencies
from basnet_lib.data.synthcity import ensure_synthcity, generate_synthcity
from basnet_lib.data.transforms import EvalTransform, TrainTransform, build_transform
from basnet_lib.data.verify import verify_dataset

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
    "build_dataset",
    "build_transform",
    "class_frequencies",
    "colorize_label_ids",
    "colorize_train_ids",
    "dataset_root",
    "edge_target",
    "ensure_synthcity",
    "find_samples",
    "generate_synthcity",
    "label_ids_to_train_ids",
    "read_rgb_image",
    "sample_seed",
    "verify_dataset",
]
