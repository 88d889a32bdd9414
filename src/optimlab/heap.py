"""Keep freed memory in the process while training, so large tensors do not page-fault at every step.

A training step allocates and frees the same large tensors every step (activations, gradients, the rule's
temporaries). glibc's ``malloc`` serves large requests with fresh ``mmap`` pages and gives them back to the
kernel on ``free``, so each step touches its working set for the first time again: measured on the MLP
population of ``benchmarks/population_speed.py`` (K = 64), about 8 000 page faults and 14–20 ms of kernel time
per step, a quarter of the step. :func:`retained_heap` switches this off for the duration of a run
(``M_MMAP_MAX = 0``: large blocks come from the heap; ``M_TRIM_THRESHOLD`` = 1 GiB: freed blocks stay there),
then restores glibc's defaults and returns the freed memory with ``malloc_trim``.

Other C libraries (macOS, musl) are left alone: there it does nothing. ``OPTIMLAB_RETAIN_HEAP=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# mallopt parameter numbers and glibc's defaults (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_RETAINED_TRIM_THRESHOLD = 1 << 30

_lock = threading.Lock()
_depth = 0


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
    """Within this block, freed large allocations stay in the process for reuse (see the module docstring).

    Nested and concurrent uses share one setting; the defaults come back when the outermost block ends.
    """
    global _depth
    libc = _glibc() if _enabled() else None
    if libc is None:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, _RETAINED_TRIM_THRESHOLD)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)


__all__ = ["retained_heap"]
