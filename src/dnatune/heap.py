"""Keep freed heap memory in the process while a stage streams a genome chunk by chunk.

The windows and corpus stages allocate and free tens of MB of numpy temporaries per genome
chunk. By default glibc hands blocks over 128 KB to fresh mmaps and returns free memory at
the top of the heap to the kernel, so every chunk page-faults its temporaries in again: on
a 2-core VM that kernel time was about half of the corpus stage's own CPU time. Raising
both thresholds with mallopt lets the next chunk reuse the same pages. Peak memory does not
grow, as each chunk needs the same temporaries; memory is returned when the job exits.
There is no library for this: glibc's mallopt is called through ctypes.
"""

from __future__ import annotations

import ctypes
import logging

logger = logging.getLogger(__name__)

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 << 20  # glibc refuses larger values on 64-bit
TRIM_THRESHOLD = 1 << 30


def reuse_freed_memory() -> bool:
    """Serve blocks up to 32 MB from the heap and keep up to 1 GB of it once freed.

    Returns False, changing nothing, where the C library has no mallopt (macOS, musl).
    """
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) and mallopt(
        M_TRIM_THRESHOLD, TRIM_THRESHOLD
    )
    if not done:
        logger.debug("mallopt refused the heap thresholds; memory is managed as by default")
    return bool(done)
