"""Schedule-Free's evaluation point: the drop-in classes' ``train()``/``eval()`` switch, and the engine evaluating
each trial where its rule says (``Rule.evaluation_point``). The trajectories themselves are checked against the
``schedulefree`` package and the paper in the registry-driven suites (tests/cases.py, test_rules_vs_paper.py)."""

from __future__ import annotations

import io

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cases import clone_params, mlp_data, mlp_params, rel_error, train
from optimlab import optim
from optimlab.population import Population, Trial
from optimlab.rules import RULES, ScheduleFreeRule
from optimlab.schedules import Schedule
from optimlab.training import BatchStream, batch_size_for, train_alone
from optimlab.training import train as train_population
from test_training import toy_problem

CLASSES = [
    (optim.AdamWScheduleFree, {"lr": 1e-2, "warmup_steps": 5, "weight_decay": 0.01}),
    (optim.SGDScheduleFree, {"lr": 0.5, "warmup_steps": 5}),
]
IDS = [cls.__name__ for cls, _ in CLASSES]
seeds = st.integers(0, 2**31 - 1)


@pytest.mark.parametrize(("cls", "kwargs"), CLASSES, ids=IDS)
def test_step_in_eval_mode_raises_before_the_closure(cls: type, kwargs: dict, float64_default: None) -> None:
    params = mlp_params()
    opt = cls(params, **kwargs)
    train(opt, params, 3)
    opt.eval()
    calls = []
    with pytest.raises(RuntimeError, match=r"eval mode.*optimizer\.train\(\)"):
        opt.step(lambda: calls.append(1))
    assert calls == []
    opt.train()
    train(opt, params, 1)


@pytest.mark.parametrize(("cls", "kwargs"), CLASSES, ids=IDS)
def test_eval_moves_to_x_and_train_back_to_y(cls: type, kwargs: dict, float64_default: None) -> None:
    params = mlp_params()
    opt = cls(params, **kwargs)
    opt.eval()  # before any step x = y: nothing moves
    opt.train()
    assert rel_error(params, mlp_params()) == 0.0
    train(opt, params, 20)
    y = clone_params(params)
    hook = [opt.rule.evaluation_point(p.detach(), opt.state[p], {}) for p in params]  # eval() uses this hook
    opt.eval()
    opt.eval()  # a second eval() changes nothing
    x = clone_params(params)
    assert rel_error(x, y) > 1e-4
    assert all(not g["train_mode"] for g in opt.param_groups)
    opt.train()
    assert rel_error(params, y) <= 1e-15  # back to y, up to rounding (as the package: y is recomputed)
    for point, xp in zip(hook, x, strict=True):
        assert torch.equal(point, xp.detach())


@pytest.mark.parametrize(("cls", "kwargs"), CLASSES, ids=IDS)
def test_state_dict_keeps_the_mode_and_resumes_bit_identically(cls: type, kwargs: dict) -> None:
    """Saved in eval mode (the package's advice for checkpoints), loaded into a fresh optimizer: still in eval
    mode, and after train() the run continues exactly as the one that was never saved."""
    start = mlp_params(dtype=torch.float32)
    data = mlp_data(dtype=torch.float32)
    straight = clone_params(start)
    opt = cls(straight, **kwargs)
    train(opt, straight, 10, data)
    opt.eval()
    opt.train()
    train(opt, straight, 10, data)

    resumed = clone_params(start)
    opt = cls(resumed, **kwargs)
    train(opt, resumed, 10, data)
    opt.eval()
    buffer = io.BytesIO()
    torch.save({"params": [p.detach() for p in resumed], "optim": opt.state_dict()}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    fresh = [p.clone().requires_grad_() for p in loaded["params"]]
    opt = cls(fresh, **kwargs)
    opt.load_state_dict(loaded["optim"])
    assert all(not g["train_mode"] for g in opt.param_groups)
    with pytest.raises(RuntimeError):
        opt.step()
    opt.train()
    train(opt, fresh, 10, data)
    for a, b in zip(fresh, straight, strict=True):
        assert torch.equal(a, b)


def test_evaluation_params_are_the_parameters_themselves_without_schedule_free() -> None:
    p = torch.zeros(2, 3)
    pop = Population([Trial("adam", {"lr": 0.1}), Trial("momentum", {"lr": 0.1})], [p])
    pop.step([torch.ones(2, 3)])
    (point,) = pop.evaluation_params()
    assert point is p


# -------------------------------------------------------------------------------- the engine's evaluation point


def _train_alone(problem, trial: Trial, steps: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """``trial`` trained alone with its drop-in class on the population's batches (same seed, same order)."""
    module = problem.module_for(trial.seed)
    opt = trial.preset.make(module.parameters(), **trial.overrides)
    stream = BatchStream(len(problem.data.train), batch_size_for(trial, problem), trial.seed)
    data = problem.data.train
    for _ in range(steps):
        index = stream.next()
        opt.zero_grad()
        problem.loss_fn(module(data.inputs[index]), data.targets[index]).backward()
        opt.step()
    return module, opt


def _alone(problem, trial: Trial, steps: int) -> tuple[float, float]:
    """Validation loss of ``trial`` trained alone with its drop-in class: at y (training) and after ``eval()``."""
    module, opt = _train_alone(problem, trial, steps)

    def valid_loss() -> float:
        params = {name: p.detach().unsqueeze(0) for name, p in module.named_parameters()}
        return problem.evaluate(params, "valid")["loss"].item()

    at_y = valid_loss()
    if hasattr(opt, "eval"):
        opt.eval()
    return at_y, valid_loss()


@pytest.mark.parametrize("fused", [False, True], ids=["eager", "fused"])
def test_population_evaluates_schedule_free_trials_at_x(fused: bool) -> None:
    """A Schedule-Free trial's validation loss in the population is the drop-in class's after ``eval()`` (x), and
    measurably not the loss at y; an Adam trial in the same population is evaluated at its parameters."""
    steps = 30
    problem = toy_problem(steps)
    trials = [
        Trial("schedulefree-adamw", {"lr": 0.05, "warmup_steps": 5}, seed=0),
        Trial("adam", {"lr": 0.01}, seed=1),
        Trial("schedulefree-sgd", {"lr": 1.0, "warmup_steps": 5}, seed=2),
        # A schedule (the population's lr factor; LambdaLR in train_alone) changes lr, as schedulers do.
        Trial("schedulefree-adamw", {"lr": 0.05}, seed=3, schedule=Schedule("warmup-cosine", warmup=5)),
    ]
    result = train_population(problem, trials, eval_splits=("valid",), fused=fused)
    reported = result.evals["valid"]["loss"][:, -1]
    for k in (0, 2):
        at_y, at_x = _alone(problem, trials[k], steps)
        assert abs(at_x - at_y) > 1e-3 * abs(at_x), "the test needs x and y to differ measurably"
        assert reported[k].item() == pytest.approx(at_x, rel=1e-5)
        assert reported[k].item() != pytest.approx(at_y, rel=1e-4)
    adam_y, adam_x = _alone(problem, trials[1], steps)
    assert adam_x == adam_y
    assert reported[1].item() == pytest.approx(adam_y, rel=1e-5)
    # Training continues at y: with evaluations every 10 steps the training losses still equal the drop-in
    # class's, which never leaves y.
    result = train_population(problem, trials, eval_every=10, eval_splits=("valid",), fused=fused)
    for k, trial in enumerate(trials):
        torch.testing.assert_close(result.train_loss[k], train_alone(problem, trial), rtol=2e-5, atol=2e-6)


def test_population_evaluates_asgd_trials_at_the_average() -> None:
    """ASGD's evaluation point is its averaged iterate: with averaging from step 5 on, the population reports the
    validation loss at the drop-in class's ``state["ax"]``, which differs from the loss at θ."""
    steps = 30
    problem = toy_problem(steps)
    trial = Trial("asgd", {"lr": 0.5, "t0": 5}, seed=0)
    reported = train_population(problem, [trial], eval_splits=("valid",)).evals["valid"]["loss"][0, -1].item()
    module, opt = _train_alone(problem, trial, steps)
    names = [name for name, _ in module.named_parameters()]
    at_theta = problem.evaluate({n: p.detach().unsqueeze(0) for n, p in module.named_parameters()}, "valid")
    at_average = problem.evaluate(
        {n: opt.state[p]["ax"].unsqueeze(0) for n, p in zip(names, module.parameters(), strict=True)}, "valid"
    )
    assert abs(at_average["loss"].item() - at_theta["loss"].item()) > 1e-3 * abs(at_theta["loss"].item())
    assert reported == pytest.approx(at_average["loss"].item(), rel=1e-5)


def test_warmup_steps_must_be_whole() -> None:
    with pytest.raises(ValueError, match=r"warmup_steps=2\.5 .*whole number"):
        optim.AdamWScheduleFree(mlp_params(), warmup_steps=2.5)
    optim.SGDScheduleFree(mlp_params(), warmup_steps=3.0)


# ------------------------------------------------------------------------------------------------- properties


@given(seed=seeds, steps=st.integers(1, 12), betas=st.lists(st.floats(0.05, 0.99), min_size=12, max_size=12),
       lrs=st.lists(st.floats(0.0, 0.5), min_size=12, max_size=12))
def test_stored_form_is_the_three_sequence_box_even_when_beta_and_lr_change(
    seed: int, steps: int, betas: list[float], lrs: list[float]
) -> None:
    """Keeping only y and z (x recovered with the β y was made with) is the box's z, x, y recursion, for any
    sequence of β and γ (a scheduler may change both between steps; γ = 0 steps give c = 0 until one is > 0)."""
    rule = RULES["schedulefree_sgd"]
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    state = rule.init_state(y, {"momentum": betas[0]})
    z, x, weight_sum, lr_max = y.clone(), y.clone(), 0.0, 0.0
    for t in range(1, steps + 1):
        hp = {"lr": lrs[t - 1], "momentum": betas[t - 1], "weight_decay": 0.0, "warmup_steps": 0, "r": 0.0,
              "weight_lr_power": 2.0}
        g = torch.randn(4, 3, generator=gen, dtype=torch.float64)
        y_box = (1 - state["y_beta"].item()) * z + state["y_beta"].item() * x
        assert torch.allclose(y, y_box, rtol=1e-12, atol=1e-12)
        rule.update(y, g, state, hp, t)
        z = z - hp["lr"] * g
        lr_max = max(lr_max, hp["lr"])
        weight_sum += lr_max**2
        c = lr_max**2 / weight_sum if weight_sum > 0 else 0.0
        x = (1 - c) * x + c * z
        y_box = (1 - hp["momentum"]) * z + hp["momentum"] * x
        assert torch.allclose(y, y_box, rtol=1e-12, atol=1e-12)
        assert torch.allclose(rule.evaluation_point(y, state, hp), x, rtol=1e-11, atol=1e-11)


@given(seed=seeds, beta=st.floats(0.05, 0.99))
def test_training_point_inverts_the_evaluation_point(seed: int, beta: float) -> None:
    rule = RULES["schedulefree_adamw"]
    assert isinstance(rule, ScheduleFreeRule)
    gen = torch.Generator().manual_seed(seed)
    y, z = torch.randn(5, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen, dtype=torch.float64)
    state = {"z": z, "y_beta": torch.tensor(beta, dtype=torch.float64)}
    x = rule.evaluation_point(y, state, {})
    assert torch.allclose(x * beta + (1 - beta) * z, y, rtol=1e-13, atol=1e-13)  # x is the box's x
    assert torch.allclose(rule.training_point(x, state, {}), y, rtol=1e-13, atol=1e-13 / beta)
