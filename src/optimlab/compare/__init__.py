"""See optimizers move: paths on 2-D loss surfaces, tuned fairly, with pictures, animations and a page.

``compare()`` runs a set of optimizers on one surface as one population; ``lr_sweep()`` one optimizer at
several learning rates; ``batch_policies()`` GD, SGD and mini-batch on a two-parameter least-squares fit;
``gallery()`` the default pictures of ``optimlab compare``.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_WHERE = {
    **dict.fromkeys(("CLASSIC", "TUNE_CRITERION", "TUNE_GRID", "compare", "lr_sweep", "resolve_surface"), "._api"),
    "PALETTE": "..palette",
    "CompareResult": "._run",
}
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from ..palette import PALETTE
    from ._api import CLASSIC, TUNE_CRITERION, TUNE_GRID, compare, lr_sweep, resolve_surface
    from ._run import CompareResult

__all__ = [
    "CLASSIC",
    "PALETTE",
    "TUNE_CRITERION",
    "TUNE_GRID",
    "CompareResult",
    "compare",
    "lr_sweep",
    "resolve_surface",
]
