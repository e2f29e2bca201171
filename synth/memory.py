"""Allocator tuning for the search's large, short-lived numpy blocks.

glibc returns every freed block above its mmap threshold to the kernel, so the next block of the
same size is faulted in page by page again: on virtualised machines that costs more than the
arithmetic. Raising the mmap threshold to its maximum and the trim threshold high keeps such blocks
in the process for reuse. Harmless where glibc is not the allocator (nothing happens).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


@functools.cache
def tune_allocator() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MiB for reuse; True when it agreed."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))
