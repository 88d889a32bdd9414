"""Problems to minimize: 2-D loss surfaces (built in, from a callable, or from a typed formula)."""

from .expression import FUNCTIONS, parse_expression, parse_surface
from .surfaces import SURFACES, Surface, get_surface, surface_from_callable

__all__ = [
    "FUNCTIONS",
    "SURFACES",
    "Surface",
    "get_surface",
    "parse_expression",
    "parse_surface",
    "surface_from_callable",
]
