"""What a reproduction was made with: the environment record, oneDNN's dispatch read from its log,
and the installed packages against the lock file that `make` installs from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from basnet_lib.reproduction.environment import (
    environment_markdown,
    environment_record,
    installed_packages,
    locked_packages,
    package_differences,
    parse_onednn_log,
)
from basnet_lib.reproduction.invocations import how_it_was_made, record_invocation

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-lock.txt"

VERBOSE_LOG = """\
onednn_verbose,v1,info,oneDNN v3.12.0 (commit 80afa71049cd69a3df32adcccb623b12cd7baa22)
onednn_verbose,v1,info,cpu,runtime:OpenMP,nthr:2
onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:blk,undef,src:f32::blocked:abcd::f0,,2x64x32x32,0.1
onednn_verbose,v1,primitive,exec,cpu,convolution,jit:avx512_core,forward_inference,src:f32,,mb2_ic64oc64,0.5
onednn_verbose,v1,primitive,exec,cpu,convolution,jit:avx512_core,forward_inference,src:f32,,mb2_ic64oc64,0.4
BASNET_PROBE bf16
onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core_amx,forward_inference,src:bf16,,mb2,0.2
"""


def test_the_onednn_log_gives_version_isa_and_kernels_per_precision() -> None:
    parsed = parse_onednn_log(VERBOSE_LOG)
    assert parsed["version"] == "oneDNN v3.12.0"
    assert parsed["isa"] == "Intel AVX-512 with AVX512BW"  # the log's own commas end the field
    assert parsed["convolution"] == {"fp32": ["jit:avx512_core"], "bf16": ["brg_conv_fwd:avx512_core_amx"]}


def test_the_record_names_this_environment() -> None:
    record = environment_record()
    assert record["packages"]["torch"] == torch.__version__.split("+")[0]  # the wheel's local tag aside
    assert record["torch_build"]["version"] == torch.__version__
    assert record["torch_threads"] == torch.get_num_threads()
    onednn = record["onednn"]
    assert onednn.get("isa") and onednn["convolution"]["fp32"], onednn  # oneDNN ran a convolution


def test_this_environment_is_the_lock() -> None:
    """`make` installs every package from the lock: nothing more, nothing else (the project aside).
    Also after something imported setuptools, which puts its vendored packages on sys.path."""
    import torch.utils.cpp_extension  # noqa: F401  (imports setuptools, as some tests do before this one)

    locked = locked_packages(LOCK)
    assert locked["torch"] == "2.14.1" and locked["torchvision"] == "0.29.1"
    assert package_differences(installed_packages(), locked) == []


def test_differences_from_the_lock_are_named(tmp_path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==2.3.5 \\\n    --hash=sha256:00\nopencv-python-headless==5.0.0.1 \\\n    --hash=sha256:11\n")
    installed = {"numpy": "2.3.5", "opencv-python-headless": "5.1.0.95", "extra-thing": "1.0", "pip": "23.2.1"}
    assert package_differences(installed, locked_packages(lock)) == [
        "extra-thing: installed 1.0, lock nothing",
        "opencv-python-headless: installed 5.1.0.95, lock 5.0.0.1",
    ]
    record = {**environment_record(), "packages": installed}
    assert "2 packages differ from `lock.txt`: extra-thing" in environment_markdown(record, lock=lock)
    lock.write_text("not a lock\n")
    with pytest.raises(ValueError, match=r"lock.txt: no 'name==version' lines"):
        locked_packages(lock)


def test_the_report_summarises_the_last_recorded_environment(tmp_path) -> None:
    record_invocation(tmp_path, wall_seconds=60, trained_runs=0, total_runs=1)
    assert any("was not recorded" in line for line in how_it_was_made("basnet", {}, tmp_path))
    record = {**environment_record(), "cpu_model": "Test CPU 9000"}
    record_invocation(tmp_path, wall_seconds=60, trained_runs=0, total_runs=1, environment=record)
    text = "\n".join(how_it_was_made("basnet", {}, tmp_path))
    assert "- CPU: Test CPU 9000" in text and "- Kernels: ATen" in text and "- Packages:" in text
