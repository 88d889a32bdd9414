"""Drop-in ``torch.optim`` optimizers built from optimlab's rules.

Each class has the same name, arguments, defaults, parameter-group keys and state layout as its
``torch.optim`` namesake, so changing the import line changes nothing else; ``state_dict``s load across the
two. The math lives in :mod:`optimlab.rules`; this module only walks parameter groups.

Differences from torch.optim, all on purpose:

* every parameter group is validated (torch checks only the constructor's arguments), and errors name the
  argument, the value and the valid range;
* ``foreach`` is accepted and has no effect; ``capturable`` and ``differentiable`` (CUDA graphs and
  differentiating through the step) are not supported and raise ``ValueError`` when set;
* ``fused=True`` selects the compiled fast path (:mod:`optimlab.fused`: the same rule, compiled over the whole
  group) for every class; classes whose torch namesake has no ``fused`` argument take it as a parameter-group
  key (``{"params": ..., "fused": True}``). ``fused=None`` (the default) compiles only large groups, from
  :data:`optimlab.fused.AUTO_MIN_ELEMENTS` elements up; ``fused=False`` always runs the reference loop;
* the Adam family (``Adam``, ``AdamW``, ``Adamax``, ``NAdam``, ``RAdam``) takes one keyword-only argument torch
  lacks, after torch's: ``cautious`` (Liang et al. 2024, see :func:`optimlab.rules._math.cautious_`). It joins the
  parameter groups only when true, so a default optimizer's groups and ``state_dict`` are torch's exactly.

The classes without a torch namesake (Lion, Signum, ADOPT, Schedule-Free AdamW/SGD, Prodigy, AdEMAMix, SOAP)
take the arguments and defaults of the reference library they are tested against; each docstring names the
package and version, and each rule's docstring every departure from the paper.

Layout: :mod:`._base` (``RuleOptimizer``), :mod:`.torch_family` (the classes torch.optim has),
:mod:`.beyond_torch` (the others).
"""

from ._base import RuleOptimizer
from .beyond_torch import ADOPT, SOAP, AdamWScheduleFree, AdEMAMix, Lion, Prodigy, SGDScheduleFree, Signum
from .torch_family import (
    ASGD,
    SGD,
    Adadelta,
    Adafactor,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    AMSGrad,
    Momentum,
    Muon,
    NAdam,
    Nesterov,
    RAdam,
    RMSprop,
    Rprop,
    SparseAdam,
)

__all__ = [
    "ADOPT",
    "ASGD",
    "SGD",
    "SOAP",
    "AMSGrad",
    "AdEMAMix",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "AdamWScheduleFree",
    "Adamax",
    "Lion",
    "Momentum",
    "Muon",
    "NAdam",
    "Nesterov",
    "Prodigy",
    "RAdam",
    "RMSprop",
    "Rprop",
    "RuleOptimizer",
    "SGDScheduleFree",
    "Signum",
    "SparseAdam",
]
