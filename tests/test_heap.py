"""optimlab.heap.retained_heap: freed memory stays in the process inside the block and goes back after it.

Observed through the process's resident set size: a 16 MiB tensor freed inside the block keeps its pages (the
next step reuses them without page faults); when the block ends the freed memory is returned to the kernel.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from optimlab import heap

BLOCK = 16 * 2**20  # below the 32 MiB up to which retained_heap serves blocks from the heap


def resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(heap._glibc() is None, reason="glibc only: elsewhere retained_heap does nothing")
def test_freed_memory_stays_inside_and_is_returned_after() -> None:
    with heap.retained_heap():
        with heap.retained_heap():  # nested: the outer block decides when the memory goes back
            x = torch.ones(BLOCK // 4)  # written, so its pages are resident
            with_block = resident()
            del x
            assert resident() > with_block - BLOCK // 2  # kept for reuse
        inside = resident()
    assert resident() < inside - BLOCK // 2  # returned when the outermost block ends


class RecordingLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))


def test_settings_and_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = RecordingLibc()
    monkeypatch.setattr(heap, "_glibc", lambda: libc)
    with heap.retained_heap(), heap.retained_heap():
        pass
    assert libc.calls == [
        ("mallopt", (-3, 32 * 2**20)),  # M_MMAP_THRESHOLD: blocks up to 32 MiB from the heap
        ("mallopt", (-1, 2**30)),  # M_TRIM_THRESHOLD: keep up to 1 GiB of freed memory
        ("mallopt", (-1, 64 * 2**20)),  # afterwards: glibc's adaptive value for that threshold
        ("malloc_trim", (0,)),
    ]
    libc.calls.clear()
    monkeypatch.setenv("OPTIMLAB_RETAIN_HEAP", "0")
    with heap.retained_heap():
        pass
    assert libc.calls == []


def test_all_blocks_kept_only_when_memory_is_roomy(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = RecordingLibc()
    monkeypatch.setattr(heap, "_glibc", lambda: libc)
    monkeypatch.setattr(heap, "_ram_bytes", lambda: 100 * 2**30)
    assert not heap.retain_all_if_roomy()  # outside a block: nothing to do
    assert libc.calls == []

    monkeypatch.setattr(heap, "_peak_bytes", lambda: 40 * 2**30)  # 40 % of RAM used at the peak: stay bounded
    with heap.retained_heap():
        assert not heap.retain_all_if_roomy()
    assert ("mallopt", (-4, 0)) not in libc.calls

    libc.calls.clear()
    monkeypatch.setattr(heap, "_peak_bytes", lambda: 10 * 2**30)  # 10 %: every block from the heap
    with heap.retained_heap():
        assert heap.retain_all_if_roomy()
        assert libc.calls[-1] == ("mallopt", (-4, 0))  # M_MMAP_MAX = 0
    assert ("mallopt", (-4, 65536)) in libc.calls  # mmap back on when the block ends
    assert not heap._all_blocks
