"""Did-you-mean: the valid names closest to a mistyped one, and the one message every lookup raises."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from .errors import UnknownNameError

__all__ = ["suggest_names", "unknown_name"]


def suggest_names(name: str, valid: Iterable[str], limit: int = 3) -> list[str]:
    """Valid names closest to `name`, best first (ties: same first letter, then alphabetical)."""
    scored = []
    for candidate in valid:
        ratio = difflib.SequenceMatcher(None, name, candidate).ratio()
        if ratio >= 0.6:
            same_start = bool(name) and candidate.startswith(name[0])
            scored.append((-ratio, not same_start, candidate))
    return [candidate for _, _, candidate in sorted(scored)[:limit]]


def unknown_name(kind: str, name: str, valid: Iterable[str], *, key: str | None = None) -> UnknownNameError:
    """``Unknown {kind} {name!r}. Did you mean: ...?`` (or the valid names when none is close), as an error to raise.

    ``key`` is the normalized form of ``name`` that was looked up (lower case, ``_`` → ``-``); it is what gets
    compared with the valid names, while the message quotes what the user wrote.
    """
    valid = list(valid)
    close = suggest_names(name if key is None else key, valid)
    hint = f"Did you mean: {', '.join(close)}?" if close else f"Valid names: {', '.join(sorted(valid))}."
    return UnknownNameError(f"Unknown {kind} {name!r}. {hint}")
