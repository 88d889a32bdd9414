"""Surfaces: formulas at known points, minima really minimal, domains, starts, custom callables."""

from __future__ import annotations

import math

import pytest
import torch

from optimlab.compare import compare
from optimlab.explain.cards import UnknownNameError
from optimlab.problems import SURFACES, get_surface, surface_from_callable


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_every_surface_is_complete_and_its_minima_are_stationary(name: str) -> None:
    s = SURFACES[name]
    assert s.formula and s.title and s.about and s.starts
    for start in s.starts:
        assert s.contains(start)
    for m in s.minima:
        loss, grad = s.loss_and_grad(torch.tensor([m], dtype=torch.float64))
        assert grad.abs().max() < 1e-4, (name, m, grad)
        assert s.contains(m)
        # a minimum: every nearby point is higher
        ring = torch.tensor(
            [[m[0] + 1e-3 * math.cos(a), m[1] + 1e-3 * math.sin(a)] for a in torch.linspace(0, 6.28, 12)],
            dtype=torch.float64,
        )
        assert (s(ring) > loss).all()


def test_known_values() -> None:
    pt = torch.tensor
    assert SURFACES["rosenbrock"](pt([-1.2, 1.0])).item() == pytest.approx(24.2)
    assert SURFACES["beale"](pt([3.0, 0.5])).item() == pytest.approx(0.0)
    assert SURFACES["himmelblau"](pt([-0.270845, -0.923039])).item() == pytest.approx(181.617, abs=1e-3)
    assert SURFACES["rastrigin"](pt([0.0, 0.0])).item() == pytest.approx(0.0)
    assert SURFACES["bowl"](pt([-7.0, 2.0])).item() == pytest.approx(49 / 20 + 4)
    assert SURFACES["saddle"](pt([1.0, 2.0])).item() == pytest.approx(-3.0)
    two = SURFACES["two-basins"]
    deep, shallow = sorted(two.minima)
    assert two(pt(deep)).item() < two(pt(shallow)).item() < 0


def test_unknown_surface_suggests() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean: rosenbrock"):
        get_surface("rosenbrok")


def test_start_outside_domain_is_one_sentence() -> None:
    with pytest.raises(ValueError, match=r"outside the domain of bowl"):
        SURFACES["bowl"].check_start((50.0, 0.0))


def test_two_basins_momentum_escapes_the_shallow_well_that_gd_stays_in() -> None:
    s = SURFACES["two-basins"]
    deep, shallow = sorted(s.minima)
    for lr in (0.01, 0.02, 0.05):
        r = compare(["gd", "momentum"], "two-basins", lr=lr, steps=400)
        gd_end, mom_end = r.paths[0, -1], r.paths[1, -1]
        assert math.dist(gd_end, shallow) < 0.05, lr
        assert math.dist(mom_end, deep) < 0.05, lr
    # and with learning rates tuned by the same rule for both (the gallery's picture)
    r = compare(["gd", "momentum"], "two-basins", steps=150)
    assert math.dist(r.paths[0, -1], shallow) < 0.05 and math.dist(r.paths[1, -1], deep) < 0.05


def test_custom_callable_surface() -> None:
    s = surface_from_callable(lambda x, y: (x - 1) ** 2 + 10 * (y + 2) ** 2, name="mine", minima=[(1, -2)])
    r = compare(["gd"], s, lr=0.04, steps=200, starts=[(2.0, 2.0)])
    assert r.summary.loc[0, "distance_to_min"] < 1e-3
    with pytest.raises(ValueError, match="one value per point"):
        surface_from_callable(lambda x, y: torch.zeros(3))
    with pytest.raises(ValueError, match="failed on a grid"):
        surface_from_callable(lambda x, y: x.no_such_method())
