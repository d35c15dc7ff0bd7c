"""Gives freed heap memory back to the operating system.

CPython frees large tables (dicts, sets, arrays) into glibc's malloc, which keeps
freed memory in the middle of the heap: only the heap's top is given back, and
after a large block is freed glibc raises its mmap threshold, so later large
tables come from the heap too. A NameNode that just processed the block reports
of 200k blocks has freed tens of MB of transient tables that would stay in its
RSS for good. glibc's malloc_trim(0) hands those pages back (madvise), so RSS
shows what is live. Elsewhere (macOS, musl) this is a no-op.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("minidfs.memory")


def _load_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _load_malloc_trim()


def release_free_memory() -> bool:
    """True when freed memory could be handed back (glibc), False where unsupported.
    Takes milliseconds per hundred MB of heap; callers run it in a worker thread."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True
