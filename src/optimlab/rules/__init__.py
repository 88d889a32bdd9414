"""Update rules: one definition of each optimizer's math (see :class:`Rule`)."""

from ._base import TRIAL_DIMS, Hyper, Rule, Scalar, State
from .adadelta import AdadeltaRule
from .adagrad import AdagradRule
from .adam import AdamRule
from .adamax import AdamaxRule
from .ademamix import AdEMAMixRule
from .nadam import NAdamRule
from .radam import RAdamRule
from .rmsprop import RMSpropRule
from .sgd import SGDRule
from .soap import SOAPRule

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
        AdEMAMixRule(),
        SOAPRule(),
    )
}
"""Every rule by name."""

__all__ = [
    "RULES",
    "TRIAL_DIMS",
    "AdEMAMixRule",
    "AdadeltaRule",
    "AdagradRule",
    "AdamRule",
    "AdamaxRule",
    "Hyper",
    "NAdamRule",
    "RAdamRule",
    "RMSpropRule",
    "Rule",
    "SGDRule",
    "SOAPRule",
    "Scalar",
    "State",
]
