"""optimlab: see, test and choose deep-learning optimizers, then use them.

* ``optimlab.optim`` — drop-in ``torch.optim`` classes built from one definition of each rule;
* ``optimlab.rules`` — the update rules themselves, usable on populations of trials;
* ``optimlab.PRESETS`` / ``optimlab.explain(name)`` — the registry of named optimizers and their cards;
* ``optimlab.compare(...)`` — optimizers' paths on 2-D loss surfaces, with pictures;
* ``optimlab.train(problem, trials)`` — a population of trials trained together on a model problem;
* ``optimlab.advise(problem)`` — a recommended optimizer and learning rate for your model, with evidence;
* ``optimlab.bench(...)`` / ``optimlab.load_results(store)`` — fair studies: tuned, several seeds, stored.
"""

from __future__ import annotations

# Subpackages named like the functions below are imported first: Python binds a subpackage to its parent
# only on its first import, so after these lines `optimlab.explain` and `optimlab.compare` stay functions.
from . import advise as _advise_package  # noqa: F401
from . import compare as _compare_package  # noqa: F401
from . import explain as _explain_package  # noqa: F401
from .advise import AdviceResult, advise
from .compare import CompareResult, compare, lr_sweep
from .population import Population, Trial
from .problems.catalog import get_problem
from .problems.user import make_problem
from .registry import PRESETS, ExplainedCard, Preset, get_preset
from .schedules import Schedule
from .study import StudyResults, bench, load_results
from .training import TrainResult, train

__version__ = "0.1.0"


def explain(name: str, lang: str = "en") -> ExplainedCard:
    """The explain card of ``name`` in ``lang`` (``"en"`` or ``"ko"``); renders as Markdown in a notebook."""
    return get_preset(name).explain(lang)


__all__ = [
    "PRESETS",
    "AdviceResult",
    "CompareResult",
    "ExplainedCard",
    "Population",
    "Preset",
    "Schedule",
    "StudyResults",
    "TrainResult",
    "Trial",
    "__version__",
    "advise",
    "bench",
    "compare",
    "explain",
    "get_preset",
    "get_problem",
    "load_results",
    "lr_sweep",
    "make_problem",
    "train",
]
