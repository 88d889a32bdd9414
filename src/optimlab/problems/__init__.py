"""Problems to minimize: 2-D loss surfaces (built in, from a callable, or from a typed formula) and model
problems (an ``nn.Module``, data splits and a loss) that a population of trials trains on."""

from .base import Data, ModuleProblem, Problem, Split, accuracy
from .catalog import PROBLEMS, get_problem, load_user_problem
from .expression import FUNCTIONS, parse_expression, parse_surface
from .surfaces import SURFACES, Surface, get_surface, surface_from_callable

__all__ = [
    "FUNCTIONS",
    "PROBLEMS",
    "SURFACES",
    "Data",
    "ModuleProblem",
    "Problem",
    "Split",
    "Surface",
    "accuracy",
    "get_problem",
    "get_surface",
    "load_user_problem",
    "parse_expression",
    "parse_surface",
    "surface_from_callable",
]
