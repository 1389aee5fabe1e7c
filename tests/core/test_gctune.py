"""Batch process tuning: the collector's thresholds and the allocator's memory policy."""

import gc
import platform
import resource
import sys

import numpy as np
import pytest

from ohm.core import gctune

glibc_linux = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)


def test_fewer_collections_restores_the_thresholds():
    before = gc.get_threshold()

    with gctune.fewer_collections():
        assert gc.get_threshold() == gctune.BATCH_THRESHOLDS

    assert gc.get_threshold() == before


@glibc_linux
class TestKeepFreedMemory:
    def test_is_in_effect_and_idempotent(self):
        assert gctune.keep_freed_memory() is True
        assert gctune.keep_freed_memory() is True

    def test_a_freed_big_array_is_reused_without_faulting_its_pages_again(self):
        gctune.keep_freed_memory()
        np.ones(40 << 20, dtype=np.uint8)  # 40 MB, freed at once: it stays with the process
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt

        np.ones(40 << 20, dtype=np.uint8)

        # Faulting 40 MB in again takes ~10,000 page faults (~500 with transparent huge pages).
        assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 50
