"""Photos of any mode as 8-bit RGB (``basnet predict``), and PNG sets written atomically."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from basnet_lib.data import png_io
from basnet_lib.data.errors import ImageFileError
from basnet_lib.data.image_files import read_rgb_image
from basnet_lib.data.png_io import write_pngs_atomically

ORIENTATION_TAG = 0x0112


def _png_bytes(image: Image.Image, **save_options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save_options)
    return buffer.getvalue()


def _jpeg_with_orientation(array: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    values = np.array([[0, 257, 40000, 65535]], dtype=np.uint16)
    rgb = read_rgb_image(_png_bytes(Image.fromarray(values)))
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 4, 3)
    assert rgb[0, :, 0].tolist() == [0, 1, round(40000 * 255 / 65535), 255]  # 156, not 255
    assert (rgb == rgb[..., :1]).all()


def test_sixteen_bit_rgb_png_is_scaled() -> None:
    values = np.zeros((2, 3, 3), dtype=np.uint16)
    values[..., 0], values[..., 1], values[..., 2] = 65535, 32896, 1000  # BGR for OpenCV
    encoded = cv2.imencode(".png", values)[1].tobytes()
    rgb = read_rgb_image(encoded)
    assert rgb.shape == (2, 3, 3)
    np.testing.assert_allclose(rgb[0, 0], [1000 / 257, 128, 255], atol=1)


def test_grayscale_palette_and_alpha_become_rgb() -> None:
    gray = read_rgb_image(_png_bytes(Image.fromarray(np.full((3, 5), 77, dtype=np.uint8))))
    assert gray.shape == (3, 5, 3) and (gray == 77).all()
    palette = Image.fromarray(np.array([[0, 1], [1, 0]], dtype=np.uint8), mode="P")
    palette.putpalette([10, 20, 30, 200, 100, 50])
    assert read_rgb_image(_png_bytes(palette))[0, 1].tolist() == [200, 100, 50]
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (200, 10, 10, 255)  # opaque: its colour
    rgba[1, 1] = (0, 0, 0, 0)  # transparent: the white background, not its undefined black
    rgba[0, 1] = (0, 0, 0, 128)  # half: half way to white
    rgb = read_rgb_image(_png_bytes(Image.fromarray(rgba)))
    assert rgb[0, 0].tolist() == [200, 10, 10] and rgb[1, 1].tolist() == [255, 255, 255]
    assert abs(int(rgb[0, 1, 0]) - 127) <= 1
    transparent_palette = palette.copy()
    transparent_palette.info["transparency"] = 0
    assert read_rgb_image(_png_bytes(transparent_palette, transparency=0))[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize(("orientation", "block_pixel"), [(6, (2, 21)), (8, (37, 2))])
def test_exif_orientation_is_applied(orientation: int, block_pixel: tuple[int, int]) -> None:
    """Stored 24 high × 40 wide with a red top-left block; shown rotated: 40 high × 24 wide, the
    block top-right (6: rotate 90° clockwise) or bottom-left (8: counter-clockwise)."""
    stored = np.zeros((24, 40, 3), dtype=np.uint8)
    stored[:8, :8] = (255, 0, 0)
    rgb = read_rgb_image(_jpeg_with_orientation(stored, orientation))
    assert rgb.shape == (40, 24, 3)
    red = rgb[block_pixel]
    assert red[0] > 200 and red[1] < 60, red
    assert rgb[20, 12, 0] < 60  # the middle stays black


def test_a_non_image_is_one_line_naming_it(tmp_path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not\nan image\n")
    with pytest.raises(ImageFileError, match=r"notes\.png: not a readable image") as caught:
        read_rgb_image(text)
    assert "\n" not in str(caught.value)
    with pytest.raises(ImageFileError, match=r"upload\.jpg"):
        read_rgb_image(b"\x89PNG but truncated", name="upload.jpg")


def test_png_sets_are_written_whole_or_not_at_all(tmp_path, monkeypatch) -> None:
    old = {tmp_path / f"{name}.png": np.full((4, 6), value, dtype=np.uint8) for name, value in (("a", 1), ("b", 2))}
    write_pngs_atomically(old)
    before = {path: path.read_bytes() for path in old}
    assert cv2.imread(str(tmp_path / "b.png"), cv2.IMREAD_UNCHANGED).tolist() == old[tmp_path / "b.png"].tolist()
    encode = png_io.encode_png
    calls = []

    def failing_encoder(array: np.ndarray) -> bytes:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return encode(array)

    monkeypatch.setattr(png_io, "encode_png", failing_encoder)
    new = {path: array + 10 for path, array in old.items()} | {tmp_path / "c.png": np.zeros((4, 6), np.uint8)}
    with pytest.raises(OSError, match="disk full"):
        write_pngs_atomically(new)  # a.png and b.png went to temporary files, c.png failed
    assert {path: path.read_bytes() for path in old} == before  # the old files untouched
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.png", "b.png"]  # no c.png, no temp
