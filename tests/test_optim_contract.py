"""The torch.optim contract of the drop-in classes: registry coverage, state_dict round trips, closures,
zero_grad, parameter forms, maximize, and hyperparameter validation."""

from __future__ import annotations

import inspect
import io
import math
from collections import OrderedDict
from typing import Any

import pytest
import torch

from cases import (
    ALL_CASES,
    CASES,
    CLASS_NAMES,
    OPTIMLAB_EXTRAS,
    TORCH_CLASS_NAMES,
    VALID_RANGES,
    Case,
    clone_params,
    constructor_kwargs,
    edge_values,
    invalid_values,
    mlp_data,
    mlp_loss,
    mlp_params,
    param_groups,
    rel_error,
    rule_hyper_name,
    train,
)
from optimlab import optim
from optimlab.registry import PRESETS

# ---------------------------------------------------------------------------------------------- the case table


def test_every_preset_has_a_case() -> None:
    covered = {case.preset for case in ALL_CASES if case.preset}
    missing = sorted(set(PRESETS) - covered)
    assert not missing, f"presets without a row in tests/cases.py: {missing}"
    assert covered <= set(PRESETS), f"rows name unknown presets: {sorted(covered - set(PRESETS))}"


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.preset], ids=lambda c: str(c.preset))
def test_preset_rows_match_the_registry(case: Case) -> None:
    preset = PRESETS[str(case.preset)]
    assert case.optimlab_class() is preset.optimizer
    for key, value in preset.settings.items():
        assert case.kwargs.get(key) == value, f"row for {preset.name} must set {key}={value!r}"
    # The preset builds the same optimizer as the row.
    params = mlp_params()
    built = preset.make(params, **{k: v for k, v in case.kwargs.items() if k not in preset.settings})
    assert built.defaults == case.make(clone_params(params)).defaults


def test_every_class_and_flag_has_cases() -> None:
    assert {c.cls for c in ALL_CASES} == set(CLASS_NAMES)
    flags = {key for c in ALL_CASES for key, value in c.kwargs.items() if value not in (False, 0)}
    for flag in ("weight_decay", "amsgrad", "nesterov", "dampening", "centered", "momentum", "maximize",
                 "decoupled_weight_decay", "lr_decay", "initial_accumulator_value", "betas", "eps", "rho",
                 "alpha", "momentum_decay", "cautious", "lambd", "t0", "etas", "step_sizes", "decouple",
                 "clip_lambda", "adjust_lr_fn", "ns_steps", "ns_coefficients", "beta2_decay", "d",
                 "t_alpha_beta3", "fixed_decay", "float32_qr", "precondition_frequency",
                 "precondition_1d", "normalize_gradient", "shampoo_beta", "max_precondition_dim"):
        assert flag in flags, f"no case sets {flag}"


# ------------------------------------------------------------------------------------------ state_dict on disk


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_dict_round_trip_resumes_bit_identically(case: Case, dtype: torch.dtype) -> None:
    """Train 15 steps, save through torch.save/torch.load(weights_only=True), resume 15: same as 30 straight.

    The default dtype is the parameters' dtype: with float64 parameters under a float32 default, NAdam's
    float32 ``mu_product`` is cast to float64 by ``Optimizer.load_state_dict`` (torch.optim.NAdam too), so
    that mixed setting cannot resume bit-identically in either library.
    """
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        _round_trip(case, dtype)
    finally:
        torch.set_default_dtype(old)


def _round_trip(case: Case, dtype: torch.dtype) -> None:
    start = mlp_params(dtype=dtype)
    straight = clone_params(start)
    data = mlp_data(dtype=dtype)
    train(case.make(param_groups(case, straight)), straight, 30, data)

    resumed = clone_params(start)
    opt = case.make(param_groups(case, resumed))
    train(opt, resumed, 15, data)
    buffer = io.BytesIO()
    torch.save({"params": [p.detach() for p in resumed], "optim": opt.state_dict()}, buffer)
    buffer.seek(0)
    del opt
    loaded = torch.load(buffer, weights_only=True)
    fresh = [p.clone().requires_grad_() for p in loaded["params"]]
    opt = case.make(param_groups(case, fresh))
    opt.load_state_dict(loaded["optim"])
    train(opt, fresh, 15, data)
    assert fresh[0].dtype == dtype
    for a, b in zip(fresh, straight, strict=True):
        assert torch.equal(a, b)


# ----------------------------------------------------------------------------------------- closures, zero_grad


@pytest.mark.parametrize("case", CASES[::3], ids=lambda c: c.id)
def test_closure_returns_loss_with_grad_enabled(case: Case) -> None:
    params = mlp_params()
    x, y = mlp_data()
    opt = case.make(params)
    calls: list[bool] = []

    def closure() -> torch.Tensor:
        calls.append(torch.is_grad_enabled())
        opt.zero_grad()
        loss = mlp_loss(params, x, y)
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert isinstance(loss, torch.Tensor) and loss.item() == mlp_loss(mlp_params(), x, y).item()
    assert opt.step() is None


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none: bool) -> None:
    params = mlp_params()
    opt = optim.Adam(params)
    x, y = mlp_data()
    mlp_loss(params, x, y).backward()
    opt.zero_grad(set_to_none=set_to_none)
    for p in params:
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is not None and torch.equal(p.grad, torch.zeros_like(p))
    opt.step()  # None or zero gradients: Adam leaves the parameters where they are
    assert rel_error(params, mlp_params()) == 0.0


# ------------------------------------------------------------------------------------------ forms of params


@pytest.mark.parametrize("case", CASES[::4], ids=lambda c: c.id)
def test_named_params_and_dicts_match_plain_list(case: Case) -> None:
    plain = mlp_params()
    named = clone_params(plain)
    dicts = clone_params(plain)
    names = ["w1", "b1", "w2", "b2"]
    train(case.make(plain), plain, 20)
    opt_named = case.make(list(zip(names, named, strict=True)))
    train(opt_named, named, 20)
    opt_dicts = case.make([{"params": dicts[:2]}, {"params": dicts[2:]}])
    train(opt_dicts, dicts, 20)
    assert opt_named.param_groups[0]["param_names"] == names
    assert "param_names" in opt_named.state_dict()["param_groups"][0]
    for a, b, c in zip(plain, named, dicts, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_module_named_parameters_are_accepted() -> None:
    model = torch.nn.Sequential(OrderedDict(lin=torch.nn.Linear(3, 2)))
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["lin.weight", "lin.bias"]


# ------------------------------------------------------------------------------------------------- maximize


def _takes_maximize(case: Case) -> bool:
    """torch.optim.Muon has no ``maximize`` (and so neither has the drop-in Muon)."""
    return "maximize" in inspect.signature(case.optimlab_class().__init__).parameters


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.kwargs.get("maximize") is not True and _takes_maximize(c)], ids=lambda c: c.id
)
def test_maximize_mirrors_minimizing_the_negated_loss(case: Case) -> None:
    """Maximizing −L with maximize=True is, bit for bit, minimizing L."""
    start = mlp_params()
    x, y = mlp_data()
    up = clone_params(start)
    opt = case.make(param_groups(case, up), maximize=True)
    for _ in range(25):
        opt.zero_grad()
        (-mlp_loss(up, x, y)).backward()
        opt.step()
    down = clone_params(start)
    train(case.make(param_groups(case, down)), down, 25)
    for a, b in zip(up, down, strict=True):
        assert torch.equal(a, b)
    assert rel_error(down, start) > 1e-4


# -------------------------------------------------------------------------------------- invalid hyperparameters

INVALID = [
    (cls, arg, value)
    for cls, ranges in VALID_RANGES.items()
    for arg, r in ranges.items()
    for value in invalid_values(r)
]


@pytest.mark.parametrize(("cls", "arg", "value"), INVALID, ids=[f"{c}-{a}={v}" for c, a, v in INVALID])
def test_invalid_hyperparameter_raises_naming_it(cls: str, arg: str, value: float) -> None:
    with pytest.raises(ValueError) as info:
        getattr(optim, cls)(mlp_params(), **constructor_kwargs(cls, arg, value))
    message = str(info.value)
    assert arg in message, message
    assert repr(value) in message or f"={value:g} " in message, message
    low, high, _, _ = VALID_RANGES[cls][arg]
    for bound in (low, high):
        if bound is not None:
            assert f"{bound:g}" in message, f"{message!r} does not state the bound {bound:g}"


@pytest.mark.parametrize(("cls", "arg", "value"), INVALID[::3], ids=[f"{c}-{a}={v}" for c, a, v in INVALID[::3]])
def test_invalid_value_in_added_param_group_raises(cls: str, arg: str, value: float) -> None:
    params = mlp_params()
    opt = getattr(optim, cls)(params[:2])
    with pytest.raises(ValueError, match=arg.replace("[", r"\[").replace("]", r"\]")):
        opt.add_param_group({"params": params[2:], **constructor_kwargs(cls, arg, value)})


EDGES = [(cls, arg, v) for cls, ranges in VALID_RANGES.items() for arg, r in ranges.items() for v in edge_values(r)]


NOT_HYPERPARAMETERS = frozenset({"self", "params", "foreach", "capturable", "differentiable", "fused", "maximize"})


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_signature_agrees_with_the_rule_schema_and_with_torch(name: str) -> None:
    """The constructor's hyperparameter arguments are its rule's schema (``RuleOptimizer.hyper_arguments``: the
    rule's names, order and defaults, packed as torch packs them; only ``optional_keys`` may be missing, and fixed
    values are no arguments). Where torch.optim has the class: torch's arguments in torch's order, kinds and
    defaults, then only the extras ``cases.OPTIMLAB_EXTRAS`` lists, keyword-only and off by default."""
    klass: type[optim.RuleOptimizer] = getattr(optim, name)
    ours = inspect.signature(klass.__init__).parameters
    taken = {a: p.default for a, p in ours.items() if a not in NOT_HYPERPARAMETERS | klass.class_options}
    schema = {a: d for a, d in klass.hyper_arguments().items() if a in taken or a not in klass.optional_keys}
    assert list(taken) == list(schema), "the signature's hyperparameters differ from the rule's schema"
    for arg, default in schema.items():
        assert taken[arg] == default and isinstance(taken[arg], bool) == isinstance(default, bool), arg
    assert not set(klass.fixed_values) & set(ours), "a fixed value must not be an argument"
    assert all(h.doc for h in klass.rule.hypers), "every hyperparameter of the rule has a doc"
    if name not in TORCH_CLASS_NAMES:
        return
    theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
    extras = list(OPTIMLAB_EXTRAS.get(name, ()))
    assert list(ours) == list(theirs) + extras, "parameter names or order differ from torch's"
    for arg in theirs:
        assert ours[arg].kind == theirs[arg].kind, f"{arg}: kind differs from torch's"
        assert ours[arg].default == theirs[arg].default, f"{arg}: default differs from torch's"
    for arg in extras:
        assert ours[arg].kind is inspect.Parameter.KEYWORD_ONLY, f"{arg}: an optimlab extra must be keyword-only"
        assert ours[arg].default is False, f"{arg}: an optimlab extra must be off by default"


@pytest.mark.parametrize(("cls", "arg", "value"), EDGES, ids=[f"{c}-{a}={v}" for c, a, v in EDGES])
def test_edge_of_valid_range_is_accepted(cls: str, arg: str, value: float) -> None:
    getattr(optim, cls)(mlp_params(), **constructor_kwargs(cls, arg, value))


@pytest.mark.parametrize("cls", CLASS_NAMES)
def test_every_numeric_argument_has_a_declared_range(cls: str) -> None:
    """The table of ranges covers every numeric constructor argument, and agrees with the rule's declaration."""
    klass = getattr(optim, cls)
    numeric = {  # numbers, tuples of numbers, and numbers that may be None ("off" or derived: AdEMAMix's
        # t_alpha_beta3, SOAP's shampoo_beta, Prodigy's beta3); ADOPT's clip_lambda is a schedule, not a number
        name for name, p in inspect.signature(klass.__init__).parameters.items()
        if name not in ("self", "params") and not isinstance(p.default, bool)
        and (
            isinstance(p.default, (int, float, tuple))
            or (p.default is None and ("float" in str(p.annotation) or "int" in str(p.annotation)))
        )
    }
    expected = {a.split("[")[0] for a in VALID_RANGES[cls]}
    assert numeric == expected
    for arg, (low, high, low_open, high_open) in VALID_RANGES[cls].items():
        if (cls, arg) == ("Nesterov", "momentum"):
            continue  # momentum > 0 comes from nesterov=True, checked by the rule's check_combination
        hyper = klass.rule.hyper(rule_hyper_name(cls, arg))
        assert (hyper.low, hyper.high, hyper.low_open, hyper.high_open) == (low, high, low_open, high_open)


@pytest.mark.parametrize("cls", ["SGD", "Momentum"])
def test_nesterov_needs_momentum_and_no_dampening(cls: str) -> None:
    if cls == "SGD":
        with pytest.raises(ValueError, match="nesterov"):
            optim.SGD(mlp_params(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="dampening"):
        optim.SGD(mlp_params(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        optim.Nesterov(mlp_params(), momentum=0.0)


def _flag_cases() -> list[tuple[str, str]]:
    out = []
    for cls in CLASS_NAMES:
        params = inspect.signature(getattr(optim, cls).__init__).parameters
        out += [(cls, flag) for flag in ("capturable", "differentiable") if flag in params]
    return out


@pytest.mark.parametrize(("cls", "flag"), _flag_cases())
def test_unsupported_flags_raise(cls: str, flag: str) -> None:
    """capturable (CUDA graphs) and differentiable (grad through the step) are refused, naming the flag.

    (``fused`` is no longer refused: the compiled path of optimlab.fused is tested with that module.)
    """
    with pytest.raises(ValueError, match=flag):
        getattr(optim, cls)(mlp_params(), **{flag: True})


def test_unsupported_flags_listed() -> None:
    """The flags exist wherever torch has them, so code written for torch still constructs."""
    for cls in TORCH_CLASS_NAMES:
        theirs = inspect.signature(getattr(torch.optim, cls).__init__).parameters
        for flag in ("capturable", "differentiable"):
            assert (flag in theirs) == ((cls, flag) in _flag_cases())


@pytest.mark.parametrize("value", [math.nan, -1.0])
def test_tensor_lr_is_validated(value: float) -> None:
    with pytest.raises(ValueError, match="lr"):
        optim.Adam(mlp_params(), lr=torch.tensor(value))


def test_tensor_lr_works_like_float(float64_default: None) -> None:
    a, b = mlp_params(), mlp_params()
    train(optim.Adam(a, lr=torch.tensor(0.01)), a, 10)
    train(optim.Adam(b, lr=0.01), b, 10)
    assert rel_error(a, b) == 0.0


def test_betas_must_be_a_pair() -> None:
    bad: Any = (0.9,)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(mlp_params(), betas=bad)


# ------------------------------------------------------------------------------------ optimlab-only options


@pytest.mark.parametrize("cls", ["Adam", "AdamW", "Adamax", "NAdam", "RAdam", "AMSGrad"])
def test_cautious_joins_the_groups_only_when_on(cls: str) -> None:
    """Off, the groups (and so the state_dict) have torch's keys; on, the flag is a group key that a
    state_dict carries and a new group can set."""
    params = mlp_params()
    assert "cautious" not in getattr(optim, cls)(params).param_groups[0]
    on = getattr(optim, cls)(params[:2], cautious=True)
    on.add_param_group({"params": params[2:], "cautious": False})
    assert [g["cautious"] for g in on.param_groups] == [True, False]
    assert on.state_dict()["param_groups"][0]["cautious"] is True
    assert on.group_values(on.param_groups[0])["cautious"] is True


def test_lion_refuses_triton_and_needs_lr_for_decoupled_decay() -> None:
    with pytest.raises(ValueError, match="use_triton=True"):
        optim.Lion(mlp_params(), use_triton=True)
    with pytest.raises(ValueError, match=r"lr=0\.0 .*decoupled_weight_decay"):
        optim.Lion(mlp_params(), lr=0.0, decoupled_weight_decay=True)


def test_lion_class_options_are_not_preset_hyperparameters() -> None:
    """lion-pytorch's use_triton and decoupled_weight_decay live in the class only: a population trial naming
    them is refused instead of silently ignored."""
    assert "decoupled_weight_decay" not in PRESETS["lion"].defaults()
    with pytest.raises(ValueError, match="Unknown hyperparameter 'decoupled_weight_decay'"):
        PRESETS["lion"].rule_values(decoupled_weight_decay=True)
