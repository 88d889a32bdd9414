"""The advisor: recommend an optimizer and learning rate for the user's own problem, with the evidence.

>>> from optimlab.advise import advise
>>> result = advise("mnist1d-mlp", budget="x33")          # doctest: +SKIP
>>> print(result.summary())                               # doctest: +SKIP
>>> optimizer = result.make_optimizer(model.parameters())  # doctest: +SKIP
>>> result.save("advice")                                  # doctest: +SKIP

How it decides: :mod:`optimlab.advise._tournament`; the budget: :mod:`optimlab.advise._plan`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_WHERE = {
    **dict.fromkeys(("Budget", "TournamentPlan", "parse_budget", "plan_tournament"), "._plan"),
    **dict.fromkeys(("AdviceResult", "Recommendation"), "._result"),
    **dict.fromkeys(("PairedTest", "paired_test"), "..stats"),
    **dict.fromkeys(
        ("DEFAULT_CANDIDATES", "AdviceError", "Candidate", "advise", "check_problem", "resolve_candidates"),
        "._tournament",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from ..stats import PairedTest, paired_test
    from ._plan import Budget, TournamentPlan, parse_budget, plan_tournament
    from ._result import AdviceResult, Recommendation
    from ._tournament import DEFAULT_CANDIDATES, AdviceError, Candidate, advise, check_problem, resolve_candidates

__all__ = [
    "DEFAULT_CANDIDATES",
    "AdviceError",
    "AdviceResult",
    "Budget",
    "Candidate",
    "PairedTest",
    "Recommendation",
    "TournamentPlan",
    "advise",
    "check_problem",
    "paired_test",
    "parse_budget",
    "plan_tournament",
    "resolve_candidates",
]
