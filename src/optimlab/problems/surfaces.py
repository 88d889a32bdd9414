"""Two-parameter loss surfaces: the classic test functions on which optimizer paths can be drawn.

A :class:`Surface` is a function of ``(x, y)`` written in torch (so gradients come from autograd and K points
are evaluated at once), with what a picture needs: its formula as text, a plotting domain, the known
minima, the customary start points and whether losses span decades (log-scaled contours).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import InvalidValueError, ProblemError, UserError
from ..suggest import unknown_name

SurfaceFn = Callable[[Tensor, Tensor], Tensor]
Point = tuple[float, float]
Domain = tuple[Point, Point]


@dataclass(frozen=True)
class Surface:
    """A loss ``f(x, y)`` to minimize, with its domain ``((xmin, xmax), (ymin, ymax))`` and known minima."""

    name: str
    title: str
    formula: str
    fn: SurfaceFn = field(repr=False, compare=False)
    domain: Domain
    minima: tuple[Point, ...] = ()
    starts: tuple[Point, ...] = ()
    log_scale: bool = True
    about: str = ""

    def __post_init__(self) -> None:
        (x0, x1), (y0, y1) = self.domain
        if not (x0 < x1 and y0 < y1) or not all(map(math.isfinite, (x0, x1, y0, y1))):
            raise InvalidValueError(
                f"Invalid domain {self.domain} for surface {self.name!r}: need xmin < xmax, ymin < ymax."
            )
        for start in self.starts:
            self.check_start(start)

    def __call__(self, xy: Tensor) -> Tensor:
        """Loss at points ``xy[..., 2]``; returns a tensor of shape ``xy.shape[:-1]``."""
        out = self.fn(xy[..., 0], xy[..., 1])
        if out.shape == xy.shape[:-1]:
            return out
        if out.dim() == 0:  # a constant formula such as "3"
            return out.expand(xy.shape[:-1])
        raise ProblemError(f"Surface {self.name!r} must return one value per point; got shape {tuple(out.shape)}.")

    def loss_and_grad(self, xy: Tensor) -> tuple[Tensor, Tensor]:
        """Loss ``[K]`` and gradient ``[K, 2]`` at points ``xy[K, 2]`` (the points are independent)."""
        with torch.enable_grad():
            leaf = xy.detach().requires_grad_(True)
            loss = self(leaf)
            (grad,) = torch.autograd.grad(loss.sum(), leaf)
        return loss.detach(), grad

    @property
    def min_value(self) -> float | None:
        """The lowest value over the known minima (``None`` when none is known)."""
        if not self.minima:
            return None
        values = self(torch.tensor(self.minima, dtype=torch.float64))
        return float(values.min())

    def contains(self, point: Sequence[float]) -> bool:
        (x0, x1), (y0, y1) = self.domain
        return x0 <= point[0] <= x1 and y0 <= point[1] <= y1

    def check_start(self, point: Sequence[float]) -> None:
        """Raise :class:`InvalidValueError` (one sentence) when ``point`` is not a 2-D point inside the domain."""
        if len(point) != 2 or not all(math.isfinite(float(v)) for v in point):
            raise InvalidValueError(f"Invalid start point {tuple(point)}: give two finite numbers x,y.")
        if not self.contains(point):
            (x0, x1), (y0, y1) = self.domain
            raise InvalidValueError(
                f"Start point ({point[0]:g}, {point[1]:g}) is outside the domain of {self.name} "
                f"(x in [{x0:g}, {x1:g}], y in [{y0:g}, {y1:g}])."
            )

    def distance_to_minimum(self, xy: Tensor) -> Tensor:
        """Euclidean distance from each point ``xy[..., 2]`` to its nearest known minimum (NaN if none)."""
        if not self.minima:
            return torch.full(xy.shape[:-1], float("nan"), dtype=xy.dtype)
        minima = torch.tensor(self.minima, dtype=xy.dtype)
        return torch.cdist(xy.reshape(-1, 2), minima).min(dim=1).values.reshape(xy.shape[:-1])

    def grid(self, n: int = 160) -> tuple[Tensor, Tensor, Tensor]:
        """``X, Y, Z`` on an ``n x n`` grid over the domain (float64), for contour and 3-D views."""
        (x0, x1), (y0, y1) = self.domain
        xs = torch.linspace(x0, x1, n, dtype=torch.float64)
        ys = torch.linspace(y0, y1, n, dtype=torch.float64)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        with torch.no_grad():
            z = self(torch.stack([gx, gy], dim=-1))
        return gx, gy, z


def surface_from_callable(
    fn: SurfaceFn,
    *,
    name: str = "custom",
    domain: Domain = ((-3.0, 3.0), (-3.0, 3.0)),
    minima: Sequence[Point] = (),
    starts: Sequence[Point] = (),
    formula: str = "",
    log_scale: bool | None = None,
) -> Surface:
    """A :class:`Surface` from a Python function ``fn(x, y)`` of torch tensors (elementwise, differentiable).

    The function is checked once on a grid over ``domain``: it must return one finite value per point.
    ``log_scale=None`` picks log-scaled contours when the values span more than two decades.
    """
    if not callable(fn):
        raise ProblemError(f"A custom surface needs a callable f(x, y); got {type(fn).__name__}.")
    probe = Surface(name, name, formula or name, fn, _domain(domain), log_scale=False)
    try:
        _, _, z = probe.grid(24)
    except UserError:
        raise
    except Exception as exc:  # the user's function: report what it raised in one sentence
        raise ProblemError(f"Surface {name!r} failed on a grid over its domain: {type(exc).__name__}: {exc}.") from exc
    if z.shape != (24, 24):
        raise ProblemError(f"Surface {name!r} must return one value per point; got shape {tuple(z.shape)}.")
    if not torch.isfinite(z).any():
        raise ProblemError(f"Surface {name!r} has no finite value anywhere on its domain.")
    if log_scale is None:
        finite = z[torch.isfinite(z)]
        span = float(finite.max() - finite.min())
        gap = float(torch.quantile(finite - finite.min(), 0.05))
        log_scale = span > 0 and gap > 0 and span / gap > 100
    first = tuple(starts) or (_corner(probe.domain),)
    return Surface(
        name, name, formula or name, fn, probe.domain, tuple(map(_point, minima)), tuple(map(_point, first)), log_scale
    )


def _domain(domain: Sequence[Sequence[float]]) -> Domain:
    try:
        (x0, x1), (y0, y1) = domain
        return (float(x0), float(x1)), (float(y0), float(y1))
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"Invalid domain {domain!r}: give ((xmin, xmax), (ymin, ymax)).") from exc


def _point(p: Sequence[float]) -> Point:
    return float(p[0]), float(p[1])


def _corner(domain: Domain) -> Point:
    (x0, x1), (y0, y1) = domain
    return x0 + 0.8 * (x1 - x0), y0 + 0.8 * (y1 - y0)


# -- the built-in surfaces ------------------------------------------------------------------------------------


def _rosenbrock(x: Tensor, y: Tensor) -> Tensor:
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _beale(x: Tensor, y: Tensor) -> Tensor:
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _himmelblau(x: Tensor, y: Tensor) -> Tensor:
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _saddle(x: Tensor, y: Tensor) -> Tensor:
    return x**2 - y**2


def _rastrigin(x: Tensor, y: Tensor) -> Tensor:
    tau = 2 * math.pi
    return 20 + x**2 - 10 * torch.cos(tau * x) + y**2 - 10 * torch.cos(tau * y)


def _bowl(x: Tensor, y: Tensor) -> Tensor:
    return x**2 / 20 + y**2


def _ravine(x: Tensor, y: Tensor) -> Tensor:
    u, v = (x + y) / math.sqrt(2), (x - y) / math.sqrt(2)
    return 0.5 * (u**2 + 100 * v**2)


def _two_basins(x: Tensor, y: Tensor) -> Tensor:
    # Two Gaussian wells on a wide bowl (Dupont's picture): the deeper well at (-1, 0), a shallower one at (1, 0).
    return x**2 + y**2 - 2 * torch.exp(-((x - 1) ** 2 + y**2) / 0.2) - 3 * torch.exp(-((x + 1) ** 2 + y**2) / 0.2)


def _two_basin_minima() -> tuple[Point, Point]:
    """The two well bottoms, found by Newton's method from the well centres (they sit slightly inside)."""
    out = []
    for x in (-1.0, 1.0):
        t = torch.tensor(x, dtype=torch.float64)
        for _ in range(50):
            t = t.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(_two_basins(t, torch.zeros((), dtype=torch.float64)), t, create_graph=True)
            (h,) = torch.autograd.grad(g, t)
            t = t - g / h
        out.append((round(float(t.detach()), 6), 0.0))
    return out[0], out[1]


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface(
            "rosenbrock", "Rosenbrock's banana valley", "(1 - x)² + 100 (y - x²)²", _rosenbrock,
            ((-2.0, 2.0), (-1.0, 3.0)), ((1.0, 1.0),), ((-1.2, 1.0), (-2.0, 2.0)),
            about="A narrow curved valley: finding it is easy, following it to (1, 1) is slow.",
        ),
        Surface(
            "beale", "Beale's function", "(1.5 - x + xy)² + (2.25 - x + xy²)² + (2.625 - x + xy³)²", _beale,
            ((-4.5, 4.5), (-4.5, 4.5)), ((3.0, 0.5),), ((1.0, 1.5), (3.0, 4.0), (1.0, 4.0)),
            about="Flat plateaus and steep walls; strong momentum overshoots from (3, 4).",
        ),
        Surface(
            "himmelblau", "Himmelblau's function", "(x² + y - 11)² + (x + y² - 7)²", _himmelblau,
            ((-5.0, 5.0), (-5.0, 5.0)),
            ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
            ((-0.27, -0.92), (0.0, 0.0), (-4.0, 0.0)),
            about="Four equal minima: which basin an optimizer picks depends on its path.",
        ),
        Surface(
            "saddle", "A saddle point", "x² - y²", _saddle, ((-1.5, 1.5), (-1.5, 1.5)), (), ((1.0, 1e-3),),
            log_scale=False,
            about="No minimum, a saddle at (0, 0): starting near y = 0, how fast does a method leave it?",
        ),
        Surface(
            "rastrigin", "Rastrigin's function", "20 + x² - 10 cos 2πx + y² - 10 cos 2πy", _rastrigin,
            ((-5.12, 5.12), (-5.12, 5.12)), ((0.0, 0.0),), ((-2.0, 3.5),),
            about="A grid of local minima around the global one at (0, 0).",
        ),
        Surface(
            "bowl", "An ill-conditioned bowl (κ = 20)", "x²/20 + y²", _bowl, ((-10.0, 10.0), (-5.0, 5.0)),
            ((0.0, 0.0),), ((-7.0, 2.0),),
            about="Curvature 20x stronger in y than in x: a ravine that makes gradient descent zig-zag.",
        ),
        Surface(
            "ravine", "A narrow ravine (κ = 100, rotated 45°)", "½(u² + 100 v²),  u = (x + y)/√2,  v = (x − y)/√2",
            _ravine, ((-3.0, 3.0), (-3.0, 3.0)), ((0.0, 0.0),), ((-2.5, -1.5),),
            about="Gradient descent's step is capped by the steep direction (lr < 2/100), so it crawls along "
            "the flat one; momentum builds up speed along the ravine.",
        ),
        Surface(
            "two-basins", "Two basins: a shallow well and a deep one",
            "x² + y² - 2 exp(-((x-1)² + y²)/0.2) - 3 exp(-((x+1)² + y²)/0.2)", _two_basins,
            ((-2.0, 2.0), (-2.0, 2.0)), _two_basin_minima(), ((1.9, 1.6),), log_scale=False,
            about="From (1.9, 1.6) gradient descent settles in the shallow well at x ≈ 1; momentum carries "
            "through into the deep one at x ≈ -1.",
        ),
    )
}
"""The built-in surfaces by name."""


def get_surface(name: str) -> Surface:
    """The built-in surface called ``name`` (case-insensitive); an unknown name suggests close ones."""
    key = name.strip().lower().replace("_", "-")
    if key in SURFACES:
        return SURFACES[key]
    raise unknown_name("surface", name, SURFACES, key=key)
