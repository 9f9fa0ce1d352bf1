"""Process-wide settings for long CPU runs: glibc's malloc keeps freed feature maps for reuse.

By default glibc serves every allocation of 32 MiB or more with a fresh ``mmap`` and unmaps it on
``free``, and hands the free top of its heap back to the kernel beyond a threshold (both adapt to
what was freed before, up to 32 and 64 MiB). A network's feature maps are allocated and freed
once per layer and pass, so each pass faults the large ones in again page by page, and the kernel
zeroes every page. On the benchmark machine (2-core AMD EPYC), in a fresh process, torchvision's
DeepLabV3-ResNet-101 took 1.2 million minor page faults per 512×1024 inference (6.4 s, against
4.9 s without them), our prepared full BASNet 340 thousand (5.2 vs 4.8 s). Because the thresholds
adapt, the count in one process also depended on which models ran before, and so did
same-process benchmark ratios. :func:`reuse_freed_memory` fixes both thresholds high, after which
freed blocks are reused: no faults in steady state, for any model, in any order
(``benchmarks/bench_allocator.py``). The cost is that the process keeps its peak heap (the full
model's inference: 1692 → 1884 MB maximum resident memory). Called by
:func:`basnet_lib.engine.trainer.train` and :func:`basnet_lib.engine.evaluate.evaluate` (so by
the command line and the notebooks too) and by the benchmarks (where it applies to the peers
too); it changes no value. Where the C library is not glibc (macOS, musl) it does nothing and
returns False.
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
