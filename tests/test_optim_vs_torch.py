"""optimlab's drop-in classes against torch.optim: trajectories, signatures, state_dicts, schedulers,
sparse and complex parameters. Everything in float64."""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as sched

from cases import (
    CASES,
    SPARSE_ONLY_CASES,
    TORCH_CASES,
    TORCH_CLASS_NAMES,
    Case,
    clone_params,
    mlp_data,
    mlp_loss,
    mlp_params,
    param_groups,
    rel_error,
    train,
)
from optimlab import optim

STEPS = 200
TOL = 1e-10


@pytest.mark.parametrize("case", [c for c in CASES if c.reference_impl() is not None], ids=lambda c: c.id)
def test_matches_reference_on_mlp(
    case: Case, float64_default: None, record_error: Callable[[str, float], None]
) -> None:
    """Hundreds of full-batch steps with two parameter groups: optimlab and the reference (torch.optim where
    it has the algorithm, else the reference library named in ``cases.REFERENCES``) agree to 1e-10."""
    start = mlp_params()
    ours, theirs = clone_params(start), clone_params(start)
    opt_ours, opt_theirs = case.make(param_groups(case, ours)), case.make_reference(param_groups(case, theirs))
    losses_ours = train(opt_ours, ours, STEPS)
    losses_theirs = train(opt_theirs, theirs, STEPS)
    err = rel_error(ours, theirs)
    record_error("optimlab vs reference, MLP params (relative)", err)
    assert err <= TOL, f"{case.id}: relative parameter error {err:.3e} after {STEPS} steps"
    assert rel_error([torch.tensor(losses_ours)], [torch.tensor(losses_theirs)]) <= TOL
    # The run must actually move the parameters (a test that cannot fail is no test).
    assert rel_error(ours, start) > 1e-3
    evaluation = case.reference_impl().evaluation  # type: ignore[union-attr]
    if evaluation is not None:  # the point to evaluate differs from the training point: compare it too
        training_point = clone_params(ours)
        getattr(opt_ours, evaluation)()
        getattr(opt_theirs, evaluation)()
        err = rel_error(ours, theirs)
        record_error("optimlab vs reference, MLP evaluation point (relative)", err)
        assert err <= TOL, f"{case.id}: relative error {err:.3e} at the evaluation point"
        assert rel_error(ours, training_point) > 1e-6


# ----------------------------------------------------------------------------------------- constructor contract


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_param_groups_and_defaults_equal_torch(case: Case) -> None:
    params = mlp_params()
    ours = case.make(param_groups(case, params))
    theirs = case.make_torch(param_groups(case, clone_params(params)))
    assert ours.defaults == theirs.defaults
    assert len(ours.param_groups) == len(theirs.param_groups)
    for g_ours, g_theirs in zip(ours.param_groups, theirs.param_groups, strict=True):
        assert set(g_ours) == set(g_theirs)
        assert {k: v for k, v in g_ours.items() if k != "params"} == {
            k: v for k, v in g_theirs.items() if k != "params"
        }


def _continue(opt: torch.optim.Optimizer, params: list[torch.Tensor], steps: int) -> None:
    train(opt, params, steps)


# torch-adopt keeps torch's state layout (step, exp_avg, exp_avg_sq) and counts steps the same way; its groups lack
# optimlab's ``clip`` key, which loading fills from the constructor's ``clip_lambda``.
STATE_COMPATIBLE_CASES = (*TORCH_CASES, *(c for c in CASES if c.cls == "ADOPT"))


@pytest.mark.parametrize("case", STATE_COMPATIBLE_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("direction", ["reference->optimlab", "optimlab->reference"])
def test_state_dict_crosses_over(case: Case, direction: str, float64_default: None) -> None:
    """Train with one library, load its state_dict into the other, and continue exactly like the first."""
    first_is_reference = direction == "reference->optimlab"
    make_first = case.make_reference if first_is_reference else case.make
    make_second = case.make if first_is_reference else case.make_reference
    params = mlp_params()
    first = make_first(param_groups(case, params))
    train(first, params, 20)
    saved = copy.deepcopy(first.state_dict())  # state_dict() shares its tensors with the optimizer

    moved = clone_params(params)
    second = make_second(param_groups(case, moved))
    second.load_state_dict(saved)
    train(first, params, 20)
    train(second, moved, 20)
    assert rel_error(moved, params) <= TOL
    assert set(second.state_dict()["state"]) == set(first.state_dict()["state"])


# ----------------------------------------------------------------------------------------------- LR schedulers

SchedulerFactory = Callable[[torch.optim.Optimizer, Case], Any]


def _cyclic(opt: torch.optim.Optimizer, case: Case) -> Any:
    lr = opt.param_groups[0]["lr"]
    return sched.CyclicLR(
        opt, base_lr=0.2 * lr, max_lr=lr, step_size_up=4, cycle_momentum=case.has_momentum,
        base_momentum=0.8, max_momentum=0.9,
    )


def _one_cycle(opt: torch.optim.Optimizer, case: Case) -> Any:
    return sched.OneCycleLR(
        opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=SCHED_STEPS, cycle_momentum=case.has_momentum
    )


SCHEDULERS: dict[str, SchedulerFactory] = {
    "StepLR": lambda o, c: sched.StepLR(o, step_size=5, gamma=0.5),
    "MultiStepLR": lambda o, c: sched.MultiStepLR(o, milestones=[3, 9, 14], gamma=0.3),
    "ExponentialLR": lambda o, c: sched.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o, c: sched.CosineAnnealingLR(o, T_max=10, eta_min=1e-5),
    "CosineAnnealingWarmRestarts": lambda o, c: sched.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2),
    "CyclicLR": _cyclic,
    "OneCycleLR": _one_cycle,
    "LambdaLR": lambda o, c: sched.LambdaLR(o, lr_lambda=[lambda e: 1 / (1 + e), lambda e: 0.95**e]),
    "MultiplicativeLR": lambda o, c: sched.MultiplicativeLR(o, lr_lambda=lambda e: 0.93),
    "LinearLR": lambda o, c: sched.LinearLR(o, start_factor=0.2, total_iters=8),
    "ConstantLR": lambda o, c: sched.ConstantLR(o, factor=0.3, total_iters=6),
    "PolynomialLR": lambda o, c: sched.PolynomialLR(o, total_iters=15, power=2.0),
    "SequentialLR": lambda o, c: sched.SequentialLR(
        o, [sched.LinearLR(o, start_factor=0.1, total_iters=5), sched.ExponentialLR(o, gamma=0.9)], milestones=[5]
    ),
    "ChainedScheduler": lambda o, c: sched.ChainedScheduler(
        [sched.ConstantLR(o, factor=0.5, total_iters=4), sched.ExponentialLR(o, gamma=0.95)]
    ),
    "ReduceLROnPlateau": lambda o, c: sched.ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.5),
}
SCHED_STEPS = 16


def _scheduled_run(make: Callable[..., torch.optim.Optimizer], case: Case, name: str) -> tuple[list, list]:
    params = mlp_params()
    opt = make(param_groups(case, params))
    scheduler = SCHEDULERS[name](opt, case)
    x, y = mlp_data()
    lrs = []
    for _ in range(SCHED_STEPS):
        opt.zero_grad()
        loss = mlp_loss(params, x, y)
        loss.backward()
        opt.step()
        if isinstance(scheduler, sched.ReduceLROnPlateau):
            scheduler.step(loss.item())
        else:
            scheduler.step()
        lrs.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups])
    return params, lrs


def _first_case_with_reference_per_class() -> list[Case]:
    """The first row of every class that is checked against a reference (Prodigy's first row is not)."""
    seen: dict[str, Case] = {}
    for case in CASES:
        if case.reference_impl() is not None:
            seen.setdefault(case.cls, case)
    return list(seen.values())


@pytest.mark.parametrize("case", _first_case_with_reference_per_class(), ids=lambda c: c.cls)
@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_scheduler_drives_optimlab_like_reference(name: str, case: Case, float64_default: None) -> None:
    ref = case.reference_impl()
    if name == "LambdaLR" and ref is not None and ref.equal_lrs:
        pytest.skip(f"{ref.module} refuses groups with different learning rates, which this LambdaLR gives them")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Detected call of `lr_scheduler.step()` before `optimizer.step()`"
        # torch-adopt 0.1.0 calls two functions torch 2.13 deprecates on every step (is_compiling and
        # _cuda_graph_capture_health_check): warnings about the reference's code, not about the schedule.
        for message in (r".*torch\._utils\.is_compiling", r"Use _accelerator_graph_capture_health_check"):
            warnings.filterwarnings("ignore", message=message, module="adopt")
        ours, lrs_ours = _scheduled_run(case.make, case, name)
        theirs, lrs_theirs = _scheduled_run(case.make_reference, case, name)
    assert lrs_ours == lrs_theirs
    assert len({str(row) for row in lrs_ours}) > 1, "the schedule never changed the learning rate"
    assert rel_error(ours, theirs) <= TOL


# ---------------------------------------------------------------------------------------------- sparse gradients


def _embedding_run(make: Callable[..., torch.optim.Optimizer], steps: int = 15) -> torch.Tensor:
    torch.manual_seed(0)
    emb = nn.Embedding(20, 4, sparse=True, dtype=torch.float64)
    opt = make(emb.parameters())
    gen = torch.Generator().manual_seed(3)
    for _ in range(steps):
        idx = torch.randint(0, 20, (6,), generator=gen)  # repeated indices included
        opt.zero_grad()
        loss = (emb(idx) ** 2).sum() + emb(idx[:2]).sum()
        loss.backward()
        assert emb.weight.grad is not None and emb.weight.grad.is_sparse
        opt.step()
    return emb.weight.detach()


SPARSE_OK = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.2}),
    ("Adagrad", {"lr": 0.3}),
    ("Adagrad", {"lr": 0.3, "lr_decay": 0.1, "initial_accumulator_value": 0.2}),
]


@pytest.mark.parametrize(("name", "kwargs"), SPARSE_OK)
def test_sparse_gradients_match_torch(name: str, kwargs: dict[str, Any]) -> None:
    ours = _embedding_run(lambda p: getattr(optim, name)(p, **kwargs))
    theirs = _embedding_run(lambda p: getattr(torch.optim, name)(p, **kwargs))
    start = _embedding_run(lambda p: torch.optim.SGD(p, lr=0.0))
    assert rel_error([ours], [theirs]) <= TOL
    assert not torch.equal(ours, start)


SPARSE_CAPABLE = {name for name, _ in SPARSE_OK} | {case.cls for case in SPARSE_ONLY_CASES}


@pytest.mark.parametrize("name", [n for n in TORCH_CLASS_NAMES if n not in SPARSE_CAPABLE] + ["AMSGrad"])
def test_sparse_gradients_rejected_clearly(name: str) -> None:
    with pytest.raises(RuntimeError, match=f"{name} does not support sparse gradients"):
        _embedding_run(lambda p: getattr(optim, name)(p), steps=1)


# SparseAdam (lazy Adam): sparse gradients only. Two embedding tables in two parameter groups (the second at
# 0.4 times the lr), random look-ups with repeated indices, rows absent from most steps (their moments must not
# decay), and every fifth step no look-up in the second table (an empty sparse gradient: the step still counts).


def _tables() -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [nn.Embedding(20, 4, sparse=True).weight, nn.Embedding(7, 3, sparse=True).weight]


def _table_groups(case: Case, weights: list[torch.Tensor]) -> list[dict[str, Any]]:
    lr = case.kwargs.get("lr", 1e-3)
    return [{"params": [weights[0]]}, {"params": [weights[1]], "lr": 0.4 * lr}]


def _table_steps(opt: torch.optim.Optimizer, weights: list[torch.Tensor], steps: int, seed: int = 3) -> None:
    gen = torch.Generator().manual_seed(seed)
    w1, w2 = weights
    for t in range(steps):
        i1 = torch.randint(0, 20, (6,), generator=gen)
        i2 = torch.randint(0, 7, (0 if t % 5 == 4 else 3,), generator=gen)
        opt.zero_grad()
        e1, e2 = nn.functional.embedding(i1, w1, sparse=True), nn.functional.embedding(i2, w2, sparse=True)
        loss = ((e1.sum(1) - 1.0) ** 2).sum() + e1[:2].sum() + (torch.sin(e2) ** 2).sum() + e2.sum()
        loss.backward()
        assert all(w.grad is not None and w.grad.is_sparse for w in weights)
        opt.step()


@pytest.mark.parametrize("case", SPARSE_ONLY_CASES, ids=lambda c: c.id)
def test_sparse_only_class_matches_torch_on_embeddings(
    case: Case, float64_default: None, record_error: Callable[[str, float], None]
) -> None:
    """SparseAdam's main equivalence test: 200 float64 steps against torch.optim.SparseAdam to 1e-10."""
    start = _tables()
    ours, theirs = clone_params(start), clone_params(start)
    opt_ours, opt_theirs = case.make(_table_groups(case, ours)), case.make_torch(_table_groups(case, theirs))
    assert opt_ours.defaults == opt_theirs.defaults
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt_ours.param_groups] == [
        {k: v for k, v in g.items() if k != "params"} for g in opt_theirs.param_groups
    ]
    _table_steps(opt_ours, ours, STEPS)
    _table_steps(opt_theirs, theirs, STEPS)
    err = rel_error(ours, theirs)
    record_error("optimlab vs torch, embedding tables (relative)", err)
    assert err <= TOL, f"{case.id}: relative parameter error {err:.3e} after {STEPS} steps"
    assert rel_error(ours, start) > 1e-3


@pytest.mark.parametrize("case", SPARSE_ONLY_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("direction", ["torch->optimlab", "optimlab->torch"])
def test_sparse_only_state_dict_crosses_over(case: Case, direction: str, float64_default: None) -> None:
    first_is_torch = direction == "torch->optimlab"
    make_first, make_second = (case.make_torch, case.make) if first_is_torch else (case.make, case.make_torch)
    weights = _tables()
    first = make_first(_table_groups(case, weights))
    _table_steps(first, weights, 20)
    saved = copy.deepcopy(first.state_dict())
    moved = clone_params(weights)
    second = make_second(_table_groups(case, moved))
    second.load_state_dict(saved)
    _table_steps(first, weights, 20, seed=4)
    _table_steps(second, moved, 20, seed=4)
    assert rel_error(moved, weights) <= TOL
    assert set(second.state_dict()["state"]) == set(first.state_dict()["state"])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("case", SPARSE_ONLY_CASES, ids=lambda c: c.id)
def test_sparse_only_state_dict_round_trip_resumes_bit_identically(case: Case, dtype: torch.dtype) -> None:
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        straight, resumed = _tables(), _tables()
        opt = case.make(_table_groups(case, straight))
        _table_steps(opt, straight, 8)
        _table_steps(opt, straight, 7, seed=5)
        opt = case.make(_table_groups(case, resumed))
        _table_steps(opt, resumed, 8)
        buffer = io.BytesIO()
        torch.save(opt.state_dict(), buffer)
        buffer.seek(0)
        fresh = clone_params(resumed)
        opt = case.make(_table_groups(case, fresh))
        opt.load_state_dict(torch.load(buffer, weights_only=True))
        _table_steps(opt, fresh, 7, seed=5)
        assert fresh[0].dtype == dtype
        for a, b in zip(fresh, straight, strict=True):
            assert torch.equal(a, b)
    finally:
        torch.set_default_dtype(old)


def test_sparse_adam_refuses_dense_gradients_before_any_update() -> None:
    emb, dense = nn.Embedding(5, 2, sparse=True), torch.zeros(3, requires_grad=True)
    opt = optim.SparseAdam([emb.weight, dense])
    before = emb.weight.detach().clone()
    emb(torch.tensor([1, 2])).sum().backward()
    dense.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        opt.step()
    assert torch.equal(emb.weight.detach(), before) and not opt.state


@pytest.mark.parametrize("bad", ["sparse", "complex"])
def test_sparse_adam_refuses_sparse_and_complex_parameters(bad: str) -> None:
    p = torch.zeros(3, 2).to_sparse() if bad == "sparse" else torch.zeros(3, dtype=torch.complex64)
    with pytest.raises(ValueError, match=f"{bad.capitalize()} params at indices \\[\\[0, 0\\]\\]"):
        optim.SparseAdam([p])
    with pytest.raises(ValueError, match=f"{bad.capitalize()} params"):
        torch.optim.SparseAdam([p])


def test_adagrad_sparse_with_weight_decay_raises() -> None:
    with pytest.raises(RuntimeError, match="weight_decay"):
        _embedding_run(lambda p: optim.Adagrad(p, weight_decay=0.1), steps=1)


# --------------------------------------------------------------------------------------------- complex params

COMPLEX_CASES = [
    Case("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    Case("Adam", {"lr": 1e-2, "amsgrad": True}),
    Case("AdamW", {"lr": 1e-2}),
    Case("RMSprop", {"lr": 1e-2, "centered": True, "momentum": 0.5}),
    Case("Adagrad", {"lr": 0.1}),
    Case("ASGD", {"lr": 0.02, "t0": 10, "lambd": 0.1}),
    Case("Rprop", {"lr": 1e-2}),
    Case("ADOPT", {"lr": 1e-2, "weight_decay": 0.1}),
]


def _complex_run(make: Callable[..., torch.optim.Optimizer]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(5)
    a = torch.randn(6, 4, dtype=torch.complex128, generator=gen)
    b = torch.randn(6, dtype=torch.complex128, generator=gen)
    z = torch.randn(4, dtype=torch.complex128, generator=gen).requires_grad_()
    opt = make([z])
    for _ in range(50):
        opt.zero_grad()
        r = a @ z - b
        (r.abs() ** 2).sum().backward()
        opt.step()
    return z.detach()


@pytest.mark.parametrize("case", COMPLEX_CASES, ids=lambda c: c.id)
def test_complex_parameters_match_torch(case: Case) -> None:
    ours, theirs = _complex_run(case.make), _complex_run(case.make_reference)
    assert rel_error([torch.view_as_real(ours)], [torch.view_as_real(theirs)]) <= TOL
