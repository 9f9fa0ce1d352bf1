"""Notebook 05's "your own image" view, driven headless: an upload, a path, a bad file, another run."""

from __future__ import annotations

import datetime
import io

import numpy as np
from PIL import Image

from basnet_lib.reproduction.widgets import own_image_view


def _png_bytes(height: int, width: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


def _pictures(view) -> int:
    """Panels of the figure that show a picture."""
    return sum(1 for axis in view.figure.axes if axis.images)


def test_building_the_view_loads_no_model(tmp_path) -> None:
    view = own_image_view([tmp_path / "baseline-x", tmp_path / "full-x"])  # neither exists: nothing read
    assert view.run_selector.value == "full-x" and view.picture.value == b""


def test_an_upload_shows_the_four_outputs_and_the_probes(saved_smoke_runs) -> None:
    view = own_image_view([saved_smoke_runs["baseline"], saved_smoke_runs["full"]], device="cpu", long_side=0)
    assert view.run_selector.value == saved_smoke_runs["full"].name  # the full model (probes) first
    content = _png_bytes(37, 53)
    upload = {"name": "street.png", "type": "image/png", "size": len(content)}
    modified = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    view.upload.value = ({**upload, "content": memoryview(content), "last_modified": modified},)  # as sent
    first = bytes(view.picture.value)
    assert first.startswith(b"\x89PNG")
    assert view.message.value == f"street.png: 53×37 px, run {saved_smoke_runs['full'].name}"
    assert _pictures(view) == 5 + 3  # input, trainIds, colour, boundary, overlay; SAB probes 1-3
    assert [axis.get_title() for axis in view.figure.axes[:5]] == [
        "input",
        "trainIds",
        "color",
        "boundary",
        "overlay",
    ]

    view.run_selector.value = saved_smoke_runs["baseline"].name  # the same photo, redrawn
    assert bytes(view.picture.value) != first and _pictures(view) == 5
    assert view.figure.axes[3].get_title() == "boundary (of the segmentation)"


def test_a_path_and_a_bad_file(tmp_path, saved_smoke_runs) -> None:
    view = own_image_view([saved_smoke_runs["full"]], device="cpu", long_side=32)
    photo = tmp_path / "photo.png"
    photo.write_bytes(_png_bytes(40, 24))
    view.path_box.value = str(photo)
    shown = bytes(view.picture.value)
    assert shown.startswith(b"\x89PNG") and view.message.value.startswith(f"{photo}: 24×40 px")
    view.show(b"not an image", "notes.png")
    assert view.message.value.startswith("<b>error</b>: notes.png: not a readable image")
    assert bytes(view.picture.value) == shown  # the last good picture stays
