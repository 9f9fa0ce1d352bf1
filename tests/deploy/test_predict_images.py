"""``basnet predict`` / :func:`predict_images`: photos of every mode and size, failures, no
overwriting, atomic writes and exit codes (untrained smoke models of width 16)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from basnet_lib.cli import main
from basnet_lib.data import png_io
from basnet_lib.data.labels import colorize_train_ids
from basnet_lib.deploy.image_prediction import (
    OUTPUT_KINDS,
    load_predictor,
    model_input_size,
    output_arrays,
    overlay,
    predict_image,
)
from basnet_lib.deploy.predict_images import (
    PredictionPlanError,
    find_input_images,
    predict_images,
)
from basnet_lib.metrics.boundary_dense import segmentation_boundary

ROOT = Path(__file__).resolve().parents[2]
ORIENTATION_TAG = 0x0112


def _noise(height: int, width: int, channels: int = 3, *, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, top, shape, endpoint=True).astype(dtype)


def _photos(folder: Path) -> dict[str, tuple[int, int]]:
    """One photo per input mode; name → (H, W) after EXIF rotation."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_noise(37, 53)).save(folder / "rgb.png")
    Image.fromarray(_noise(30, 41, 1)).save(folder / "gray.png")
    Image.fromarray(_noise(33, 35, 4)).save(folder / "rgba.png")
    palette = Image.fromarray(_noise(29, 47, 1) % 4, mode="P")
    palette.putpalette([0, 0, 0, 250, 0, 0, 0, 250, 0, 0, 0, 250])
    palette.save(folder / "palette.png")
    Image.fromarray(_noise(36, 44, 1, dtype=np.uint16)).save(folder / "gray16.png")
    cv2.imwrite(str(folder / "rgb16.png"), _noise(31, 39, dtype=np.uint16))
    for orientation in (6, 8):  # stored 24 high × 40 wide, shown 40 × 24
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = orientation
        Image.fromarray(_noise(24, 40, seed=orientation)).save(folder / f"exif{orientation}.JPG", exif=exif)
    return {
        "rgb": (37, 53),
        "gray": (30, 41),
        "rgba": (33, 35),
        "palette": (29, 47),
        "gray16": (36, 44),
        "rgb16": (31, 39),
        "exif6": (40, 24),
        "exif8": (40, 24),
    }


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_every_input_mode_gives_four_pngs_at_its_own_size(tmp_path, saved_smoke_runs) -> None:
    sizes = _photos(tmp_path / "in")
    summary = predict_images(saved_smoke_runs["full"], [tmp_path / "in"], tmp_path / "out", progress=False)
    assert summary.failures == {} and summary.images == len(sizes)
    assert sorted(path.stem for path in summary.outputs) == sorted(sizes)
    for stem, size in sizes.items():
        outputs = {kind: _read(tmp_path / "out" / f"{stem}_{kind}.png") for kind in OUTPUT_KINDS}
        assert outputs["trainIds"].shape == outputs["boundary"].shape == size, stem
        assert outputs["color"].shape == outputs["overlay"].shape == (*size, 3), stem
        assert outputs["trainIds"].max() < 19
        np.testing.assert_array_equal(outputs["color"], colorize_train_ids(outputs["trainIds"]))
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(
        f"{stem}_{kind}.png" for stem in sizes for kind in OUTPUT_KINDS
    )


def test_scale_and_multiscale_keep_the_input_size(tmp_path, saved_smoke_runs) -> None:
    assert model_input_size((37, 53), 20) == (14, 20) and model_input_size((53, 37), None) == (53, 37)
    Image.fromarray(_noise(37, 53)).save(tmp_path / "photo.png")
    run_dir, photo = saved_smoke_runs["full"], [tmp_path / "photo.png"]
    predict_images(run_dir, photo, tmp_path / "small", scale=20, progress=False)
    predict_images(run_dir, photo, tmp_path / "ms", multiscale=True, progress=False)
    assert not predict_images(run_dir, photo, tmp_path / "one", progress=False).failures
    for folder in ("small", "ms", "one"):
        assert _read(tmp_path / folder / "photo_trainIds.png").shape == (37, 53)
        assert _read(tmp_path / folder / "photo_overlay.png").shape == (37, 53, 3)
    # At 14×20 the model sees another image (an untrained model's maps differ in the 4th digit).
    predictor = load_predictor(run_dir, device="cpu")
    small, one = (predict_image(predictor, _noise(37, 53), scale=scale) for scale in (20, None))
    assert small.probes.shape == one.probes.shape == (3, 37, 53)
    assert np.abs(small.boundary - one.boundary).max() > 1e-5


def test_a_variant_without_boundary_head_writes_its_segmentation_boundary(tmp_path, saved_smoke_runs) -> None:
    Image.fromarray(_noise(37, 53)).save(tmp_path / "photo.png")
    predict_images(saved_smoke_runs["baseline"], [tmp_path / "photo.png"], tmp_path / "out", progress=False)
    train_ids = _read(tmp_path / "out" / "photo_trainIds.png")
    expected = (segmentation_boundary(train_ids) * 255).astype(np.uint8)
    np.testing.assert_array_equal(_read(tmp_path / "out" / "photo_boundary.png"), expected)


def test_a_non_image_fails_alone_with_one_line_and_exit_1(tmp_path, saved_smoke_runs, capsys) -> None:
    (tmp_path / "in").mkdir()
    Image.fromarray(_noise(20, 30)).save(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "broken.png").write_text("this is text, not a PNG\n")
    Image.fromarray(_noise(25, 20)).save(tmp_path / "in" / "c.jpg")
    run_dir = str(saved_smoke_runs["full"])
    assert main(["predict", run_dir, str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    naming = [line for line in err if "broken.png" in line]
    assert len(naming) == 1 and "not a readable image" in naming[0], err
    assert err[-1] == "basnet predict: 1 of 3 images failed"
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == sorted(f"{stem}_{kind}.png" for stem in ("a", "c") for kind in OUTPUT_KINDS)


def test_the_exit_status_through_the_command_line(tmp_path, saved_smoke_runs) -> None:
    (tmp_path / "in").mkdir()
    Image.fromarray(_noise(20, 30)).save(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    command = [sys.executable, "-m", "basnet_lib.cli", "predict", str(saved_smoke_runs["full"]), str(tmp_path / "in")]
    command += ["--out", str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 1, result.stderr
    assert "b.png" in result.stderr and "1 of 2 images failed" in result.stderr
    assert (tmp_path / "out" / "a_overlay.png").is_file()


def test_existing_outputs_are_not_overwritten_without_overwrite(tmp_path, saved_smoke_runs, capsys) -> None:
    (tmp_path / "in").mkdir()
    Image.fromarray(_noise(20, 30)).save(tmp_path / "in" / "a.png")
    arguments = ["predict", str(saved_smoke_runs["full"]), str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    arguments.append("--quiet")
    assert main(arguments) == 0
    before = _snapshot(tmp_path / "out")
    Image.fromarray(_noise(21, 31, seed=1)).save(tmp_path / "in" / "b.png")  # new, but a's outputs exist
    capsys.readouterr()
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert "a_trainIds.png exists (and 3 more planned outputs); pass --overwrite" in error
    assert _snapshot(tmp_path / "out") == before  # nothing written, not even b's outputs
    assert main([*arguments, "--overwrite"]) == 0
    after = _snapshot(tmp_path / "out")
    assert {name: after[name] for name in before} == before  # same model, same photo: same bytes
    assert len(after) == 8


def test_a_failed_write_leaves_no_partial_or_temporary_file(tmp_path, saved_smoke_runs, monkeypatch) -> None:
    (tmp_path / "in").mkdir()
    for index, name in enumerate(("a.png", "b.png")):
        Image.fromarray(_noise(20, 30, seed=index)).save(tmp_path / "in" / name)
    encode = png_io.encode_png
    calls = []

    def encoder_failing_on_the_third_png(array: np.ndarray) -> bytes:
        calls.append(array.shape)
        if len(calls) == 3:  # a's boundary PNG, after its trainIds and colour went to temporary files
            raise OSError("No space left on device")
        return encode(array)

    monkeypatch.setattr(png_io, "encode_png", encoder_failing_on_the_third_png)
    summary = predict_images(saved_smoke_runs["full"], [tmp_path / "in"], tmp_path / "out", progress=False)
    assert list(summary.failures) == [tmp_path / "in" / "a.png"]
    assert summary.failures[tmp_path / "in" / "a.png"].endswith("a.png: cannot write its outputs (No space left on device)")
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == sorted(f"b_{kind}.png" for kind in OUTPUT_KINDS)  # nothing of a, no temporary file


def test_inputs_are_files_folders_and_globs_each_once(tmp_path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y" / "deep").mkdir(parents=True)
    for path in (tmp_path / "x" / "a.png", tmp_path / "x" / "B.JPEG", tmp_path / "y" / "deep" / "c.jpg"):
        path.write_bytes(b"")
    (tmp_path / "x" / "notes.txt").write_text("")
    (tmp_path / "x" / ".hidden.png").write_bytes(b"")
    found = find_input_images([tmp_path / "x", tmp_path / "x" / "a.png", str(tmp_path / "y" / "**" / "*.jpg")])
    assert [path.name for path in found] == ["B.JPEG", "a.png", "c.jpg"]
    assert [path.name for path in find_input_images([tmp_path / "x" / "notes.txt"])] == ["notes.txt"]
    with pytest.raises(PredictionPlanError, match=r"missing\.png: no such file or folder"):
        find_input_images([tmp_path / "missing.png"])
    with pytest.raises(PredictionPlanError, match="no file matches"):
        find_input_images([str(tmp_path / "*.webp")])


def test_same_stem_from_two_folders_is_refused_before_writing(tmp_path, saved_smoke_runs) -> None:
    for folder in ("day", "night"):
        (tmp_path / folder).mkdir()
        Image.fromarray(_noise(20, 30)).save(tmp_path / folder / "street.png")
    with pytest.raises(PredictionPlanError, match=r"day/street\.png and .*night/street\.png would both write"):
        predict_images(saved_smoke_runs["full"], [tmp_path / "day", tmp_path / "night"], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(PredictionPlanError, match="is one of the input images"):
        Image.fromarray(_noise(20, 30)).save(tmp_path / "day" / "street_color.png")
        predict_images(saved_smoke_runs["full"], [tmp_path / "day"], tmp_path / "day")



def test_overlay_blends_colours_and_paints_boundaries_at_the_runs_threshold(tmp_path, saved_smoke_runs) -> None:
    image = np.full((1, 3, 3), 100, dtype=np.uint8)
    color = np.zeros((1, 3, 3), dtype=np.uint8)
    color[..., 0] = 201
    painted = overlay(image, color, np.array([[False, True, False]]))
    assert painted[0, 0].tolist() == painted[0, 2].tolist() == [150, 50, 50]
    assert painted[0, 1].tolist() == [255, 255, 255]
    predictor = load_predictor(saved_smoke_runs["full"], device="cpu")
    assert predictor.boundary_threshold == 0.5  # no metrics.json
    # An untrained map varies in the 4th digit: its median as the run's threshold paints half.
    threshold = float(np.median(predict_image(predictor, _noise(20, 30)).boundary))
    run_dir = tmp_path / "run"
    shutil.copytree(saved_smoke_runs["full"], run_dir)
    (run_dir / "metrics.json").write_text(json.dumps({"boundary_map": {"ODS_threshold": threshold}}))
    prediction = predict_image(load_predictor(run_dir, device="cpu"), _noise(20, 30))
    assert prediction.boundary_threshold == threshold
    is_white = (output_arrays(prediction)["overlay"] == 255).all(axis=2)
    np.testing.assert_array_equal(is_white, prediction.boundary >= threshold)
    assert 0.3 < is_white.mean() < 0.7
    for threshold in ("high", float("nan"), 2):  # read back, checked where it is read
        (run_dir / "metrics.json").write_text(json.dumps({"boundary_map": {"ODS_threshold": threshold}}))
        with pytest.raises(ValueError, match=r"metrics.json: boundary_map.ODS_threshold is .*, expected a probability"):
            load_predictor(run_dir, device="cpu")


# The child lowers its address space to what it holds once the command is imported plus a headroom:
# the smoke model and a small photo fit in it, an 8000x8000 photo's feature maps do not. Its malloc
# arenas and threads are few so that its size is predictable.
_UNDER_A_MEMORY_LIMIT = """
import resource, sys
from basnet_lib.cli import main
import basnet_lib.deploy.predict_images
size = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize:"))
limit = size + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""


def test_a_photo_too_large_for_memory_fails_alone_with_a_hint(tmp_path, saved_smoke_runs) -> None:
    if not Path("/proc/self/status").is_file():
        pytest.skip("the address-space limit is set from /proc/self/status (Linux)")  # documented platform skip
    big, small, out = tmp_path / "big.png", tmp_path / "ok.png", tmp_path / "out"
    Image.new("RGB", (8000, 8000), (90, 120, 150)).save(big)
    Image.fromarray(_noise(20, 30)).save(small)
    command = [sys.executable, "-c", _UNDER_A_MEMORY_LIMIT, str(3 * 2**30), "predict", str(saved_smoke_runs["full"])]
    command += [str(big), str(small), "--out", str(out), "--quiet", "--device", "cpu"]
    environment = {**os.environ, "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=environment, check=False)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "basnet predict: 1 of 2 images failed"
    (failure,) = [line for line in lines if "big.png" in line]
    assert failure.startswith(f"error: {big}: out of memory at 8000x8000 pixels (")
    assert failure.endswith("); try --scale, e.g. --scale 2048")
    assert "DefaultCPUAllocator" in failure  # torch's RuntimeError on the CPU, not a MemoryError
    assert sorted(path.name for path in out.iterdir()) == sorted(f"ok_{kind}.png" for kind in OUTPUT_KINDS)


def test_outputs_that_cannot_be_written_are_refused_before_predicting(tmp_path, saved_smoke_runs, capsys) -> None:
    Image.fromarray(_noise(20, 30)).save(tmp_path / "a.png")

    def predict(out: Path, *extra: str) -> int:
        return main(["predict", str(saved_smoke_runs["full"]), str(tmp_path / "a.png"), "--out", str(out), "--quiet",
                     *extra])  # fmt: skip

    def error() -> str:
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("basnet predict: error: "), lines
        return lines[0]

    (tmp_path / "notes.txt").write_text("a file where the output folder goes")
    assert predict(tmp_path / "notes.txt") == 2
    assert error().endswith(f"{tmp_path / 'notes.txt'} is a file, not a folder")
    out = tmp_path / "out"
    (out / "a_color.png").mkdir(parents=True)
    assert predict(out, "--overwrite") == 2
    assert f"{out / 'a_color.png'} is a folder, where an output file goes" in error()
    assert sorted(path.name for path in out.iterdir()) == ["a_color.png"]
    (out / "a_color.png").rmdir()
    # A broken symbolic link is an output that exists; --overwrite replaces the link, not its target.
    target = tmp_path / "elsewhere" / "target.png"
    (out / "a_overlay.png").symlink_to(target)
    assert predict(out) == 2
    assert error().endswith(f"{out / 'a_overlay.png'} exists; pass --overwrite to replace")
    assert predict(out, "--overwrite") == 0
    assert not (out / "a_overlay.png").is_symlink() and not target.exists()
    assert _read(out / "a_overlay.png").shape == (20, 30, 3)
