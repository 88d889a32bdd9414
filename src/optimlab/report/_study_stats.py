"""The report pages' name for :mod:`optimlab.stats` (the statistics moved there so the verbs can read them too).

The pages being rewritten still say ``from . import _study_stats as stats``; new code imports
:mod:`optimlab.stats`. Delete this module once no page imports it.
"""

from ..stats import (
    ALPHA,
    PROFILE_DEFINITION,
    SIGN_TEST,
    PairVerdict,
    band,
    better,
    error_of,
    median_scores,
    pairwise,
    profile,
    ranks,
    ratios,
    sign_test,
    spread,
    usable,
)

__all__ = [
    "ALPHA",
    "PROFILE_DEFINITION",
    "SIGN_TEST",
    "PairVerdict",
    "band",
    "better",
    "error_of",
    "median_scores",
    "pairwise",
    "profile",
    "ranks",
    "ratios",
    "sign_test",
    "spread",
    "usable",
]
