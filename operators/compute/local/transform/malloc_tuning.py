"""glibc malloc settings that keep a transform's footprint that of its live request buffers."""

from __future__ import annotations

import ctypes

MALLOC_ARENAS = 2
MALLOC_MMAP_THRESHOLD_BYTES = 1024 * 1024
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # glibc's mallopt parameter numbers


def tune_malloc() -> None:
    """Keep glibc's malloc from holding freed request buffers: the footprint stays that of the live ones.

    Request bodies of several MB are allocated in one thread and freed in another. With an arena per thread the
    process reserves 64 MB of address space per request thread, and glibc's sliding mmap threshold moves multi-MB
    buffers into heaps that fragment. Two arenas and a fixed 1 MB threshold (such buffers are mmapped, and returned
    when freed) halve the peak RSS of a 2 GiB transform. A C library without mallopt (musl, macOS) is left alone.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES)
