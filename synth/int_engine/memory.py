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


#: The search stops once the process's resident memory passes this share of its cap: what a
#: level allocates between two checks (a shard, the merge at its end) must fit in the rest.
RESIDENT_SHARE = 0.85
_PAGE = 4096


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux: /proc/self/statm, about 10 us), or None where
    it cannot be read (the cap then counts bank rows only)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _page()
    except (OSError, IndexError, ValueError):
        return None


@functools.cache
def _page() -> int:
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return _PAGE


def private_bytes() -> int | None:
    """This process's resident memory less its shared pages (a Ray worker's zero-copy views of
    the object store, libraries), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            fields = f.read().split()
        return (int(fields[1]) - int(fields[2])) * _page()
    except (OSError, IndexError, ValueError):
        return None


def over_cap(memory_bytes: int, *, outside: int = 0) -> bool:
    """Whether the whole process (not only the banks), with `outside` bytes its helper processes
    hold (the search's Ray workers), has used up its share of `memory_bytes`. Memory freed but
    kept by the allocator (tune_allocator keeps up to 1 GiB; an earlier search in this process
    may have left more) is given back first, so that only live memory counts."""
    rss = resident_bytes()
    if rss is None or rss + outside <= memory_bytes * RESIDENT_SHARE:
        return False
    release()
    rss = resident_bytes()
    return rss is not None and rss + outside > memory_bytes * RESIDENT_SHARE


def release() -> None:
    """Give the heap's free memory back to the kernel (glibc's malloc_trim; nothing elsewhere)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


@functools.cache
def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def room(memory_bytes: int, counted: int) -> int:
    """Bytes the search may still allocate: the cap's share less the larger of what it counts
    (bank rows) and what the process holds (after `release` when that looks too much)."""
    over_cap(memory_bytes)
    return max(0, int(memory_bytes * RESIDENT_SHARE) - max(counted, resident_bytes() or 0))
