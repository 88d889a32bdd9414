"""optimlab: see, test and choose deep-learning optimizers, then use them.

* ``optimlab.optim`` — drop-in ``torch.optim`` classes built from one definition of each rule;
* ``optimlab.rules`` — the update rules themselves, usable on populations of trials;
* ``optimlab.PRESETS`` / ``optimlab.explain(name)`` — the registry of named optimizers and their cards;
* ``optimlab.compare(...)`` — optimizers' paths on 2-D loss surfaces, with pictures;
* ``optimlab.train(problem, trials)`` — a population of trials trained together on a model problem;
* ``optimlab.advise(problem)`` — a recommended optimizer and learning rate for your model, with evidence;
* ``optimlab.bench(...)`` / ``optimlab.load_results(store)`` — fair studies: tuned, several seeds, stored.

Every public name loads on first use (PEP 562), so ``import optimlab`` and ``optimlab --help`` import neither
torch's compiler nor pandas and matplotlib: :data:`_WHERE` says which module defines each name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The subpackages named like the verbs below are imported first (their own names load lazily, so this is cheap)
# and their module bindings removed: Python binds a subpackage to its parent only on its first import, so from
# here on `optimlab.compare`, `optimlab.explain` and `optimlab.advise` are the functions, served by __getattr__.
from . import advise as _advise_package  # noqa: F401
from . import compare as _compare_package  # noqa: F401
from . import explain as _explain_package  # noqa: F401
from ._lazy import lazy_exports

for _bound in ("advise", "compare", "explain"):
    del globals()[_bound]

__version__ = "0.1.0"

_WHERE: dict[str, str] = {
    "AdviceResult": ".advise._result",
    "advise": ".advise._tournament",
    "CompareResult": ".compare._run",
    "compare": ".compare._api",
    "lr_sweep": ".compare._api",
    "Population": ".population",
    "Trial": ".population",
    "get_problem": ".problems.catalog",
    "make_problem": ".problems.user",
    "PRESETS": ".registry",
    "ExplainedCard": ".registry",
    "Preset": ".registry",
    "get_preset": ".registry",
    "Schedule": ".schedules",
    "StudyResults": ".study.results",
    "bench": ".study",
    "load_results": ".study.results",
    "TrainResult": ".training",
    "train": ".training",
}
"""The module that defines each public name (imported when the name is first read)."""


def explain(name: str, lang: str = "en") -> ExplainedCard:
    """The explain card of ``name`` in ``lang`` (``"en"`` or ``"ko"``); renders as Markdown in a notebook."""
    from .registry import get_preset

    return get_preset(name).explain(lang)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)


if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ serves these names
    from .advise._result import AdviceResult
    from .advise._tournament import advise
    from .compare._api import compare, lr_sweep
    from .compare._run import CompareResult
    from .population import Population, Trial
    from .problems.catalog import get_problem
    from .problems.user import make_problem
    from .registry import PRESETS, ExplainedCard, Preset, get_preset
    from .schedules import Schedule
    from .study import bench
    from .study.results import StudyResults, load_results
    from .training import TrainResult, train

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
