"""SOAP beyond the shared suites: the population's batched linear algebra (both sides, N-D tensors, per-trial
refresh periods) against single runs, trial isolation, the QR precision option, and its constructor limits."""

from __future__ import annotations

import pytest
import torch

from cases import rel_error
from optimlab import fused, optim
from optimlab.rules import RULES, TRIAL_DIMS, Rule

K = 3
SHAPES = [(3, 3), (2, 3, 3), (4,)]  # square and 3-D: every statistic of one gradient has full rank (see below)


def _grad(p: torch.Tensor) -> torch.Tensor:
    return torch.sin(3 * p) + 0.1 * p - 0.2


def _hypers(k: int) -> dict[str, float | bool]:
    # ε = 1e-4: step 2 sees the gradient of step 1 again (step 1 does not move), so the bases diagonalize it and
    # the off-diagonal entries of G' = Q_Lᵀ·G·Q_R are rounding noise (~1e-16·|G|) in M' and √V alike; the step
    # there is ≈ lr·noise/ε. Two float64 computations that round differently (batched against single products)
    # then differ by ~lr·1e-16/ε: 3e-12 with ε = 1e-6, 3e-14 with 1e-4.
    return {
        **RULES["soap"].defaults(), "lr": 0.01 * (k + 1), "beta1": 0.9 - 0.1 * k, "beta2": 0.95 + 0.01 * k,
        "shampoo_beta": 0.8 + 0.05 * k, "precondition_frequency": float(k + 1), "weight_decay": 0.01 * k,
        "eps": 1e-4,
    }


def _population_and_singles(steps: int, poison: int | None = None) -> tuple[list[torch.Tensor], list[list]]:
    """K trials stacked (one rule call per tensor) and the same K trials run alone; trial ``poison`` gets NaN
    gradients from step 3 on in the stacked run."""
    rule = RULES["soap"]
    hps = [_hypers(k) for k in range(K)]
    stacked_hp: dict = {
        h.name: hps[0][h.name] if h.structural else torch.tensor([hp[h.name] for hp in hps]) for h in rule.hypers
    }
    stacked_hp[TRIAL_DIMS] = 1
    gen = torch.Generator().manual_seed(0)
    starts = [torch.randn(K, *shape, generator=gen) for shape in SHAPES]
    pop = [s.clone() for s in starts]
    hp = [Rule.broadcast(stacked_hp, p) for p in pop]
    states = [rule.init_state(p, h) for p, h in zip(pop, hp, strict=True)]
    singles = [[s[k].clone() for s in starts] for k in range(K)]
    single_states = [[rule.init_state(p, hps[k]) for p in singles[k]] for k in range(K)]
    for t in range(1, steps + 1):
        for p, h, state in zip(pop, hp, states, strict=True):
            g = _grad(p)
            if poison is not None and t >= 3:
                g[poison] = float("nan")
            rule.update(p, g, state, h, t)
        for k in range(K):
            for p, state in zip(singles[k], single_states[k], strict=True):
                rule.update(p, _grad(p), state, hps[k], t)
    return pop, singles


def test_population_rotates_every_side_per_trial(float64_default: None, record_error: object) -> None:
    """[K, ...] tensors with per-trial hyperparameters and refresh periods equal K single runs (1e-12): batched
    statistics, eigh, QR and permutations, 3-D tensors included. (A non-square matrix's larger side has a
    rank-deficient first statistic, whose null direction turns rounding into noise/ε: see test_population_rules.)"""
    pop, singles = _population_and_singles(steps=20)
    for k in range(K):
        err = rel_error([p[k] for p in pop], singles[k])
        assert err <= 1e-12, f"trial {k}: {err:.3e}"
        assert rel_error(singles[k], [s[k] for s in _population_and_singles(0)[0]]) > 1e-3  # it moved


def test_a_diverged_trial_leaves_the_others_bit_identical(float64_default: None) -> None:
    clean, _ = _population_and_singles(steps=12)
    poisoned, _ = _population_and_singles(steps=12, poison=1)
    for a, b in zip(clean, poisoned, strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])
        assert not torch.isfinite(b[1]).all()


@pytest.mark.parametrize("float32_qr", [False, True])
def test_refreshed_bases_are_orthogonal_to_the_parameter_precision(float32_qr: bool, float64_default: None) -> None:
    """The default QR runs in float64 for float64 parameters: Qᵀ·Q = I to rounding; pytorch_optimizer's float32
    QR (``float32_qr=True``) leaves errors of float32 size."""
    gen = torch.Generator().manual_seed(1)
    p = torch.nn.Parameter(torch.randn(6, 6, generator=gen))
    opt = optim.SOAP([p], lr=0.01, precondition_frequency=2, float32_qr=float32_qr)
    for _ in range(9):
        p.grad = _grad(p.detach()) + 0.1 * torch.randn(6, 6, generator=gen)
        opt.step()
    q = opt.state[p]["Q0"]
    error = (q.mT @ q - torch.eye(6)).abs().max().item()
    assert (error > 1e-9) if float32_qr else (error < 1e-13), error


def test_first_step_builds_the_bases_only() -> None:
    p = torch.nn.Parameter(torch.randn(4, 3))
    start = p.detach().clone()
    opt = optim.SOAP([p], lr=0.1)
    p.grad = torch.randn(4, 3)
    opt.step()
    assert torch.equal(p.detach(), start)
    assert torch.allclose(opt.state[p]["Q0"].mT @ opt.state[p]["Q0"], torch.eye(4), atol=1e-5)
    opt.step()
    assert not torch.equal(p.detach(), start)


def test_nd_tensor_matches_pytorch_optimizer(float64_default: None) -> None:
    """A 3-D tensor (one rotation per dimension) and a scalar, with one side above max_precondition_dim."""
    import pytorch_optimizer

    gen = torch.Generator().manual_seed(2)
    start = [torch.randn(2, 3, 7, generator=gen), torch.randn((), generator=gen)]
    ours = [torch.nn.Parameter(s.clone()) for s in start]
    theirs = [torch.nn.Parameter(s.clone()) for s in start]
    kwargs = {"lr": 0.02, "precondition_frequency": 3, "max_precondition_dim": 5}
    a = optim.SOAP(ours, float32_qr=True, **kwargs)
    b = pytorch_optimizer.SOAP(theirs, **kwargs)
    for _ in range(30):
        for params, opt in ((ours, a), (theirs, b)):
            for p in params:
                p.grad = _grad(p.detach())
            opt.step()
    assert rel_error(ours, theirs) <= 1e-12
    assert rel_error(ours, start) > 1e-3
    assert set(a.state[ours[0]]) == {"step", "exp_avg", "exp_avg_sq", "GG0", "Q0", "GG1", "Q1"}


def test_constructor_limits() -> None:
    params = [torch.nn.Parameter(torch.zeros(2, 2))]
    with pytest.raises(ValueError, match="merge_dims"):
        optim.SOAP(params, merge_dims=True)
    with pytest.raises(ValueError, match="data_format"):
        optim.SOAP(params, data_format="nchw")
    with pytest.raises(ValueError, match="precondition_frequency"):
        optim.SOAP(params, precondition_frequency=2.5)
    hp = {**RULES["soap"].defaults(), "max_precondition_dim": torch.tensor([[[4.0]], [[8.0]]]), TRIAL_DIMS: 1}
    with pytest.raises(ValueError, match="max_precondition_dim"):
        RULES["soap"].init_state(torch.zeros(2, 3, 3), hp)


@pytest.mark.skipif(fused._find_compiler() is None, reason="no C++ compiler: nothing to compile")
def test_compiled_path_with_a_tensor_that_starts_late(float64_default: None) -> None:
    """On the compiled path the step count is a tensor: the first-step basis (eigh) and the refresh (QR) run
    through torch.cond. A tensor whose gradient first appears at step 3 takes its first step there."""
    gen = torch.Generator().manual_seed(3)
    start = [torch.randn(3, 3, generator=gen), torch.randn(4, 4, generator=gen)]  # well-conditioned: see _hypers
    runs = []
    for mode in (True, False):
        params = [torch.nn.Parameter(s.clone()) for s in start]
        opt = optim.SOAP([{"params": params, "fused": mode}], lr=0.05, precondition_frequency=2, eps=1e-4)
        for step in range(7):
            params[0].grad = _grad(params[0].detach())
            params[1].grad = _grad(params[1].detach()) if step >= 2 else None
            opt.step()
        runs.append(params)
    assert rel_error(runs[0], runs[1]) <= 1e-12
    assert rel_error(runs[0], start) > 1e-3
