"""optimlab.heap.retained_heap: freed memory stays in the process inside the block and goes back after it.

Observed through the process's resident set size: a 64 MiB tensor freed inside the block keeps its pages (the
next step reuses them without page faults); after the block, glibc's defaults are back and the memory is
returned to the kernel.
"""

from __future__ import annotations

import os

import pytest
import torch

from optimlab import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="glibc only: elsewhere retained_heap does nothing")

BLOCK = 64 * 2**20


def resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def touch_and_free() -> tuple[int, int]:
    """Resident size with a freshly written 64 MiB tensor, and right after freeing it."""
    x = torch.ones(BLOCK // 4)
    with_block = resident()
    del x
    return with_block, resident()


def test_freed_memory_stays_inside_and_is_returned_after() -> None:
    with heap.retained_heap():
        with heap.retained_heap():  # nested: the outer block decides when the defaults come back
            with_block, freed = touch_and_free()
        assert freed > with_block - BLOCK // 2  # kept for reuse
        inside = resident()
    assert resident() < inside - BLOCK // 2  # returned when the outermost block ends
    with_block, freed = touch_and_free()  # glibc's defaults again: a large block goes back when freed
    assert freed < with_block - BLOCK // 2


def test_switched_off_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTIMLAB_RETAIN_HEAP", "0")
    with heap.retained_heap():
        with_block, freed = touch_and_free()
    assert freed < with_block - BLOCK // 2
