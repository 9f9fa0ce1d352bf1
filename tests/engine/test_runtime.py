"""reuse_freed_memory: freed feature-map-sized blocks are reused instead of faulted in again."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import subprocess
import sys

import pytest

from basnet_lib.engine.runtime import reuse_freed_memory


def _has_glibc_mallopt() -> bool:
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "mallopt")
    except OSError:
        return False


# The thresholds and the fault counts below are glibc's malloc; elsewhere (macOS, musl) the
# setting does nothing, which is tested instead.
requires_glibc = pytest.mark.skipif(
    not _has_glibc_mallopt(), reason="the C library is not glibc (no mallopt)"
)
PROBE = """
import resource, sys
import torch
from basnet_lib.engine.runtime import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
def touch():  # a 64 MiB feature map, written once and freed, as in every layer of a pass
    torch.empty(16 * 2**20).fill_(1.0)
for _ in range(3):  # the heap grows over the first passes; steady state after that
    touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    touch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(setting: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, setting], capture_output=True, text=True, check=True
    )
    return int(result.stdout.split()[-1])


@requires_glibc
def test_freed_blocks_are_reused_without_page_faults() -> None:
    pages = 10 * 64 * 2**20 // 4096  # ten blocks' worth
    # glibc's default: each 64 MiB block is a fresh mmap, faulted in page by page.
    assert _page_faults("default") > pages // 2
    # Reused: now and then a small allocation lands in the freed block and the heap grows once
    # more (one block's faults), otherwise none.
    assert _page_faults("reuse") < pages // 4


@pytest.mark.skipif(_has_glibc_mallopt(), reason="glibc: the setting applies (tested above)")
def test_does_nothing_without_glibc() -> None:
    assert reuse_freed_memory() is False
