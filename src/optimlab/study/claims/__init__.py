"""The classic rules of thumb about the optimizer family, turned into experiments with a measured verdict.

Each claim runs a small experiment (a sweep on a model problem, or surface paths with
:func:`optimlab.compare.compare`), measures what the advice is about, and decides *supported*, *not supported*
or *depends* from those numbers with thresholds stated next to the verdict (nothing is hard-coded). The
verdicts go to the store's ``claims`` table of a study of their own, so ``optimlab report`` shows them.

Quality of a run, used across problems: ``q = (L0 − L) / (L0 − L*)`` — the fraction of the best improvement in
validation loss seen on that problem (L0: loss at the initial weights, L*: the lowest validation loss any run in
the experiment reached). ``q = 1`` is the best, ``q = 0`` no progress; a diverged run has no ``q``.

Modules: ``_common`` (q, the claim record, the selection rule), ``experiments`` (the measurements, all through the
sweep), ``mechanics`` (measurements of the rules themselves: identities, step cost and state, gradient noise, the
two-basins runs), ``grid_claims``, ``dynamics`` and ``rule_claims`` (each claim's verdict rule, text in English and
Korean, and figure), ``run`` (sizes, the short and long budget of every claim, and the study).
"""

from ._common import (
    ADAPTIVE,
    CLASSIC,
    GOOD_Q,
    SELECTION_RULE,
    SGD_FAMILY,
    VERDICT_KO,
    Claim,
    GridRun,
    across_budgets,
    verdict_of,
)
from .dynamics import (
    BASIN_STARTS,
    adagrad_trace,
    basin_runs,
    batch_policy_runs,
    claim_adagrad_stalls,
    claim_batch_policies,
    claim_momentum_zigzag,
    ravine_runs,
)
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
from .grid_claims import (
    claim_adadelta_no_lr,
    claim_adam_default,
    claim_adam_vs_rmsprop_sparse,
    claim_adaptive_alike,
    claim_sparse_adaptive,
)
from .mechanics import adam_decomposition, gradient_noise, step_costs, train_minibatch
from .rule_claims import (
    claim_adadelta_cost,
    claim_adam_decomposition,
    claim_adam_memory,
    claim_momentum_escapes,
    claim_sgd_variance,
)
from .run import BUDGETS, N_CLAIMS, ClaimsBudget, ClaimsResult, run_claims

_noise = noise_level  # the name the tests and older notebooks use

__all__ = [
    "ADAPTIVE",
    "BASIN_STARTS",
    "BUDGETS",
    "CLASSIC",
    "GOOD_Q",
    "N_CLAIMS",
    "SELECTION_RULE",
    "SGD_FAMILY",
    "VERDICT_KO",
    "Claim",
    "ClaimsBudget",
    "ClaimsResult",
    "GridRun",
    "UpdateSizeProblem",
    "across_budgets",
    "adagrad_trace",
    "adam_decomposition",
    "basin_runs",
    "batch_policy_runs",
    "claim_adadelta_cost",
    "claim_adadelta_no_lr",
    "claim_adagrad_stalls",
    "claim_adam_decomposition",
    "claim_adam_default",
    "claim_adam_memory",
    "claim_adam_vs_rmsprop_sparse",
    "claim_adaptive_alike",
    "claim_batch_policies",
    "claim_momentum_escapes",
    "claim_momentum_zigzag",
    "claim_sgd_variance",
    "claim_sparse_adaptive",
    "gradient_noise",
    "grid_run",
    "init_loss",
    "noise_level",
    "policy_run",
    "ravine_runs",
    "run_claims",
    "step_costs",
    "step_seconds",
    "train_minibatch",
    "update_sizes",
    "verdict_of",
    "zigzag",
]
