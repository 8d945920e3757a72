"""Freed C-heap pages go back to the system after a LIST, where the allocator allows it."""

from __future__ import annotations

import os
import platform

import pytest

from flux_adapter.observe.heap import return_free_memory

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@glibc
def test_freed_heap_pages_pinned_by_a_few_survivors_are_returned() -> None:
    # Objects over 512 bytes bypass Python's small-object arenas and come from
    # malloc's heap, as the store's packed objects and LIST bodies do.
    baseline = resident_bytes()
    chunks = [bytes(600) + i.to_bytes(4, "little") for i in range(100_000)]
    survivors = chunks[::1000]
    del chunks
    held = resident_bytes() - baseline
    assert return_free_memory()
    kept = resident_bytes() - baseline
    # The figure that matters is relative to this process's own baseline: most
    # of what the freed chunks held goes back, whatever the machine's load.
    assert kept < held / 2
    assert len(survivors) == 100
