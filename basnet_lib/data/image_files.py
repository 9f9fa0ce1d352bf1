"""Any PNG or JPEG photo as the 8-bit RGB array the model reads (``basnet predict``, uploads).

Unlike the dataset reader (:mod:`basnet_lib.data.png_io`, strict 8-bit RGB), these accept every
mode Pillow decodes and convert it: EXIF orientation applied first (so the array is the photo as
viewers show it), grayscale and palette expanded to RGB, 16-bit grayscale scaled to 8 bits
(``round(v · 255 / 65535)``, never clipped; Pillow itself reads 16-bit RGB(A) PNGs as their high
bytes, also a scaling), and transparency composited over white (a transparent pixel's colour
channels are often undefined).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from basnet_lib.data.errors import ImageFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA_BACKGROUND = (255, 255, 255)


def read_rgb_image(source: str | Path | bytes, *, name: str | None = None) -> np.ndarray:
    """uint8 RGB (H, W, 3) of an image file (a path, or its bytes, e.g. an upload).

    ``name`` labels bytes in error messages (default: the path). An unreadable or non-image file
    is an :class:`ImageFileError` whose one-line message names it.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "<image bytes>")
    try:
        with warnings.catch_warnings():
            # A photo of 90 to 180 megapixels is the user's own, not an attack: no two-line warning
            # (a larger one is still refused, and one too large for memory fails in one line).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                image.load()
                return pil_to_rgb8(ImageOps.exif_transpose(image))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ImageFileError(f"{label}: not a readable image ({reason})") from None


def pil_to_rgb8(image: Image.Image) -> np.ndarray:
    """uint8 RGB (H, W, 3) of a Pillow image of any mode (see the module docstring)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image).astype(np.float64)
        gray = np.rint(np.clip(values, 0, 65535) * (255 / 65535)).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "F":
        raise ValueError(f"floating-point images (mode {image.mode}) are not supported")
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_ALPHA_BACKGROUND, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB")).copy()
    return np.asarray(image.convert("RGB")).copy()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
