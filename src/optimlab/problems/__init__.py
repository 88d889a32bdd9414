"""Problems to minimize: 2-D loss surfaces (built in, from a callable, or from a typed formula) and model
problems (an ``nn.Module``, data splits and a loss) that a population of trials trains on; ``make_problem``
builds one from a model factory and a ``Dataset``, a ``DataLoader`` or tensors."""

from .base import Data, ModuleProblem, Problem, Split, accuracy
from .catalog import PROBLEMS, get_problem
from .expression import FUNCTIONS, parse_expression, parse_surface
from .loader import load_user_problem, load_user_surface
from .splits import DatasetSplit
from .surfaces import SURFACES, Surface, get_surface, surface_from_callable
from .user import make_problem

__all__ = [
    "FUNCTIONS",
    "PROBLEMS",
    "SURFACES",
    "Data",
    "DatasetSplit",
    "ModuleProblem",
    "Problem",
    "Split",
    "Surface",
    "accuracy",
    "get_problem",
    "get_surface",
    "load_user_problem",
    "load_user_surface",
    "make_problem",
    "parse_expression",
    "parse_surface",
    "surface_from_callable",
]
