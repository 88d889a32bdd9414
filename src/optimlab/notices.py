"""Notices: one-line messages that tell the user what optimlab decided for them (not errors, not debugging).

They are warnings of the category :class:`Notice` (``warnings.warn``), so a library user sees them in a notebook
or filters them like any warning; the CLI prints each as one line on stderr (:func:`printed_as_lines`).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


class Notice(UserWarning):
    """A decision optimlab made that the user should know about; the message is one line."""


class ExecutorNotice(Notice):
    """The engine trains the trials with another executor than the population (the message says why)."""


@contextmanager
def printed_as_lines(stream: IO[str] | None = None) -> Iterator[None]:
    """Inside the block, every :class:`Notice` is printed as its message alone, one line on ``stream`` (stderr);
    other warnings are shown as before."""
    previous = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        if issubclass(category, Notice):
            print(" ".join(str(message).split()), file=stream or sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
