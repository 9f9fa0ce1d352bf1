"""``basnet evaluate --export`` (the test server's labelId PNGs): every output planned and checked
before the first write, never a user's file replaced without ``--overwrite`` (docs/decisions.md
"Nothing lost, round two")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from basnet_lib.cli import main
from basnet_lib.data.cityscapes import CityscapesSegmentation
from basnet_lib.data.output_files import OutputPlanError, check_output_files
from basnet_lib.data.png_io import read_label_ids, write_png
from basnet_lib.data.transforms import EvalTransform
from basnet_lib.distributed import DistributedContext
from basnet_lib.engine.export import export_predictions
from basnet_lib.engine.run_files import load_trained_model

ROOT = Path(__file__).resolve().parents[2]
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1  # <linux/prctl.h>, <linux/capability.h>


def _export(run_dir: Path, out: Path, *extra: str) -> int:
    arguments = ["evaluate", str(run_dir), "--split", "test", "--export", str(out), "--device", "cpu"]
    return main([*arguments, "--quiet", *extra])


def _one_line_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("basnet: error: "), lines
    return lines[0].removeprefix("basnet: error: ")


def test_an_existing_file_is_never_replaced_without_overwrite(saved_smoke_runs, tmp_path, capsys) -> None:
    run_dir, out = saved_smoke_runs["full"], tmp_path / "server"
    assert _export(run_dir, out) == 0
    names = sorted(path.name for path in out.iterdir())
    assert len(names) == 2  # the smoke set's two test images
    exported = (out / names[0]).read_bytes()
    (out / names[0]).write_bytes(b"the user's own file, by the name of a prediction")
    capsys.readouterr()
    assert _export(run_dir, out) == 1
    assert _one_line_error(capsys) == (
        f"{out / names[0]} exists (and 1 more planned outputs); pass --overwrite to replace"
    )
    assert (out / names[0]).read_bytes() == b"the user's own file, by the name of a prediction"
    assert sorted(path.name for path in out.iterdir()) == names  # nothing else written, no temporary
    assert _export(run_dir, out, "--overwrite") == 0
    assert (out / names[0]).read_bytes() == exported  # same model, same image: the same PNG


def _test_images(root: Path, cities: dict[str, list[str]]) -> CityscapesSegmentation:
    for city, names in cities.items():
        for index, name in enumerate(names):
            image = np.full((16, 24, 3), 40 * index, dtype=np.uint8)
            write_png(root / "leftImg8bit" / "test" / city / f"{name}_leftImg8bit.png", image)
    return CityscapesSegmentation(root, "test", transform=EvalTransform())


def test_the_whole_plan_is_checked_before_the_first_write(saved_smoke_runs, tmp_path) -> None:
    _, model = load_trained_model(saved_smoke_runs["full"])
    context = DistributedContext(device=torch.device("cpu"))

    def export(dataset: CityscapesSegmentation, out: Path, **options) -> list[Path]:
        return export_predictions(model, dataset, out, context=context, progress=False, **options)

    same_name = _test_images(tmp_path / "twice", {"aachen": ["a", "street"], "bonn": ["street"]})
    with pytest.raises(OutputPlanError, match=r"aachen/street_leftImg8bit.png and .*bonn/street_leftImg8bit.png "
                       r"would both be exported as .*out/street.png \(one name in two cities\)"):  # fmt: skip
        export(same_name, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # not even a.png, which came first

    dataset = _test_images(tmp_path / "data", {"aachen": ["a", "b"]})
    out = tmp_path / "predictions"
    (out / "b.png").mkdir(parents=True)  # a folder where a PNG goes: refused even with --overwrite
    with pytest.raises(OutputPlanError, match=r"predictions/b.png is a folder, where an output file goes"):
        export(dataset, out, overwrite=True)
    assert sorted(path.name for path in out.iterdir()) == ["b.png"]
    (out / "b.png").rmdir()

    (tmp_path / "notes.txt").write_text("a file where the output folder goes")
    with pytest.raises(OutputPlanError, match=r"notes.txt is a file, not a folder"):
        export(dataset, tmp_path / "notes.txt")
    with pytest.raises(OutputPlanError, match=r"cannot create .*notes.txt/sub: .*notes.txt is a file, not a folder"):
        export(dataset, tmp_path / "notes.txt" / "sub")
    assert (tmp_path / "notes.txt").read_text() == "a file where the output folder goes"

    # A symbolic link, even a broken one, is an existing output; --overwrite replaces the link
    # by the PNG instead of writing through it to wherever it points.
    target = tmp_path / "elsewhere" / "secret.png"
    (out / "a.png").symlink_to(target)
    with pytest.raises(OutputPlanError, match=r"predictions/a.png exists; pass --overwrite"):
        export(dataset, out)
    assert sorted(export(dataset, out, overwrite=True)) == [out / "a.png", out / "b.png"]
    assert not (out / "a.png").is_symlink() and not target.exists()
    assert read_label_ids(out / "a.png").shape == (16, 24)


def _without_root_override() -> None:
    """In the child: root loses the power to write into folders without write permission."""
    import ctypes
    import os

    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def test_a_folder_without_write_permission_is_refused_in_the_plan(tmp_path) -> None:
    if sys.platform != "linux":
        pytest.skip("read-only folders for root are made with Linux capabilities")  # documented platform skip
    locked = tmp_path / "locked"
    locked.mkdir()
    check = (
        "import sys; from pathlib import Path; from basnet_lib.data.output_files import check_output_files\n"
        "try:\n    check_output_files([Path(sys.argv[1])], overwrite=False)\nexcept ValueError as error:\n"
        "    print(error)"
    )
    locked.chmod(0o555)
    try:
        results = []
        for path in (locked / "a.png", locked / "new" / "a.png"):
            command = [sys.executable, "-c", check, str(path)]
            child = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, preexec_fn=_without_root_override, check=True
            )
            results.append(child.stdout.strip())
    finally:
        locked.chmod(0o755)
    assert results == [
        f"cannot write into {locked}: no write permission (or a read-only file system)",
        f"cannot create {locked / 'new'} in {locked}: no write permission (or a read-only file system)",
    ]
    check_output_files([locked / "a.png"], overwrite=False)  # writable again: no error
