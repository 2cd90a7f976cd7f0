"""Keep a long chunk-by-chunk process's memory near what one chunk needs.

glibc keeps freed heap memory for reuse and raises its ``mmap`` threshold as large blocks are
freed, so a loop over chunks of slightly different sizes fragments the heap and the resident
size creeps up (measured: +280 MB over 125 chunks of a 256³ prediction, all of it returned by
``malloc_trim``). :func:`bound_heap` fixes the threshold (large arrays then always come from
``mmap`` and go back to the system when freed) and :func:`release_memory` trims the heap
between chunks. Both do nothing where the C library is not glibc.

>>> bound_heap() in (True, False), release_memory() in (True, False)
(True, True)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["bound_heap", "release_memory"]

_M_MMAP_THRESHOLD = -3


@functools.lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


@functools.lru_cache(maxsize=1)
def bound_heap(threshold_bytes: int = 1 << 20) -> bool:
    """Serve allocations of ``threshold_bytes`` or more by ``mmap`` (once per process);
    whether it could be set."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, int(threshold_bytes)))


def release_memory() -> bool:
    """Return freed heap memory to the system (glibc ``malloc_trim``); whether it ran."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
