"""The population's compiled update on flat buffers (optimlab.population_flat) against its per-tensor loop.

Every preset of the registry whose rule the flat path supports runs both ways in float64 (parameters and state,
relative error <= 1e-12), with per-trial hyperparameters that differ between trials and a tensor stored in a
transposed per-trial layout; a few run in float32 (PyTorch's fused-vs-foreach tolerance). Then: groups whose
trials are not contiguous rows, a diverging trial, an lr schedule (no recompile), one compile for two model
shapes and two population sizes, and ``train(..., fused=True)`` on the MNIST-1D MLP.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch._dynamo.utils import counters

from cases import rel_error
from optimlab import flat, fused, population_flat
from optimlab.population import Population, Trial, _make_groups
from optimlab.registry import PRESETS

pytestmark = pytest.mark.skipif(fused._find_compiler() is None, reason="no C++ compiler: nothing to compile")

TOL64 = 1e-12
STEPS = 5

# Per-trial settings beside the learning rate, where the preset has such a hyperparameter.
VARIED: dict[str, list[dict[str, Any]]] = {
    "adam": [{"betas": (0.8, 0.99)}, {"betas": (0.9, 0.95), "weight_decay": 0.1}],
    "adamw": [{"weight_decay": 0.1}, {"weight_decay": 0.01, "betas": (0.85, 0.98)}],
    "momentum": [{"momentum": 0.8}, {"momentum": 0.95, "dampening": 0.1}],
    "rmsprop": [{"alpha": 0.9}, {"alpha": 0.95}],
    "nadam": [{"momentum_decay": 0.002}, {"betas": (0.8, 0.99)}],
    "lion": [{"betas": (0.95, 0.98)}, {"weight_decay": 0.1}],
}


def _flat_presets() -> list[str]:
    out = []
    for name in PRESETS:
        trial = Trial(name)
        group = _make_groups([trial, trial], torch.float64)[0]
        if flat.supports(group.rule, group.values):
            out.append(name)
    return out


FLAT_PRESETS = _flat_presets()


def _trials(name: str) -> list[Trial]:
    lr = Trial(name).rule_values.get("lr", 0.01)
    base = float(lr) if isinstance(lr, float) and lr > 0 else 0.01
    extra = VARIED.get(name, [{}, {}])
    return [Trial(name, {"lr": base}, seed=0)] + [
        Trial(name, {"lr": base * f, **e}, seed=i + 1) for i, (f, e) in enumerate(zip((0.5, 2.0), extra, strict=True))
    ]


def _start(k: int, seed: int, dtype: torch.dtype) -> list[torch.Tensor]:
    """Three stacked tensors, the first in a transposed per-trial layout (as ``training`` stores large weights)."""
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(k, 4, 6, generator=gen, dtype=dtype).transpose(1, 2),
        torch.randn(k, 5, generator=gen, dtype=dtype),
        torch.randn(k, 3, 2, generator=gen, dtype=dtype),
    ]


def _grads(params: list[torch.Tensor], target: list[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.sin(3 * p) + p - t for p, t in zip(params, target, strict=True)]


def _run(trials: list[Trial], start: list[torch.Tensor], mode: bool | None, steps: int = STEPS,
         losses: Any = None, factors: Any = None) -> tuple[Population, list[torch.Tensor]]:
    params = [t.clone(memory_format=torch.preserve_format) for t in start]
    target = [torch.full_like(t, 0.3) for t in start]
    pop = Population(trials, params, fused=mode)
    for step in range(steps):
        pop.step(_grads(params, target), None if losses is None else losses(step),
                 None if factors is None else factors(step))
    return pop, params


def _states(pop: Population) -> list[torch.Tensor]:
    return [v for group in pop._groups for state in group.states for _, v in sorted(state.items())]


@pytest.mark.slow
@pytest.mark.parametrize("name", FLAT_PRESETS)
def test_flat_population_equals_the_per_tensor_loop_in_float64(name: str, float64_default: None) -> None:
    trials = _trials(name)
    start = _start(len(trials), seed=3, dtype=torch.float64)
    fast, fast_params = _run(trials, start, True)
    ref, ref_params = _run(trials, start, False)
    assert fast._flat is not None and fast._flat.groups  # it took the flat update
    assert rel_error(fast_params, ref_params) <= TOL64
    assert rel_error(_states(fast), _states(ref)) <= TOL64
    assert rel_error(fast.evaluation_params(), ref.evaluation_params()) <= TOL64  # Schedule-Free: from the views
    assert rel_error(ref_params, start) > 1e-6  # the trials moved
    assert all(p.data_ptr() == v.data_ptr() for p, v in zip(fast_params, fast._flat.views, strict=True))


@pytest.mark.parametrize("name", ["adam", "nadam", "momentum"])
def test_flat_population_float32_within_torch_fused_tolerance(name: str) -> None:
    trials = _trials(name)
    start = _start(len(trials), seed=4, dtype=torch.float32)
    fast, fast_params = _run(trials, start, True)
    _, ref_params = _run(trials, start, False)
    assert fast._flat is not None
    for p, q in zip(fast_params, ref_params, strict=True):
        torch.testing.assert_close(p, q)  # float32 defaults: the tolerance of PyTorch's fused-vs-foreach tests


def test_interleaved_groups_gather_their_rows(float64_default: None) -> None:
    """Two rules interleaved (rows 0, 2, 4 and 1, 3): neither group is a slice; state stays the reference's."""
    trials = [Trial("adam", {"lr": 0.1}), Trial("nadam", {"lr": 0.05}),
              Trial("adam", {"lr": 0.02, "betas": (0.8, 0.99)}), Trial("nadam", {"lr": 0.01, "betas": (0.85, 0.995)}),
              Trial("adam", {"lr": 0.03, "weight_decay": 0.1})]
    start = _start(5, seed=5, dtype=torch.float64)
    fast, fast_params = _run(trials, start, True, steps=6)
    ref, ref_params = _run(trials, start, False, steps=6)
    assert fast._flat is not None and all(group.span is None for group in fast._flat.groups.values())
    assert rel_error(fast_params, ref_params) <= TOL64
    assert rel_error(_states(fast), _states(ref)) <= TOL64
    assert rel_error(fast.evaluation_params(), ref.evaluation_params()) <= TOL64


def test_diverging_trial_is_frozen_as_on_the_reference_path(float64_default: None) -> None:
    trials = [Trial("adam", {"lr": lr}, seed=i) for i, lr in enumerate((0.1, 0.05, 0.02, 0.01))]
    start = _start(4, seed=6, dtype=torch.float64)

    def losses(step: int) -> torch.Tensor:
        out = torch.zeros(4)
        if step >= 3:
            out[1] = float("nan")  # trial 1 diverges at step 4
        return out

    fast, fast_params = _run(trials, start, True, steps=7, losses=losses)
    ref, ref_params = _run(trials, start, False, steps=7, losses=losses)
    assert fast.diverged_at == ref.diverged_at == [None, 4, None, None]
    assert rel_error(fast_params, ref_params) <= TOL64
    at_freeze = _run(trials, start, True, steps=3)[1]  # trial 1 as it was when it diverged
    assert all(torch.equal(p[1], q[1]) for p, q in zip(fast_params, at_freeze, strict=True))


def test_lr_schedule_does_not_recompile(float64_default: None) -> None:
    trials = [Trial("adamw", {"lr": lr, "weight_decay": 0.01}, seed=i) for i, lr in enumerate((0.1, 0.05, 0.02))]
    start = _start(3, seed=7, dtype=torch.float64)

    def factors(step: int) -> torch.Tensor:
        return torch.tensor([1.0 - 0.1 * step, 0.5 + 0.05 * step, 1.0], dtype=torch.float64)

    _run(trials, start, True, steps=2, factors=factors)  # compiled here (or earlier in this process)
    before = int(counters["stats"]["unique_graphs"])
    fast, fast_params = _run(trials, start, True, steps=8, factors=factors)
    assert int(counters["stats"]["unique_graphs"]) == before
    _, ref_params = _run(trials, start, False, steps=8, factors=factors)
    assert rel_error(fast_params, ref_params) <= TOL64
    assert all(group.direct is not None for group in fast._flat.groups.values())  # type: ignore[union-attr]


def test_one_compile_serves_every_model_shape_and_population_size(float64_default: None) -> None:
    """Two populations of different sizes (3 and 6 trials) and different models (3 tensors, and 5 others, one of
    them a number per trial): the second compiles nothing, and calls the compiled update without Dynamo."""
    update = fused.compiled_update("radam", flat=True)  # the one the population calls
    first = [Trial("radam", {"lr": lr}, seed=i) for i, lr in enumerate((0.1, 0.05, 0.02))]
    _run(first, _start(3, seed=8, dtype=torch.float64), True, steps=3)
    graphs, variants = int(counters["stats"]["unique_graphs"]), len(update.variants)
    gen = torch.Generator().manual_seed(9)
    other = [torch.randn(6, *shape, generator=gen) for shape in ((7,), (3, 3, 2), (11, 4), (), (13,))]
    second = [Trial("radam", {"lr": 0.01 * (i + 1)}, seed=i) for i in range(6)]
    pop, params = _run(second, other, True, steps=4)
    assert int(counters["stats"]["unique_graphs"]) == graphs
    assert len(update.variants) == variants
    assert pop._flat is not None and all(group.direct is not None for group in pop._flat.groups.values())
    _, ref_params = _run(second, other, False, steps=4)
    assert rel_error(params, ref_params) <= TOL64


def test_default_decisions_are_unchanged() -> None:
    """``fused=None`` compiles nothing for a small population and ``fused=False`` never: no flat buffers either."""
    trials = [Trial("adam", {"lr": 0.01}), Trial("adam", {"lr": 0.02})]
    for mode in (None, False):
        pop, _ = _run(trials, _start(2, seed=10, dtype=torch.float32), mode, steps=3)
        assert pop._flat is None


def test_groups_the_flat_path_does_not_support_keep_the_per_tensor_update(float64_default: None) -> None:
    """ASGD and a cautious variant beside Adam: Adam takes the flat buffers, the others the per-tensor compile."""
    trials = [Trial("adam", {"lr": 0.05}), Trial("asgd", {"lr": 0.05, "t0": 0.0}),
              Trial("cautious-adamw", {"lr": 0.01}), Trial("adam", {"lr": 0.02})]
    start = _start(4, seed=11, dtype=torch.float64)
    fast, fast_params = _run(trials, start, True)
    _, ref_params = _run(trials, start, False)
    assert fast._flat is not None
    assert sorted(group.rule.name for group in fast._flat.groups.values()) == ["adam"]
    assert rel_error(fast_params, ref_params) <= TOL64


@pytest.mark.slow
def test_train_with_the_flat_update_on_mnist1d(monkeypatch: pytest.MonkeyPatch) -> None:
    from optimlab.problems.catalog import get_problem
    from optimlab.training import train

    made: list[population_flat.FlatPopulation] = []
    real = population_flat.FlatPopulation.__init__

    def counted(self: population_flat.FlatPopulation, params: Any) -> None:
        real(self, params)
        made.append(self)

    monkeypatch.setattr(population_flat.FlatPopulation, "__init__", counted)
    problem = get_problem("mnist1d-mlp")
    trials = [Trial("adam", {"lr": lr}, seed=s, batch_size=128) for s in range(2) for lr in (1e-3, 3e-3, 1e-2, 3e-2)]
    fast = train(problem, trials, 20, eval_every=10, fused=True)
    assert len(made) == 1
    ref = train(problem, trials, 20, eval_every=10, fused=False)
    assert fast.diverged_at == ref.diverged_at
    torch.testing.assert_close(fast.train_loss, ref.train_loss, rtol=1e-4, atol=1e-5)  # float32, 20 steps apart
    torch.testing.assert_close(fast.evals["valid"]["loss"], ref.evals["valid"]["loss"], rtol=1e-4, atol=1e-5)
