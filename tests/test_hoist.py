"""The scalar-hoisting compiler pass: per-step scalars leave the element loops, and the numbers do not change.

Without :class:`optimlab.hoist.HoistScalars`, Inductor evaluated Adam's bias corrections (``pow``, ``sqrt``) once
per vector of elements; these tests read the generated C++ and check that the loop over the elements has no
``pow`` left, for one-element scalars (drop-in optimizer) and per-trial values (population), and that the
compiled result still equals the reference path.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch._inductor.utils import run_and_get_code

from cases import rel_error
from optimlab import fused, optim
from optimlab.population import Population, Trial

pytestmark = pytest.mark.skipif(fused._find_compiler() is None, reason="no C++ compiler: nothing to compile")

ELEMENTS = 4096 * 5  # more than hoist.SMALL_ELEMENTS per trial tensor: the element loops are "large"


def element_loop_kernels(codes: list[str], size: int) -> list[str]:
    """The C++ kernels (source strings) that loop over ``size`` elements, or over the most symbolic sizes (the flat
    paths: a length, and a population's trial count besides it; a kernel over the trials alone computes the
    per-trial values once)."""
    kernels = [k for code in codes for k in re.findall(r"r'''(.*?)'''", code, re.DOTALL)]
    symbols = [len(set(re.findall(r"\bks\d+\b", k))) for k in kernels]
    most = max(symbols, default=0)
    return [k for k, n in zip(kernels, symbols, strict=True) if f"{size}L" in k or (most and n == most)]


def compiled_code(step: object) -> list[str]:
    with torch._inductor.config.patch(force_disable_caches=True):
        _, codes = run_and_get_code(step)  # type: ignore[arg-type]
    return codes


def test_drop_in_adam_computes_bias_corrections_once_per_step(float64_default: None) -> None:
    gen = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter(torch.randn(ELEMENTS, generator=gen))
    reference = torch.nn.Parameter(p.detach().clone())
    grads = [torch.randn(ELEMENTS, generator=gen) for _ in range(4)]
    fast = optim.Adam([p], lr=0.01, fused=True)
    slow = optim.Adam([reference], lr=0.01, fused=False)

    def steps() -> None:
        for g in grads:
            p.grad, reference.grad = g.clone(), g.clone()
            fast.step()
            slow.step()

    codes = compiled_code(steps)
    assert any("optimlab.pack_small" in code for code in codes)
    loops = element_loop_kernels(codes, ELEMENTS)
    assert loops, "no kernel over the parameter's elements was generated"
    assert all("pow" not in kernel for kernel in loops)
    assert rel_error([p], [reference]) <= 1e-12


def test_plain_arithmetic_is_left_in_the_loops(float64_default: None) -> None:
    p = torch.nn.Parameter(torch.randn(ELEMENTS))
    reference = torch.nn.Parameter(p.detach().clone())
    fast = optim.SGD([p], lr=0.01, weight_decay=0.1, fused=True)
    slow = optim.SGD([reference], lr=0.01, weight_decay=0.1, fused=False)

    def steps() -> None:
        for i in range(3):
            p.grad, reference.grad = torch.full_like(p, float(i)), torch.full_like(p, float(i))
            fast.step()
            slow.step()

    codes = compiled_code(steps)
    assert element_loop_kernels(codes, ELEMENTS), "no kernel over the parameter's elements was generated"
    assert not any("optimlab.pack_small" in code for code in codes)
    assert rel_error([p], [reference]) <= 1e-12


def test_population_hoists_per_trial_values(float64_default: None) -> None:
    trials = [Trial("adam", {"lr": lr}, seed=i) for i, lr in enumerate((0.1, 0.03, 0.01))]
    gen = torch.Generator().manual_seed(1)
    start = [torch.randn(3, ELEMENTS, generator=gen), torch.randn(3, 7, generator=gen)]
    grads = [[torch.randn_like(t) for t in start] for _ in range(4)]
    runs = []
    codes: list[str] = []
    for mode in (True, False):
        params = [t.clone() for t in start]
        pop = Population(trials, params, fused=mode)

        def steps(pop: Population = pop) -> None:
            for g in grads:
                pop.step(g, losses=torch.zeros(3))

        if mode:
            codes = compiled_code(steps)
        else:
            steps()
        runs.append(params)
    loops = element_loop_kernels(codes, ELEMENTS)
    assert loops
    assert all("pow" not in kernel for kernel in loops)
    assert rel_error(runs[0], runs[1]) <= 1e-12


def test_division_by_a_per_step_value_becomes_a_multiplication(float64_default: None) -> None:
    """Adam's √v / √(1 − β₂ᵗ) divides every element by one number: the loop multiplies by its reciprocal, and only
    the division by the per-element denominator is left (one per square root, where there were two)."""
    gen = torch.Generator().manual_seed(2)
    p = torch.nn.Parameter(torch.randn(ELEMENTS, generator=gen))
    reference = torch.nn.Parameter(p.detach().clone())
    fast = optim.Adam([p], lr=0.01, fused=True)
    slow = optim.Adam([reference], lr=0.01, fused=False)

    def steps() -> None:
        for _ in range(4):
            g = torch.randn(ELEMENTS, generator=gen)
            p.grad, reference.grad = g.clone(), g.clone()
            fast.step()
            slow.step()

    loops = element_loop_kernels(compiled_code(steps), ELEMENTS)
    assert loops
    for kernel in loops:
        roots = len(re.findall(r"\bsqrt\(", kernel))
        divisions = len(re.findall(r"=\s*tmp\d+\s*/\s*tmp\d+;", kernel))
        assert roots > 0 and divisions == roots, kernel
    assert rel_error([p], [reference]) <= 1e-12
