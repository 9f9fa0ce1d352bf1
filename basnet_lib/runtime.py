"""Process-wide settings for long CPU runs: glibc's malloc keeps freed feature maps for reuse.

By default glibc serves every allocation of 32 MiB or more with a fresh ``mmap`` and unmaps it on
``free``, and returns the top of its heap to the kernel once more than about 64 MiB of it is free.
A network's feature maps are allocated and freed once per layer and step, so each pass faults
them in again page by page, and the kernel zeroes every page: on the benchmark machine (2-core
AMD EPYC) torchvision's DeepLabV3-ResNet-101 took 1.3 million minor page faults per 512×1024
inference in a fresh process (7.0 s, against 5.0 s without them), our prepared full BASNet
320 thousand (5.4 vs 5.1 s). How many a model takes depends on what the process allocated before
(glibc raises its thresholds as it goes), so figures measured in one process also depended on
the order the models ran in. :func:`reuse_freed_memory` sets both thresholds high, after which
freed blocks are reused: no faults in steady state, for any model, in any order. The cost is
that the process keeps its peak heap (measured: +3% maximum resident memory for the full model's
inference). Called by the command line, :func:`basnet_lib.engine.trainer.train`,
:func:`basnet_lib.engine.evaluate.evaluate` and the benchmarks (where it applies to the peers too);
elsewhere (macOS, musl) it does nothing and says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt(3) parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks below 1 GiB come from the heap; freed heap is returned to the kernel only beyond 2 GiB
# (mallopt takes an int, so this is about its largest value).
MMAP_THRESHOLD_BYTES = 1 << 30
TRIM_THRESHOLD_BYTES = (1 << 31) - 1


@functools.cache
def reuse_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (see the module docstring); idempotent.

    Returns True when the C library accepted both settings, False where it is not glibc.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "reuse_freed_memory"]
