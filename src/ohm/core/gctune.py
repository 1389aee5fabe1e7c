"""Batch process tuning: one policy for every batch path, for Python's cycle collector and
for the C allocator under numpy.

By default the collector runs a young collection every 700 net new objects and, now and
then, walks every object of the process. Batch paths (a bill run's chunks, an interval
import) make hundreds of thousands of short-lived objects with no reference cycles, so
they ask for far fewer collections while they run (memory is still freed as objects are let
go; only cycles wait) and restore the process's thresholds afterwards.

A bill run's chunk also makes numpy arrays of tens of MB (a chunk's intervals, its Wh
matrix) over and over. glibc's malloc serves blocks that big with ``mmap`` and gives them
back with ``munmap`` when freed, so every new array faults in every page again from the
kernel (system time, several ms a chunk); and it trims the heap's free top back to the
kernel too. A worker process that lives for one batch keeps what it frees instead
(``keep_freed_memory``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Young collections every 100,000 net new objects (not 700): ~10 % of a bill run's CPU.
BATCH_THRESHOLDS = (100_000, 50, 1000)

#: glibc's ``mallopt`` parameters (malloc.h) and the values a batch worker sets: blocks up
#: to 1 GiB come from the heap, not ``mmap``, and up to 1 GiB free at the heap's top stays.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_FREED = ((_M_MMAP_THRESHOLD, 1 << 30), (_M_TRIM_THRESHOLD, 1 << 30))

_kept: bool | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def keep_freed_memory() -> bool:
    """Have the C allocator keep freed memory for reuse rather than return it to the kernel,
    for the rest of the process: for processes that live for one batch (the memory a batch
    peaks at stays with the process until it exits). glibc on Linux only; elsewhere, or if
    glibc refuses, nothing changes. Idempotent. True when the settings are in effect."""
    global _kept
    if _kept is None:
        _kept = _set_malloc_options()
    return _kept


def _set_malloc_options() -> bool:
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt answers 1 when it took the setting; try every setting whatever the others say.
    return all([mallopt(parameter, value) == 1 for parameter, value in _KEEP_FREED])


def settle_worker() -> None:
    """For a forked worker process that lives for one batch: what it inherited from its
    parent is frozen out of the collector's walks, it collects far less often, and the
    memory it frees stays with it for its next arrays."""
    gc.freeze()
    gc.set_threshold(*BATCH_THRESHOLDS)
    keep_freed_memory()
