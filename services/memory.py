"""Keep a worker's resident memory near what it uses (one 512 MB dyno holds two workers).

glibc gives each thread that allocates its own malloc arena (up to 8 per core) and keeps freed pages for reuse:
a worker that once built a 500-ticker chart series stays ~100 MB larger than it needs. Fewer arenas and an
explicit trim after the big jobs hand that memory back. Both are no-ops off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # from glibc's malloc.h

try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _mallopt = _libc.mallopt
    _malloc_trim = _libc.malloc_trim
except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
    _mallopt = _malloc_trim = None


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for threads started from now on (what MALLOC_ARENA_MAX does at start-up)."""
    return bool(_mallopt and _mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Return freed heap pages to the operating system (after a large computation)."""
    return bool(_malloc_trim and _malloc_trim(0))
