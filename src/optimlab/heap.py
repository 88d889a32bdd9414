"""Keep freed memory in the process while training, so large tensors do not page-fault at every step.

A training step allocates and frees the same large tensors every step (activations, gradients, the rule's
temporaries). glibc's ``malloc`` serves large requests with fresh ``mmap`` pages and gives them back to the
kernel on ``free``, so each step touches its working set for the first time again: measured on the MLP
population of ``benchmarks/population_speed.py`` (K = 64), about 8 000 page faults and 14–20 ms of kernel time
per step, a quarter of the step. :func:`retained_heap` serves blocks up to 32 MiB (glibc's largest mmap
threshold) from the heap and keeps up to 1 GiB of freed memory there while a run lasts; larger blocks still
come from ``mmap`` and go back when freed, so the process never holds much more than its working set. Once a
run has taken one step, :func:`retain_all_if_roomy` keeps the larger blocks too when the process's peak so far
leaves plenty of RAM (turning ``mmap`` off unconditionally let a full-batch Transformer run outgrow memory).
Afterwards the trim threshold becomes 64 MiB (twice the mmap threshold, where glibc's own adaptive rule would
put it after freeing such a block) and ``malloc_trim`` returns the freed memory.

Other C libraries (macOS, musl) are left alone: there it does nothing. ``OPTIMLAB_RETAIN_HEAP=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import resource
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# mallopt parameter numbers (malloc.h) and the settings used.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_DEFAULT_MMAP_MAX = 65536
ROOMY_FRACTION = 0.3
""":func:`retain_all_if_roomy` turns ``mmap`` off only while the process's peak memory is below this share of RAM:
serving every block from the heap grew a run's peak by 1.75× (measured), so that stays below about half of RAM."""
_MMAP_THRESHOLD = 32 * 2**20  # glibc's maximum on 64-bit systems
_RETAINED_TRIM_THRESHOLD = 2**30
_AFTER_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD

_lock = threading.Lock()
_depth = 0
_all_blocks = False  # mmap is off: every block comes from the heap (see retain_all_if_roomy)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def _enabled() -> bool:
    return os.environ.get("OPTIMLAB_RETAIN_HEAP", "1") != "0" and _glibc() is not None


@contextmanager
def retained_heap() -> Iterator[None]:
    """Within this block, freed blocks up to 32 MiB stay in the process for reuse (see the module docstring).

    Nested and concurrent uses share one setting; the freed memory goes back when the outermost block ends.
    """
    global _depth, _all_blocks
    libc = _glibc() if _enabled() else None
    if libc is None:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, _RETAINED_TRIM_THRESHOLD)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _all_blocks:
                    libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                    _all_blocks = False
                libc.mallopt(_M_TRIM_THRESHOLD, _AFTER_TRIM_THRESHOLD)
                libc.malloc_trim(0)


def retain_all_if_roomy() -> bool:
    """Inside :func:`retained_heap`, after a first training step: keep blocks of every size in the heap as well
    (``mmap`` off) when the process's peak memory so far is below :data:`ROOMY_FRACTION` of RAM.

    Blocks over 32 MiB (a K = 256 population's tensors, a full batch's activations) otherwise still page-fault
    in every step: K = 256 MLP 280 → 176 ms per step, a full-batch char-lm population 92 → 43 s for 4 steps.
    The cost is memory (that char-lm run: 8.4 → 14.6 GB peak), hence the check against what one step took.
    Returns whether all blocks are now kept.
    """
    global _all_blocks
    libc = _glibc() if _enabled() else None
    if libc is None:
        return False
    with _lock:
        if not _all_blocks and _depth > 0 and _peak_bytes() < ROOMY_FRACTION * _ram_bytes():
            libc.mallopt(_M_MMAP_MAX, 0)
            _all_blocks = True
        return _all_blocks


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _ram_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


__all__ = ["ROOMY_FRACTION", "retain_all_if_roomy", "retained_heap"]
