"""CPU memory allocator settings that keep inference speed steady (Linux with glibc only).

Why: glibc's malloc hands out blocks above its mmap threshold (128 KiB at start, raised each time such a block
is freed) as fresh mmap'd pages, and gives freed memory at the top of the heap back to the OS above its trim
threshold. A CPU forward pass at 250 px allocates and frees activation buffers of tens of MB per convolution,
so depending on what the process did before, each call either reuses warm memory or page-faults through
freshly zeroed pages. Measured (BENCHMARKS.md, SinGAN session 15; `benchmarks/singan_places.py`, 2 cores, the
same model, runs alternating): 16.6-17.0 samples/s at 250 px with glibc's defaults, 22.0-22.2 with both
thresholds fixed. Training steps work on small crops and did not change.

`tune_cpu_allocator()` runs once when `patchdna` is imported. Set PATCHDNA_DEFAULT_MALLOC=1 to keep glibc's
defaults; glibc's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ variables, when set, also win.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

__all__ = ["MMAP_THRESHOLD_BYTES", "OPT_OUT_VARIABLE", "TRIM_THRESHOLD_BYTES", "on_glibc", "tune_cpu_allocator"]

OPT_OUT_VARIABLE = "PATCHDNA_DEFAULT_MALLOC"
# glibc's largest allowed mmap threshold on 64-bit systems: the 250 px activations (4 x 32 x 196 x 258 floats,
# 26 MB) stay below it and are reused from the heap.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
# Freed heap memory the process may keep before giving it back: several such buffers.
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024
_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def on_glibc() -> bool:
    """Whether this process runs on Linux with glibc, the only malloc these settings exist for."""
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def tune_cpu_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds for this process; returns whether both were set.

    A no-op (False) off Linux, without glibc, when PATCHDNA_DEFAULT_MALLOC=1, or when the user set glibc's own
    threshold variables. Safe to call more than once.
    """
    if os.environ.get(OPT_OUT_VARIABLE, "") not in ("", "0"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    if not on_glibc():
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    mmap_set = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    trim_set = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    return mmap_set and trim_set
