"""The process a run executes in: what it is (:func:`system_info`, saved with every result) and
the one process-wide setting for long CPU runs (:func:`reuse_freed_memory`).

By default glibc serves every allocation of 32 MiB or more with a fresh ``mmap`` and unmaps it on
``free``, and hands the free top of its heap back to the kernel beyond a threshold (both adapt to
what was freed before). A network's feature maps are allocated and freed once per layer and pass,
so each pass faults the large ones in again page by page, and the kernel zeroes every page; since
the thresholds adapt, the count also depends on which models ran before in the process.
:func:`reuse_freed_memory` fixes both thresholds high, after which freed blocks are reused: no
faults in steady state, for any model, in any order, at the cost of keeping the peak heap
(measured by ``benchmarks/bench_allocator.py``; docs/decisions.md "Performance"). It changes process state,
so no library function calls it: the command line (``basnet train``, ``evaluate``,
``reproduce``), the training notebook and the benchmarks ask for it in one visible call. It
changes no value, only speed. Where the C library is not glibc (macOS, musl) it does nothing and
returns False.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import platform
import sys
from collections.abc import Iterator

import torch
import torchvision

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


def system_info() -> dict[str, object]:
    """Versions, devices and threads: what a result was computed with."""
    import cv2
    import numpy

    from basnet_lib import __version__

    cuda = torch.cuda.is_available()
    return {
        "basnet_lib": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda_available": cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda
        else [],
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "default_device": "cuda" if cuda else "cpu",
    }


@contextlib.contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` inside the block (0: unchanged), restored after it."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def autocast_dtype(device: torch.device) -> torch.dtype:
    """What ``TrainConfig.amp`` trains in: fp16 (with a gradient scaler) on CUDA, bf16 on CPU."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


@contextlib.contextmanager
def cuda_tf32(enabled: bool) -> Iterator[None]:
    """TF32 for CUDA convolutions and matrix products inside the block (``TrainConfig.tf32``),
    restored after it; PyTorch's own defaults allow it for cuDNN convolutions."""
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous
