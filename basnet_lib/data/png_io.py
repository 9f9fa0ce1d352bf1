"""Reading and writing the PNGs of a Cityscapes-layout dataset, with errors that name the file, and
writing a set of PNGs atomically (``basnet predict``).

A file of the layout is decoded only when it is a PNG: a JPEG saved under a ``.png`` name decodes
just as well, but its compression has changed pixels, and in a label those pixels become other
valid ids (docs/decisions.md "Nothing lost, round two"). Its signature decides, and the error says
what the file really is.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import cv2
import numpy as np

from basnet_lib.data.errors import DatasetError
from basnet_lib.data.labels import VALID_LABEL_IDS, unknown_label_ids

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The first bytes of the image formats a file under a .png name most likely really is.
_SIGNATURES = (
    (b"\xff\xd8\xff", "a JPEG file"),
    (b"GIF8", "a GIF file"),
    (b"BM", "a BMP file"),
    (b"II*\x00", "a TIFF file"),
    (b"MM\x00*", "a TIFF file"),
    (b"RIFF", "a RIFF (WebP?) file"),
)


def read_image(path: Path) -> np.ndarray:
    """RGB uint8 (H, W, 3) of a ``*_leftImg8bit.png``; a corrupt, non-PNG or non-RGB file is a
    :class:`DatasetError`."""
    data = _png_bytes(path, expected="the Cityscapes layout's images are PNGs; save it as a real PNG")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f"{path}: cannot decode the image; expected a readable 8-bit RGB PNG")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise DatasetError(
            f"{path}: expected an 8-bit RGB image (H, W, 3), got {image.dtype} of shape {image.shape}"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_label_ids(path: Path, *, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (H, W) labelIds of a ``*_gtFine_labelIds.png``, checked against the Cityscapes table.

    Args:
        path: the label PNG.
        expected_size: (H, W) of the paired image; a different size is a :class:`DatasetError`.
    """
    data = _png_bytes(
        path, expected="labels must be lossless PNGs (a JPEG's compression turns label pixels into other ids)"
    )
    label_ids = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if label_ids is None:
        raise DatasetError(f"{path}: cannot decode the label image; expected a readable 8-bit grayscale PNG")
    if label_ids.dtype != np.uint8 or label_ids.ndim != 2:
        raise DatasetError(
            f"{path}: expected an 8-bit single-channel labelId image (H, W), "
            f"got {label_ids.dtype} of shape {label_ids.shape}"
        )
    if expected_size is not None and label_ids.shape != tuple(expected_size):
        raise DatasetError(
            f"{path}: label size {label_ids.shape[0]}x{label_ids.shape[1]} (HxW) differs from its image's "
            f"{expected_size[0]}x{expected_size[1]}"
        )
    unknown = unknown_label_ids(label_ids)
    if unknown:
        raise DatasetError(
            f"{path}: label ids {unknown} are not in the Cityscapes table "
            f"(cityscapesscripts labelIds {VALID_LABEL_IDS[0]}..{VALID_LABEL_IDS[-1]})"
        )
    return label_ids


def _png_bytes(path: Path, *, expected: str) -> np.ndarray:
    """The bytes of ``path`` (uint8), when they start with the PNG signature; otherwise a
    :class:`DatasetError` saying what the file is and ``expected``."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DatasetError(f"{path}: cannot read it ({error.strerror or error})") from None
    head = data[: len(PNG_SIGNATURE)].tobytes()
    if head != PNG_SIGNATURE:
        raise DatasetError(f"{path}: {_file_kind(head)}, not a PNG; {expected}")
    return data


def _file_kind(head: bytes) -> str:
    if not head:
        return "an empty file"
    kind = next((kind for signature, kind in _SIGNATURES if head.startswith(signature)), None)
    return kind or f"no image format known here (it starts with {head[:4].hex(' ')})"


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 grayscale (H, W) or RGB (H, W, 3) array as PNG, parents created.

    The compression level is fixed so that the same array always gives the same bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), array, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise OSError(f"{path}: OpenCV could not write the PNG")


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 grayscale (H, W) or RGB (H, W, 3) array, as :func:`write_png` writes them."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    encoded, buffer = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not encoded:
        raise OSError(f"OpenCV could not encode a {array.dtype} array of shape {array.shape} as PNG")
    return buffer.tobytes()


def write_pngs_atomically(arrays: dict[Path, np.ndarray]) -> None:
    """Write each ``path: array`` as PNG so that a path holds either its complete new file or what
    it held before: every PNG goes to a temporary file in its own folder first, and only when all
    are written are they renamed into place (``os.replace``). On any error the temporary files are
    removed and the error is raised; parents are created.
    """
    temporaries: dict[Path, Path] = {}
    try:
        for path, array in arrays.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
            # O_EXCL: never write into another writer's file; 0o666 less the umask, as open() would.
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            temporaries[path] = temporary
            with os.fdopen(handle, "wb") as file:
                file.write(encode_png(array))
        for path, temporary in temporaries.items():
            os.replace(temporary, path)
    finally:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)  # renamed ones are gone already
