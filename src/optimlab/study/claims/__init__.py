"""The classic rules of thumb about the optimizer family, turned into experiments with a measured verdict.

Each claim runs a small experiment (a sweep on a model problem, or surface paths with
:func:`optimlab.compare.compare`), measures what the advice is about, and decides *supported*, *not supported*
or *depends* from those numbers with thresholds stated next to the verdict (nothing is hard-coded). The
verdicts go to the store's ``claims`` table of a study of their own, so ``optimlab report`` shows them.

Quality of a run, used across problems: ``q = (L0 − L) / (L0 − L*)`` — the fraction of the best improvement in
validation loss seen on that problem (L0: loss at the initial weights, L*: the lowest validation loss any run in
the experiment reached). ``q = 1`` is the best, ``q = 0`` no progress; a diverged run has no ``q``.

Modules: ``_common`` (q, the claim record, the selection rule), ``experiments`` (the measurements, all through the
sweep), ``grid_claims`` and ``dynamics`` (each claim's verdict rule, text and figure), ``run`` (sizes and the
study).
"""

from ._common import ADAPTIVE, CLASSIC, GOOD_Q, SELECTION_RULE, SGD_FAMILY, Claim, GridRun
from .dynamics import claim_adagrad_stalls, claim_batch_policies, claim_momentum_zigzag
from .experiments import (
    UpdateSizeProblem,
    grid_run,
    init_loss,
    noise_level,
    policy_run,
    step_seconds,
    update_sizes,
    zigzag,
)
from .grid_claims import claim_adadelta_no_lr, claim_adam_default, claim_sparse_adaptive
from .run import BUDGETS, ClaimsBudget, ClaimsResult, run_claims

_noise = noise_level  # the name the tests and older notebooks use

__all__ = [
    "ADAPTIVE",
    "BUDGETS",
    "CLASSIC",
    "GOOD_Q",
    "SELECTION_RULE",
    "SGD_FAMILY",
    "Claim",
    "ClaimsBudget",
    "ClaimsResult",
    "GridRun",
    "UpdateSizeProblem",
    "claim_adadelta_no_lr",
    "claim_adagrad_stalls",
    "claim_adam_default",
    "claim_batch_policies",
    "claim_momentum_zigzag",
    "claim_sparse_adaptive",
    "grid_run",
    "init_loss",
    "noise_level",
    "policy_run",
    "run_claims",
    "step_seconds",
    "update_sizes",
    "zigzag",
]
