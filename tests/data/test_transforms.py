"""Joint transforms (docs/method.md §2.3): alignment, padding, determinism (Canny/edge order:
test_data_reader)."""

import numpy as np
import torch

from basnet_lib.data import DataConfig, EvalTransform, TrainTransform, build_transform, edge_target

# A colour per label value: the image encodes its own label, so misalignment is visible.
_PALETTE = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [220, 220, 40]], dtype=np.uint8)


def _pattern(height: int = 60, width: int = 90) -> tuple[torch.Tensor, torch.Tensor]:
    """Blocks of 4 labels at irregular positions (no symmetry that could hide a flip)."""
    rows, cols = np.mgrid[:height, :width]
    labels = ((rows // 13) + 2 * (cols // 17) + (cols > 70)) % 4
    image = _PALETTE[labels]
    return torch.from_numpy(image).permute(2, 0, 1).contiguous(), torch.from_numpy(labels.astype(np.uint8))


def test_train_transform_keeps_image_and_label_aligned():
    image, label = _pattern()
    transform = TrainTransform(crop_size=(48, 64), scale_range=(0.5, 2.0), hflip=True)
    for seed in range(20):
        out_image, out_label = transform(image, label, generator=torch.Generator().manual_seed(seed))
        assert out_image.shape == (3, 48, 64) and out_label.shape == (48, 64)
        labels = out_label.numpy()
        pixels = out_image.permute(1, 2, 0).numpy().astype(int)
        # Compare only pixels whose 3×3 neighbourhood has one label (bilinear blends at boundaries).
        interior = edge_target(labels, radius=1.5) == 0
        valid = interior & (labels != 255)
        # Neighbours outside the crop are unknown: leave out a 2-pixel frame.
        valid[:2], valid[-2:], valid[:, :2], valid[:, -2:] = False, False, False, False
        assert valid.sum() > 100
        colours = _PALETTE[labels[valid]].astype(int)
        assert np.abs(pixels[valid] - colours).max() <= 12, f"seed {seed}"
        # Padding: image 0 where the label is 255 (docs/method.md §2.3).
        assert (pixels[labels == 255] == 0).all()


def test_small_scales_pad_image_with_zero_and_label_with_ignore():
    image, label = _pattern(20, 30)
    transform = TrainTransform(crop_size=(48, 64), scale_range=(1.0, 1.0), hflip=False)
    out_image, out_label = transform(image, label, generator=torch.Generator().manual_seed(0))
    assert (out_label[20:] == 255).all() and (out_label[:, 30:] == 255).all()
    assert (out_image[:, 20:] == 0).all()
    assert torch.equal(out_label[:20, :30], label)


def test_same_generator_seed_gives_same_crop_and_flip_flag_does_not_shift_it():
    image, label = _pattern()
    flips = TrainTransform(crop_size=(32, 32), hflip=True)
    no_flips = TrainTransform(crop_size=(32, 32), hflip=False)
    outputs = []
    for seed in (3, 3, 4):
        outputs.append(flips(image, label, generator=torch.Generator().manual_seed(seed)))
    assert torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])
    assert not torch.equal(outputs[0][1], outputs[2][1])
    flipped = [flips(image, label, generator=torch.Generator().manual_seed(s))[1] for s in range(8)]
    plain = [no_flips(image, label, generator=torch.Generator().manual_seed(s))[1] for s in range(8)]
    assert any(
        torch.equal(a, b.flip(-1)) and not torch.equal(a, b) for a, b in zip(flipped, plain, strict=True)
    )
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(flipped, plain, strict=True))


def test_eval_transform_is_identity_and_build_transform_follows_config():
    image, label = _pattern()
    out_image, out_label = EvalTransform()(image, label, generator=torch.Generator())
    assert out_image is image and out_label is label
    config = DataConfig(crop_height=40, crop_width=50, scale_min=0.75, scale_max=1.5, hflip=False)
    transform = build_transform(config, train=True)
    assert transform == TrainTransform(crop_size=(40, 50), scale_range=(0.75, 1.5), hflip=False)
    assert isinstance(build_transform(config, train=False), EvalTransform)
