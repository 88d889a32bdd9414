"""Update rules: one definition of each optimizer's math (see :class:`Rule`)."""

from ._base import TRIAL_DIMS, Hyper, Rule, Scalar, State
from .adadelta import AdadeltaRule
from .adafactor import AdafactorRule
from .adagrad import AdagradRule
from .adam import AdamRule
from .adamax import AdamaxRule
from .ademamix import AdEMAMixRule
from .adopt import ADOPTRule
from .asgd import ASGDRule
from .lion import LionRule, SignumRule
from .muon import MuonRule
from .nadam import NAdamRule
from .prodigy import ProdigyRule
from .radam import RAdamRule
from .rmsprop import RMSpropRule
from .rprop import RpropRule
from .schedulefree import ScheduleFreeAdamWRule, ScheduleFreeRule, ScheduleFreeSGDRule
from .sgd import SGDRule
from .soap import SOAPRule
from .sparse_adam import SparseAdamRule

RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        SGDRule(),
        AdagradRule(),
        RMSpropRule(),
        AdadeltaRule(),
        AdamRule(),
        AdamaxRule(),
        NAdamRule(),
        RAdamRule(),
        LionRule(),
        SignumRule(),
        ASGDRule(),
        RpropRule(),
        ADOPTRule(),
        ScheduleFreeSGDRule(),
        ScheduleFreeAdamWRule(),
        MuonRule(),
        AdafactorRule(),
        ProdigyRule(),
        AdEMAMixRule(),
        SOAPRule(),
        SparseAdamRule(),
    )
}
"""Every rule by name."""

__all__ = [
    "RULES",
    "TRIAL_DIMS",
    "ADOPTRule",
    "ASGDRule",
    "AdEMAMixRule",
    "AdadeltaRule",
    "AdafactorRule",
    "AdagradRule",
    "AdamRule",
    "AdamaxRule",
    "Hyper",
    "LionRule",
    "MuonRule",
    "NAdamRule",
    "ProdigyRule",
    "RAdamRule",
    "RMSpropRule",
    "RpropRule",
    "Rule",
    "SGDRule",
    "SOAPRule",
    "Scalar",
    "ScheduleFreeAdamWRule",
    "ScheduleFreeRule",
    "ScheduleFreeSGDRule",
    "SignumRule",
    "SparseAdamRule",
    "State",
]
