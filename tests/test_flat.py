"""The flat fast path (optimlab.flat) against the reference loop, and the drop-in contracts it must keep.

One case of every class whose rule is elementwise runs both ways in float64 (relative error <= 1e-12; every case
of the registry does in tests/test_fused.py, which now reaches the flat path for these classes) and a few in float32
(PyTorch's fused-vs-foreach tolerance). The contract tests use Adam and SGD: ``state_dict``
layout and bit-identical resume, ``param_groups`` edits and schedulers without recompiles, ``add_param_group``,
``.data`` swaps, gradients set to ``None``, state switched on mid-run, and what ``fused=None`` decides.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch._dynamo.utils import counters

from cases import clone_params, mlp_data, mlp_loss, mlp_params, one_case_per_class, rel_error, train
from optimlab import flat, fused, optim

pytestmark = pytest.mark.skipif(fused._find_compiler() is None, reason="no C++ compiler: nothing to compile")

FLAT_CASES = [
    c for c in one_case_per_class()
    if flat.supports(c.optimlab_class().rule, c.optimlab_class().rule_values(c.make(mlp_params()).param_groups[0]))
]
STEPS = 5


def flat_group(opt: optim.RuleOptimizer, index: int = 0) -> flat.FlatGroup | None:
    plan = opt.__dict__.get("_flat_plans", {}).get(index)
    return None if plan is None else plan.flat


def both_ways(case: object, dtype: torch.dtype, steps: int = STEPS) -> tuple[list[torch.Tensor], list[torch.Tensor],
                                                                            optim.RuleOptimizer]:
    make = case.make  # type: ignore[attr-defined]
    ref, fast = mlp_params(dtype=dtype), mlp_params(dtype=dtype)
    data = mlp_data(dtype=dtype)
    train(make([{"params": ref, "fused": False}]), ref, steps, data)
    opt = make([{"params": fast, "fused": True}])
    train(opt, fast, steps, data)
    return ref, fast, opt


def test_every_elementwise_class_has_a_flat_case() -> None:
    names = {c.cls for c in FLAT_CASES}
    assert {"SGD", "Adam", "AdamW", "NAdam", "RAdam", "Adamax", "RMSprop", "Adagrad", "Adadelta", "Lion"} <= names


@pytest.mark.parametrize("case", FLAT_CASES, ids=lambda c: c.id)
def test_float64_flat_path_equals_the_reference(case: object, float64_default: None) -> None:
    ref, fast, opt = both_ways(case, torch.float64)
    assert flat_group(opt) is not None, "the flat path did not run"
    assert rel_error(fast, ref) <= 1e-12


@pytest.mark.parametrize("case", FLAT_CASES[:4], ids=lambda c: c.id)
def test_float32_within_torch_fused_tolerance(case: object) -> None:
    ref, fast, opt = both_ways(case, torch.float32)
    assert flat_group(opt) is not None
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1.3e-6, atol=1e-5)


def adam(params: list[torch.Tensor], mode: bool | None = True, **kwargs: object) -> optim.RuleOptimizer:
    return optim.Adam([{"params": params, "fused": mode}], lr=0.01, **kwargs)  # type: ignore[arg-type]


def test_state_dict_layout_is_the_reference_one_and_resumes_bit_identically() -> None:
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    opt_ref, opt_fast = adam(ref, False), adam(fast, True)
    train(opt_ref, ref, 3, data)
    train(opt_fast, fast, 3, data)
    a, b = opt_ref.state_dict(), opt_fast.state_dict()
    assert a["param_groups"][0].keys() == b["param_groups"][0].keys()
    for i in a["state"]:
        assert a["state"][i].keys() == b["state"][i].keys()
        for key, value in a["state"][i].items():
            assert (value.shape, value.dtype) == (b["state"][i][key].shape, b["state"][i][key].dtype)
    saved, start = copy.deepcopy(b), clone_params(fast)
    train(opt_fast, fast, 3, data)  # uninterrupted
    for mode in (True, False):  # resumed on either path from the saved state
        resumed = clone_params(start)
        opt = adam(resumed, mode)
        opt.load_state_dict(copy.deepcopy(saved))
        opt.param_groups[0]["fused"] = mode
        train(opt, resumed, 3, data)
        if mode:
            assert flat_group(opt) is not None
            assert all(torch.equal(x, y) for x, y in zip(resumed, fast, strict=True))
        else:
            assert rel_error(resumed, fast) <= 1e-12


def test_lr_schedule_does_not_recompile_and_edits_are_followed() -> None:
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    opts = [adam(ref, False), adam(fast, True)]
    for opt, params in zip(opts, (ref, fast), strict=True):
        train(opt, params, 3, data)
    before = counters["stats"]["unique_graphs"]
    for step in range(6):
        for opt, params in zip(opts, (ref, fast), strict=True):
            opt.param_groups[0]["lr"] = 0.01 * 0.8**step
            opt.param_groups[0]["betas"] = (0.9 - 0.01 * step, 0.999)
            train(opt, params, 1, data)
    assert counters["stats"]["unique_graphs"] == before
    assert rel_error(fast, ref) <= 1e-12


def test_add_param_group_data_swap_and_missing_gradients_follow_the_reference() -> None:
    ref, fast = mlp_params(), mlp_params()
    x, y = mlp_data()
    opts = [adam(ref[:2], False), adam(fast[:2], True)]
    for params, opt in zip((ref, fast), opts, strict=True):
        train(opt, params, 2, (x, y))
        opt.add_param_group({"params": params[2:], "lr": 0.004, "fused": opt.param_groups[0]["fused"]})
        train(opt, params, 2, (x, y))
        with torch.no_grad():  # swap a parameter's storage, as checkpoint loaders do
            params[0].data = params[0].detach().clone() * 0.5
        train(opt, params, 2, (x, y))
        opt.zero_grad()
        mlp_loss(params, x, y).backward()
        params[1].grad = None  # a parameter without a gradient this step is skipped
        opt.step()
        train(opt, params, 2, (x, y))
    assert flat_group(opts[1], 0) is not None and flat_group(opts[1], 1) is not None
    assert rel_error(fast, ref) <= 1e-12


def test_tensors_are_views_and_gradients_accumulate_in_place() -> None:
    params = mlp_params()
    x, y = mlp_data()
    opt = adam(params)
    train(opt, params, 2, (x, y))
    group = flat_group(opt)
    assert group is not None
    base = group.flat.untyped_storage().data_ptr()
    assert all(p.untyped_storage().data_ptr() == base for p in params)
    opt.zero_grad(set_to_none=False)
    mlp_loss(params, x, y).backward()
    assert all(p.grad is v for p, v in zip(params, group.grad_views, strict=True))


def test_state_switched_on_mid_run_is_handed_out() -> None:
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    opts = [optim.SGD([{"params": p, "fused": m}], lr=0.05) for p, m in ((ref, False), (fast, True))]
    for opt, params in zip(opts, (ref, fast), strict=True):
        train(opt, params, 2, data)
        opt.param_groups[0]["momentum"] = 0.9
        train(opt, params, 3, data)
    assert all("momentum_buffer" in opts[1].state[p] for p in fast)
    assert rel_error(fast, ref) <= 1e-12


def test_default_takes_the_flat_path_only_when_the_reference_step_is_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    small = mlp_params()
    opt = adam(small, None)
    train(opt, small, 4)
    assert flat_group(opt) is None  # a step of a few microseconds: nothing to gain
    monkeypatch.setattr(flat, "AUTO_MIN_REFERENCE_SECONDS", 0.0)
    params = mlp_params()
    opt = adam(params, None)
    train(opt, params, 3)  # two timed reference steps, then the compile starts in the background
    assert flat_group(opt) is None
    flat.wait_for_compiles(opt)
    train(opt, params, 1)
    assert flat_group(opt) is not None
