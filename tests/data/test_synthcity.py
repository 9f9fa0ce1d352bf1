"""SynthCity (docs/method.md §2.2): determinism, class coverage, layout, cache, CLI, figure and
statistics."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from basnet_lib.cli import main
from basnet_lib.data import DataConfig, DatasetError, label_ids_to_train_ids
from basnet_lib.data.png_io import read_label_ids
from basnet_lib.data.stats import class_frequencies, class_pixel_counts
from basnet_lib.data.synthcity import (
    SynthCityParams,
    ensure_synthcity,
    generate_synthcity,
    read_manifest,
    render_sample,
)
from basnet_lib.engine.config_io import load_config, save_config
from basnet_lib.plots.dataset import plot_class_frequencies

SMALL = {"height": 64, "width": 128, "progress": False}


def _files(root):
    return {path.relative_to(root): path.read_bytes() for path in sorted(root.rglob("*.png"))}


def test_same_seed_is_byte_identical_whatever_the_workers_and_other_seed_differs(tmp_path):
    one = generate_synthcity(tmp_path / "a", train=4, val=2, test=1, seed=3, workers=1, **SMALL)
    two = generate_synthcity(tmp_path / "b", train=4, val=2, test=1, seed=3, workers=2, **SMALL)
    other = generate_synthcity(tmp_path / "c", train=4, val=2, test=1, seed=4, workers=1, **SMALL)
    files_one, files_two, files_other = _files(one), _files(two), _files(other)
    assert len(files_one) == 4 * 3 + 2 * 3 + 1  # image, labelIds, color per labelled sample
    assert files_one == files_two
    assert files_one.keys() == files_other.keys()
    assert all(files_one[name] != files_other[name] for name in files_one)


def test_layout_is_cityscapes_and_test_split_has_no_labels(tmp_path):
    root = generate_synthcity(tmp_path, train=3, val=1, test=2, seed=0, workers=1, **SMALL)
    names = {str(path.relative_to(root)) for path in root.rglob("*.png")}
    assert "leftImg8bit/train/traincity1/traincity1_000001_000019_leftImg8bit.png" in names
    assert "gtFine/train/traincity1/traincity1_000001_000019_gtFine_labelIds.png" in names
    assert "gtFine/val/valcity0/valcity0_000000_000019_gtFine_color.png" in names
    assert not (root / "gtFine" / "test").exists()
    assert read_manifest(root) == SynthCityParams(train=3, val=1, test=2, height=64, width=128, seed=0)


def test_every_train_class_appears_in_a_set_of_nineteen_images(tmp_path):
    root = generate_synthcity(tmp_path, train=19, val=0, seed=11, workers=2, **SMALL)
    present = np.zeros(256, dtype=bool)
    ignore_seen = False
    for path in root.rglob("*_gtFine_labelIds.png"):
        train_ids = label_ids_to_train_ids(read_label_ids(path))
        present |= np.bincount(train_ids.ravel(), minlength=256) > 0
        ignore_seen |= bool((train_ids == 255).any())
    assert [train_id for train_id in range(19) if not present[train_id]] == []
    assert ignore_seen  # ego vehicle, static, rail track... map to 255 as in Cityscapes


def test_colour_edges_and_class_boundaries_disagree():
    # docs/method.md §2.2: the image has colour edges inside classes (texture, shadows) and class boundaries
    # without strong colour edges; Canny alone must not reproduce the boundary map.
    from basnet_lib.data import edge_target
    from basnet_lib.gradient_map import canny_edges

    params = SynthCityParams(train=4, val=0, test=0, height=128, width=256, seed=0)
    disagreements = []
    for index in range(4):
        image, label_ids = render_sample(params, "train", index)
        edges = edge_target(label_ids_to_train_ids(label_ids)) > 0
        canny = canny_edges(image) > 0
        disagreements.append((canny & ~edges).sum() / max(canny.sum(), 1))
    assert min(disagreements) > 0.2


def test_full_cityscapes_resolution_renders():
    params = SynthCityParams(train=1, val=0, test=0, height=1024, width=2048, seed=0)
    image, label_ids = render_sample(params, "train", 0)
    assert image.shape == (1024, 2048, 3) and label_ids.shape == (1024, 2048)
    assert len(np.unique(label_ids)) >= 6


def test_existing_output_is_not_overwritten_without_asking(tmp_path):
    generate_synthcity(tmp_path, train=1, val=0, seed=0, workers=1, **SMALL)
    with pytest.raises(FileExistsError, match="already holds"):
        generate_synthcity(tmp_path, train=1, val=0, seed=0, workers=1, **SMALL)
    generate_synthcity(tmp_path, train=2, val=0, seed=0, workers=1, overwrite=True, **SMALL)
    assert len(list(tmp_path.rglob("*_leftImg8bit.png"))) == 2


def test_ensure_synthcity_reuses_matching_cache_and_regenerates_stale_one(tmp_path, monkeypatch):
    monkeypatch.setenv("BASNET_CACHE", str(tmp_path / "cache"))
    root = ensure_synthcity(train=2, val=1, seed=0, workers=1, **SMALL)
    assert root.parent == tmp_path / "cache" / "synthcity"
    marker = root / "leftImg8bit" / "marker"
    marker.write_text("kept when reused")
    assert ensure_synthcity(train=2, val=1, seed=0, workers=1, **SMALL) == root and marker.exists()
    # Same folder, other parameters in the manifest (e.g. an older generator): regenerated.
    manifest = json.loads((root / "synthcity.json").read_text())
    (root / "synthcity.json").write_text(json.dumps({**manifest, "version": 0}))
    assert ensure_synthcity(train=2, val=1, seed=0, workers=1, **SMALL) == root
    assert not marker.exists() and read_manifest(root).version == manifest["version"]
    assert not list(root.parent.glob(".*partial*"))
    foreign = tmp_path / "mine"
    (foreign / "notes").mkdir(parents=True)
    with pytest.raises(DatasetError, match="mine: has no SynthCity manifest"):
        ensure_synthcity(foreign, train=1, val=1, seed=0, workers=1, **SMALL)


def test_cli_generates_verifies_and_draws_samples(tmp_path, capsys):
    root = tmp_path / "set"
    assert main(["synthcity", "--out", str(root), "--train", "2", "--val", "3", "--size", "64x128",
                 "--seed", "1", "--workers", "1"]) == 0  # fmt: skip
    assert len(list((root / "leftImg8bit" / "val").rglob("*.png"))) == 3
    assert main(["data-verify", "--root", str(root)]) == 0
    picture = tmp_path / "samples.png"
    assert main(["synthcity-samples", "--root", str(root), "--out", str(picture), "--count", "3"]) == 0
    assert 10_000 < picture.stat().st_size < 1_000_000
    assert main(["data-stats", "--root", str(root), "--out", str(tmp_path / "stats")]) == 0
    assert (tmp_path / "stats" / "class_frequencies.png").stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out


def test_class_frequencies_sum_to_one_per_split(tmp_path):
    root = generate_synthcity(tmp_path, train=2, val=1, seed=0, workers=1, **SMALL)
    frequencies = class_frequencies(root, progress=False)
    assert len(frequencies) == 2 * 20
    sums = frequencies.groupby("split")["fraction"].sum()
    assert np.allclose(sums.to_numpy(), 1.0)
    assert frequencies.set_index(["split", "class"]).loc[("train", "road"), "pixels"] > 0
    figure = plot_class_frequencies(frequencies)
    assert len(figure.axes[0].patches) == 2 * 20
    # The loss's class weights read the training split's counts of trainIds 0..18 (ignore left out).
    counts = class_pixel_counts(root)
    train = frequencies[frequencies["split"] == "train"].set_index("train_id")["pixels"]
    assert counts.tolist() == [float(train[train_id]) for train_id in range(19)]


def test_data_config_round_trips_and_rejects_bad_values(tmp_path):
    config = DataConfig(root="/data/cityscapes", crop_height=480, crop_width=480)
    assert load_config(DataConfig, save_config(config, tmp_path / "data.json")) == config
    with pytest.raises(ValueError, match="scale_min"):
        DataConfig(scale_min=2.0, scale_max=1.0)
    with pytest.raises(ValueError, match="crop_height"):
        DataConfig(crop_height=0)


def test_overwrite_deletes_only_a_folder_holding_a_synthcity_manifest(tmp_path, capsys):
    # A user's Cityscapes-like folder (no synthcity.json): --overwrite must not touch it.
    mine = tmp_path / "mine"
    for name in ("gtFine/train/city/a_gtFine_labelIds.png", "leftImg8bit/train/city/a_leftImg8bit.png"):
        (mine / name).parent.mkdir(parents=True, exist_ok=True)
        (mine / name).write_text("the user's file")
    command = ["synthcity", "--out", str(mine), "--train", "1", "--val", "0", "--size", "32x64", "--workers", "1"]
    assert main([*command, "--overwrite"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"basnet: error: {mine}: has no SynthCity manifest synthcity.json") and "Traceback" not in error
    assert sorted(path.read_text() for path in mine.rglob("*.png")) == ["the user's file"] * 2
    with pytest.raises(DatasetError, match="refusing to delete"):
        generate_synthcity(mine, train=1, val=0, seed=0, workers=1, overwrite=True, **SMALL)
    # Its own set is replaced.
    ours = tmp_path / "ours"
    assert main(["synthcity", "--out", str(ours), "--train", "1", "--val", "0", "--size", "32x64", "--workers", "1"]) == 0
    assert main(["synthcity", "--out", str(ours), "--train", "2", "--val", "0", "--size", "32x64", "--workers", "1",
                 "--overwrite"]) == 0  # fmt: skip
    assert len(list(ours.rglob("*_leftImg8bit.png"))) == 2


def test_a_cached_set_is_checked_against_its_manifest(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BASNET_CACHE", str(tmp_path / "cache"))
    root = ensure_synthcity(train=2, val=1, seed=0, workers=1, **SMALL)
    (gone,) = list((root / "gtFine" / "val").rglob("*_labelIds.png"))
    gone.unlink()  # a cleaned cache, a full disk: the manifest says 1 val label, the folder holds 0
    assert ensure_synthcity(train=2, val=1, seed=0, workers=1, **SMALL) == root
    assert gone.is_file()
    note = f"{root}: holds 0 of the 1 val labels its manifest synthcity.json lists; generating the set again"
    assert note in capsys.readouterr().err
    (root / "synthcity.json").write_text('{"train": 2, "val"')  # damaged: not known to be ours any more
    with pytest.raises(DatasetError, match=f"{root / 'synthcity.json'}: not a readable SynthCity manifest"):
        ensure_synthcity(train=2, val=1, seed=0, workers=1, **SMALL)
    assert gone.is_file()


def _children(pid):
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        if f"PPid:\t{pid}" in lines and "State:\tZ (zombie)" not in lines:
            found.append(int(status.parent.name))
    return found


def _running(pid):
    try:
        return "State:\tZ (zombie)" not in Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="follows processes through /proc (Linux)")
def test_workers_end_with_a_synthcity_command_ended_by_sigterm(tmp_path):
    # Before, the workers of `basnet synthcity` killed by SIGTERM went on writing images (parent 1).
    out = tmp_path / "set"
    command = [sys.executable, "-m", "basnet_lib.cli", "synthcity", "--out", str(out), "--train", "5000", "--val", "0",
               "--test", "0", "--size", "512x1024", "--workers", "2"]  # fmt: skip
    # No pipes: their reader would wait for the workers too.
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.rglob("*.png")) and parent.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the workers are writing
    workers = _children(parent.pid)
    assert len(workers) >= 2 and parent.poll() is None, workers
    parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=30)
    at_its_end = len(list(out.rglob("*.png")))
    deadline = time.monotonic() + 5
    while [pid for pid in workers if _running(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _running(pid)]
    # Each worker looks for its parent every 0.2 s: at most the sample it was writing (3 files) is
    # finished after the command ended; before, the workers wrote every sample already sent to them.
    assert len(list(out.rglob("*.png"))) - at_its_end <= 3 * 2
