"""The Cityscapes-layout reader (docs/method.md §2.1) on a generated SynthCity set: samples,
determinism, and every bad input."""

import shutil

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from basnet_lib.data import (
    CityscapesSegmentation,
    DatasetError,
    EvalTransform,
    TrainTransform,
    edge_target,
    find_samples,
)
from basnet_lib.data.synthcity import generate_synthcity
from basnet_lib.data.verify import verify_dataset
from basnet_lib.gradient_map import IMAGENET_MEAN, IMAGENET_STD, canny_edges

TRAIN = TrainTransform(crop_size=(48, 80))


@pytest.fixture(scope="module")
def synthcity_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthcity")
    return generate_synthcity(
        root, train=6, val=3, test=2, height=64, width=128, seed=5, workers=1, progress=False
    )


@pytest.fixture
def broken_root(synthcity_root, tmp_path):
    """A private copy of the generated set that a test may damage."""
    return shutil.copytree(synthcity_root, tmp_path / "copy")


def _uint8_image(normalized: torch.Tensor) -> np.ndarray:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((normalized * std + mean) * 255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def test_reader_reads_generated_set(synthcity_root):
    dataset = CityscapesSegmentation(synthcity_root, "val", transform=EvalTransform())
    assert len(dataset) == 3
    sample = dataset[0]
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (3, 64, 128)
    assert sample["canny"].dtype == torch.float32 and sample["canny"].shape == (1, 64, 128)
    assert sample["label"].dtype == torch.int64 and sample["label"].shape == (64, 128)
    assert sample["edge"].dtype == torch.float32 and sample["edge"].shape == (1, 64, 128)
    assert sample["name"] == dataset.samples[0].name and sample["name"].endswith("_000019")
    assert set(sample["label"].unique().tolist()) <= set(range(19)) | {255}
    assert set(sample["canny"].unique().tolist()) <= {0.0, 1.0} and sample["edge"].sum() > 0
    assert abs(float(sample["image"].mean())) < 2.0  # normalized, not 0..255


def test_test_split_has_no_label_or_edge(synthcity_root):
    dataset = CityscapesSegmentation(synthcity_root, "test", transform=EvalTransform())
    sample = dataset[1]
    assert len(dataset) == 2 and not dataset.has_labels
    assert set(sample) == {"image", "canny", "name"}


def test_canny_and_edge_are_computed_after_the_geometric_transforms(synthcity_root):
    dataset = CityscapesSegmentation(synthcity_root, "train", transform=TRAIN, seed=1)
    for index in range(3):
        sample = dataset[index]
        assert sample["image"].shape == (3, 48, 80)
        image = _uint8_image(sample["image"])
        assert np.array_equal(sample["canny"][0].numpy(), canny_edges(image))
        assert np.array_equal(sample["edge"][0].numpy(), edge_target(sample["label"].byte().numpy()))


def test_augmentation_depends_on_seed_epoch_and_index_only(synthcity_root):
    dataset = CityscapesSegmentation(synthcity_root, "train", transform=TRAIN, seed=1)
    first = [dataset[i]["label"] for i in range(4)]
    again = [dataset[i]["label"] for i in (3, 2, 1, 0)][::-1]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    loader = DataLoader(dataset, batch_size=2, num_workers=2, shuffle=False)
    batched = torch.cat([batch["label"] for batch in loader])[:4]
    assert torch.equal(batched, torch.stack(first))
    dataset.set_epoch(1)
    assert not all(torch.equal(dataset[i]["label"], first[i]) for i in range(4))
    other_seed = CityscapesSegmentation(synthcity_root, "train", transform=TRAIN, seed=2)
    assert not all(torch.equal(other_seed[i]["label"], first[i]) for i in range(4))


def test_verify_passes_on_generated_set(synthcity_root):
    assert verify_dataset(synthcity_root, splits=("train", "val", "test"), progress=False) == {
        "train": 6,
        "val": 3,
        "test": 2,
    }


# -- bad input: each error names the file and what was expected ------------------------------


def _first_label(root):
    return sorted((root / "gtFine" / "train").glob("*/*_gtFine_labelIds.png"))[0]


def _first_image(root):
    return sorted((root / "leftImg8bit" / "train").glob("*/*_leftImg8bit.png"))[0]


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere: dataset root does not exist.*leftImg8bit"):
        find_samples(tmp_path / "nowhere", "train")


def test_empty_split(broken_root):
    for path in (broken_root / "leftImg8bit" / "val").glob("*/*.png"):
        path.unlink()
    with pytest.raises(DatasetError, match=r"leftImg8bit/val: split folder holds no"):
        CityscapesSegmentation(broken_root, "val", transform=EvalTransform())
    shutil.rmtree(broken_root / "leftImg8bit" / "val")
    with pytest.raises(DatasetError, match=r"leftImg8bit/val: split folder does not exist"):
        CityscapesSegmentation(broken_root, "val", transform=EvalTransform())


def test_image_without_label(broken_root):
    label = _first_label(broken_root)
    label.unlink()
    image_name = label.name.replace("_gtFine_labelIds", "_leftImg8bit")
    with pytest.raises(DatasetError, match=rf"{image_name}: image has no label; expected .*{label.name}"):
        CityscapesSegmentation(broken_root, "train", transform=EvalTransform())


def test_label_without_image(broken_root):
    image = _first_image(broken_root)
    image.unlink()
    label_name = image.name.replace("_leftImg8bit", "_gtFine_labelIds")
    with pytest.raises(DatasetError, match=rf"{label_name}: label has no image; expected .*{image.name}"):
        CityscapesSegmentation(broken_root, "train", transform=EvalTransform())


@pytest.mark.parametrize("which", ["image", "label"])
def test_corrupt_png(broken_root, which):
    path = _first_image(broken_root) if which == "image" else _first_label(broken_root)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    dataset = CityscapesSegmentation(broken_root, "train", transform=EvalTransform())
    with pytest.raises(DatasetError, match=rf"{path.name}: cannot decode"):
        dataset[0]
    with pytest.raises(DatasetError, match=rf"{path.name}: cannot decode"):
        verify_dataset(broken_root, progress=False)


def test_corrupt_png_inside_dataloader_worker_names_the_file(broken_root):
    path = _first_image(broken_root)
    path.write_bytes(b"not a png")
    dataset = CityscapesSegmentation(broken_root, "train", transform=EvalTransform())
    with pytest.raises(DatasetError, match=rf"{path.name}: no image format known here .*, not a PNG"):
        next(iter(DataLoader(dataset, batch_size=1, num_workers=1)))


def test_a_label_or_image_that_is_really_a_jpeg_is_refused_naming_it(broken_root):
    from basnet_lib.data.config import DataConfig
    from basnet_lib.data.labels import unknown_label_ids
    from basnet_lib.engine.run_data import check_run_data

    label = sorted((broken_root / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))[0]
    ids = np.full((64, 128), 7, dtype=np.uint8)  # road, and a block of sidewalk across 8x8 JPEG blocks
    ids[13:45, 29:91] = 8
    jpeg = cv2.imencode(".jpg", ids)[1]
    label.write_bytes(jpeg.tobytes())  # under its .png name
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)
    # Every pixel still holds a valid id, many of them another one: only the file's kind tells.
    assert unknown_label_ids(decoded) == [] and (decoded != ids).any()
    refused = rf"{label.name}: a JPEG file, not a PNG; labels must be lossless PNGs"
    with pytest.raises(DatasetError, match=refused):
        verify_dataset(broken_root, progress=False)
    with pytest.raises(DatasetError, match=refused):  # what basnet train checks before writing anything
        check_run_data(DataConfig(root=str(broken_root)), progress=False)

    image = _first_image(broken_root)
    image.write_bytes(cv2.imencode(".jpg", cv2.imread(str(image)))[1].tobytes())
    with pytest.raises(DatasetError, match=rf"{image.name}: a JPEG file, not a PNG; the Cityscapes layout's images"):
        CityscapesSegmentation(broken_root, "train", transform=EvalTransform())[0]


def test_label_with_ids_outside_the_cityscapes_table(broken_root):
    path = _first_label(broken_root)
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    labels[0, :3] = (34, 200, 34)
    cv2.imwrite(str(path), labels)
    with pytest.raises(
        DatasetError, match=rf"{path.name}: label ids \[34, 200\] are not in the Cityscapes table"
    ):
        verify_dataset(broken_root, progress=False)
    with pytest.raises(DatasetError, match=rf"{path.name}: label ids"):
        CityscapesSegmentation(broken_root, "train", transform=EvalTransform())[0]


def test_image_label_size_mismatch(broken_root):
    path = _first_label(broken_root)
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(path), labels[:, :100])
    with pytest.raises(
        DatasetError, match=rf"{path.name}: label size 64x100 \(HxW\) differs from its image's 64x128"
    ):
        verify_dataset(broken_root, progress=False)
    with pytest.raises(DatasetError, match=rf"{path.name}: label size"):
        CityscapesSegmentation(broken_root, "train", transform=EvalTransform())[0]
