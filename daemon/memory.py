"""Process-wide memory policy: large buffers go back to the operating system when freed."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# glibc's M_MMAP_THRESHOLD, and the default it starts from.
_M_MMAP_THRESHOLD = -3
_THRESHOLD_BYTES = 128 * 1024


def return_large_buffers() -> bool:
    """Pin glibc's mmap threshold so every large block is mapped on its own; True if set.

    glibc raises the threshold each time a mapped block is freed, up to 32 MiB, so after a few
    large mails their successors are carved from the heap, which is never given back: the
    daemon stayed hundreds of MB above idle after large messages. A pinned threshold keeps
    every mail-sized buffer in its own mapping, unmapped the moment it is freed.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): their allocators differ
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD_BYTES))
    if not done:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; large buffers may stay in the heap")
    return done
