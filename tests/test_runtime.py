"""reuse_freed_memory: freed feature-map-sized blocks are reused instead of faulted in again."""

from __future__ import annotations

import subprocess
import sys

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


def test_freed_blocks_are_reused_without_page_faults() -> None:
    pages = 10 * 64 * 2**20 // 4096  # ten blocks' worth
    # glibc's default: each 64 MiB block is a fresh mmap, faulted in page by page.
    assert _page_faults("default") > pages // 2
    # Reused: now and then a small allocation lands in the freed block and the heap grows once
    # more (one block's faults), otherwise none.
    assert _page_faults("reuse") < pages // 4
