"""Allocator tuning for the search's large, short-lived numpy blocks.

glibc returns every freed block above its mmap threshold to the kernel, so the next block of the
same size is faulted in page by page again: on virtualised machines that costs more than the
arithmetic. Raising the mmap threshold to its maximum and the trim threshold high keeps such blocks
in the process for reuse. Harmless where glibc is not the allocator (nothing happens).

numpy also asks the kernel for transparent huge pages on every array of 4 MiB or more. Where the
kernel compacts memory to find them on demand (the `madvise` defrag setting, the default of
many distributions and of the VMs the benchmarks ran on), a fresh huge page costs more than the
512 small pages it replaces: new rows were written about five times slower there
(docs/performance.md). The search writes every new bank row into fresh memory once, so it turns
that request off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


@functools.cache
def tune_allocator() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MiB for reuse, and numpy not to ask for huge
    pages; True when glibc agreed."""
    _numpy_small_pages()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))


def _numpy_small_pages() -> None:
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:                     # numpy 1.x
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)
