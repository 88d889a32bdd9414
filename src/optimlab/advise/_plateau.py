"""Candidates that had not started learning when the scan ended (a plateau start), and the place kept for them.

A short scan cannot rank a candidate that sits on a plateau for longer than the scan: its validation curve over
the learning rates is flat, so its best scan rate is noise. Such a candidate is refined around its *largest
stable* scan rate instead (the rate a plateau is left soonest at, as long as it does not blow up), and when the
refinement shows it has left the plateau (caught up at least half way with the leader) it keeps one place in the
final, since a late start also means a score at S/2 that understates the score at S.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from . import _plan

if TYPE_CHECKING:
    from ._tournament import Candidate


def _base_loss(table: pd.DataFrame, name: str) -> float:
    """The candidate's validation loss at its smallest scan rate: the loss of (nearly) not training."""
    rows = table[table["candidate"] == name].sort_values("lr")
    return float(rows["valid_loss"].iloc[0]) if len(rows) else math.nan


def flat_scan(table: pd.DataFrame, name: str) -> bool:
    """True when no scan rate lowered the candidate's validation loss by more than :data:`~._plan.FLAT_TOLERANCE`
    of its loss at the smallest rate (it had not started learning at any rate)."""
    base = _base_loss(table, name)
    losses = table.loc[table["candidate"] == name, "valid_loss"].dropna()
    return math.isfinite(base) and base > 0 and bool((losses >= base * (1 - _plan.FLAT_TOLERANCE)).all())


def largest_stable_lr(table: pd.DataFrame, name: str) -> float:
    """The largest scan rate whose validation loss is at most :data:`~._plan.FLAT_TOLERANCE` above the loss at the
    smallest rate (did not blow up), for a candidate with a :func:`flat_scan`."""
    base = _base_loss(table, name)
    rows = table[table["candidate"] == name]
    stable = rows[rows["valid_loss"] <= base * (1 + _plan.FLAT_TOLERANCE)]
    return float(stable["lr"].max())


def late_starter(scan: pd.DataFrame, refined: pd.DataFrame, flat: Sequence[str]) -> str | None:
    """The best-ranked candidate among the ``flat`` ones that left the plateau in the refinement: its validation
    loss fell below its scan's smallest-rate loss by at least :data:`~._plan.CATCH_UP` of the fall of the
    refinement's leader (a slow learner far behind is not kept); None when none did."""
    ranked = refined.sort_values("rank")
    if not len(ranked):
        return None
    lead = ranked.iloc[0]
    lead_drop = _base_loss(scan, str(lead["candidate"])) - float(lead["valid_loss"])
    if not lead_drop > 0:
        return None
    for row in ranked.itertuples():
        drop = _base_loss(scan, str(row.candidate)) - float(row.valid_loss)
        if row.candidate in flat and drop >= _plan.CATCH_UP * lead_drop:
            return str(row.candidate)
    return None


def keep_late_starter(chosen: list[tuple[Candidate, float]], ordered: list[tuple[Candidate, float]],
                      name: str | None) -> list[tuple[Candidate, float]]:
    """The finalists, with the last place given to the late starter ``name``'s best refinement configuration when
    none of its configurations is already among them."""
    if name is None or any(c.name == name for c, _ in chosen):
        return chosen
    best = next(pair for pair in ordered if pair[0].name == name)
    return [*chosen[:-1], best]
