"""optimlab: see, test and choose deep-learning optimizers, then use them.

* ``optimlab.optim`` — drop-in ``torch.optim`` classes built from one definition of each rule;
* ``optimlab.rules`` — the update rules themselves, usable on populations of trials;
* ``optimlab.PRESETS`` / ``optimlab.explain(name)`` — the registry of named optimizers and their cards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The subpackage `optimlab.explain` (the cards) is imported first, so that the function below, not the
# subpackage, is what `optimlab.explain` names (Python binds a subpackage to its parent on first import).
from .explain import cards as _cards  # noqa: F401

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .registry import ExplainedCard


def explain(name: str, lang: str = "en") -> ExplainedCard:
    """The explain card of ``name`` in ``lang`` (``"en"`` or ``"ko"``); renders as Markdown in a notebook."""
    from .registry import get_preset

    return get_preset(name).explain(lang)


def __getattr__(name: str) -> object:
    # Heavy modules load on first use, so `import optimlab` stays fast.
    if name == "PRESETS":
        from .registry import PRESETS

        return PRESETS
    if name in ("optim", "rules", "registry", "population"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'optimlab' has no attribute {name!r}")


__all__ = ["PRESETS", "__version__", "explain"]
