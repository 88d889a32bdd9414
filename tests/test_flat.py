"""The flat fast path (optimlab.flat) against the reference loop, and the drop-in contracts it must keep.

One case of every class whose rule is elementwise runs both ways in float64 (relative error <= 1e-12; every case
of the registry does in tests/test_fused.py, which now reaches the flat path for these classes) and a few in float32
(PyTorch's fused-vs-foreach tolerance). The contract tests use Adam and SGD: ``state_dict``
layout and bit-identical resume, ``param_groups`` edits and schedulers without recompiles, ``add_param_group``,
``.data`` swaps, gradients set to ``None``, state switched on mid-run, and what ``fused=None`` decides.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

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


SPLITS = {"shared": flat.SEPARATE_ELEMENTS, "weights-alone": 20, "all-alone": 1}
"""``flat.SEPARATE_ELEMENTS`` settings: every MLP tensor in the flat buffers; the two weight matrices (40 and 24
elements) on their own beside the shared biases; every tensor on its own."""


@pytest.mark.parametrize("split", list(SPLITS))
@pytest.mark.parametrize("case", FLAT_CASES, ids=lambda c: c.id)
def test_float64_flat_path_equals_the_reference(
    case: object, split: str, float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", SPLITS[split])
    ref, fast, opt = both_ways(case, torch.float64)
    group = flat_group(opt)
    assert group is not None, "the flat path did not run"
    assert group.loop is not None, "its calls did not run from one loop (optimlab.call_loop)"
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


def test_the_state_check_follows_the_state_mapping_as_it_changes() -> None:
    """holds() reads the state dicts at their positions in ``optimizer.state``: entries added, moved or replaced
    elsewhere keep the buffers, and a replaced or exchanged dict of the group's own is caught."""
    params = mlp_params()
    opt = adam(params)
    train(opt, params, 3, mlp_data())
    group = flat_group(opt)
    assert group is not None and group.holds(params, opt.state)
    opt.state[torch.nn.Parameter(torch.zeros(3))]["step"] = torch.zeros(())  # another tensor's state: length moves
    assert group.holds(params, opt.state)
    moved = opt.state.pop(params[0])
    opt.state[params[0]] = moved  # the same dict at the end: every position moved
    assert group.holds(params, opt.state)
    state = opt.state
    state[params[1]], state[params[2]] = state[params[2]], state[params[1]]  # exchanged in place: same length
    assert not group.holds(params, opt.state)
    state[params[1]], state[params[2]] = state[params[2]], state[params[1]]
    assert group.holds(params, opt.state)
    state[params[1]] = dict(state[params[1]])  # an equal dict, not the one the buffers hold
    assert not group.holds(params, opt.state)


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


def test_large_tensors_keep_their_memory_and_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 20)
    params = mlp_params()
    x, y = mlp_data()
    opt = adam(params)
    train(opt, params, 2, (x, y))
    group = flat_group(opt)
    assert group is not None and group.alone == [0, 2] and group.shared == [1, 3]
    weights = [params[0].data_ptr(), params[2].data_ptr()]
    opt.zero_grad()
    mlp_loss(params, x, y).backward()
    made = [params[0].grad, params[2].grad]
    opt.step()
    assert [params[0].data_ptr(), params[2].data_ptr()] == weights  # updated where they are, not moved
    assert params[0].grad is made[0] and params[2].grad is made[1]  # read where backward left them, not copied
    assert params[1].grad is group.grad_views[0] and params[3].grad is group.grad_views[1]


def test_a_group_whose_gradients_are_kept_merges_into_one_buffer_and_splits_again_for_new_ones(
    float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 20)  # the two weight matrices are "large"
    ref, params = mlp_params(), mlp_params()
    opt_ref, opt = adam(ref, mode=False), adam(params)
    steps = 2 + flat.MERGE_AFTER_KEPT_STEPS  # the reference step, the build, then kept gradients
    train(opt_ref, ref, steps + 1, keep_grads=True)
    train(opt, params, steps, keep_grads=True)
    group = flat_group(opt)
    assert group is not None and group.alone == [0, 2] and not group.together
    train(opt, params, 1, keep_grads=True)  # merged in this step
    group = flat_group(opt)
    assert group is not None and group.together and group.alone == [] and group.shared == [0, 1, 2, 3]
    base = group.flat.untyped_storage().data_ptr()
    assert all(p.untyped_storage().data_ptr() == base for p in params)
    assert all(p.grad is v for p, v in zip(params, group.grad_views, strict=True))
    assert rel_error(params, ref) <= 1e-12
    # New gradients for the large tensors: copied in that step, the buffers split the step after, for good.
    train(opt_ref, ref, 5, keep_grads=False)
    train(opt, params, 2, keep_grads=False)
    group = flat_group(opt)
    assert group is not None and not group.together and group.alone == [0, 2]
    train(opt, params, 3, keep_grads=True)
    group = flat_group(opt)
    assert group is not None and not group.together
    assert rel_error(params, ref) <= 1e-12
    assert opt.__dict__["_flat_plans"][0].rebuilds == 0  # layout changes are not counted as rebuilds


def test_a_group_above_the_merge_limit_stays_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 20)
    monkeypatch.setattr(flat, "MERGE_MAX_BYTES", 0)
    params = mlp_params()
    opt = adam(params)
    train(opt, params, 4 + flat.MERGE_AFTER_KEPT_STEPS, keep_grads=True)
    group = flat_group(opt)
    assert group is not None and group.kept_steps > flat.MERGE_AFTER_KEPT_STEPS and group.alone == [0, 2]


@pytest.mark.parametrize("split", list(SPLITS))
def test_state_switched_on_mid_run_is_handed_out(split: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", SPLITS[split])
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
    release = threading.Event()  # the background compile waits for it: no step may wait for the compile
    compile_in_background = flat.WarmUp._compile
    monkeypatch.setattr(flat.WarmUp, "_compile", lambda self: (release.wait(60), compile_in_background(self)))
    params = mlp_params()
    opt = adam(params, None)
    train(opt, params, 5)  # two timed reference steps, then the compile starts in the background
    assert flat_group(opt) is None
    release.set()
    flat.wait_for_compiles(opt)
    train(opt, params, 1)
    assert flat_group(opt) is not None


def test_default_takes_the_flat_path_for_a_stateless_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flat, "AUTO_MIN_REFERENCE_SECONDS", 0.0)
    monkeypatch.setattr(flat.FlatPlan, "timed", _timed_as(10.0))  # the reference step "took" 10 s: flat pays
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    opts = [optim.SGD([{"params": ps, "fused": mode}], lr=0.05) for ps, mode in ((ref, False), (fast, None))]
    for opt, params in zip(opts, (ref, fast), strict=True):
        train(opt, params, 3, data)  # plain SGD keeps no state: the compile starts right after the timed steps
        flat.wait_for_compiles(opt)
        train(opt, params, 1 + flat.AUTO_SETTLE_STEPS + 2 * flat.AUTO_TRIAL_STEPS, data)  # each timed flat step
        # is followed by a timed reference step
    assert flat_group(opts[1]) is not None
    assert flat.decisions(opts[1])[0].startswith("flat: ")
    assert rel_error(fast, ref) <= 1e-12


def _timed_as(seconds: float) -> object:
    """A stand-in for ``FlatPlan.timed`` that notes every reference step as lasting ``seconds``."""
    real = flat.FlatPlan.timed

    def timed(plan: flat.FlatPlan, _: float) -> None:
        real(plan, seconds)

    return timed


@pytest.mark.parametrize("reference_seconds", [10.0, 0.0])
def test_default_keeps_the_flat_path_only_if_its_timed_steps_beat_the_reference(
    monkeypatch: pytest.MonkeyPatch, reference_seconds: float
) -> None:
    monkeypatch.setattr(flat, "AUTO_MIN_REFERENCE_SECONDS", 0.0)
    monkeypatch.setattr(flat.FlatPlan, "timed", _timed_as(reference_seconds))
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    monkeypatch.setattr(flat, "BACKGROUND", False)  # the third step compiles and builds (a background compile
    # already in this process's cache may or may not finish within the step that starts it)
    opt_ref, opt = adam(ref, False), adam(fast, None)
    train(opt_ref, ref, 2, data)
    train(opt, fast, 2, data)  # two timed reference steps
    steps = 1 + flat.AUTO_SETTLE_STEPS + 2 * flat.AUTO_TRIAL_STEPS
    train(opt_ref, ref, steps - 1, data)
    train(opt, fast, steps - 1, data)  # builds the buffers, settles, then timed flat and reference steps in turn,
    # all but the last reference step
    plan = opt.__dict__["_flat_plans"][0]
    assert len(plan.flat_seconds) == flat.AUTO_TRIAL_STEPS
    assert len(plan.trial_reference) == flat.AUTO_TRIAL_STEPS - 1 and plan.reference_turn
    assert flat.decisions(opt)[0] == "undecided"
    train(opt_ref, ref, 1, data)
    train(opt, fast, 1, data)
    assert len(plan.trial_reference) == flat.AUTO_TRIAL_STEPS
    kept = reference_seconds > 0  # no flat step beats a reference step of 0 s
    assert (flat_group(opt) is not None) == kept
    assert flat.decisions(opt)[0].startswith("flat: " if kept else "reference: the flat step took")
    train(opt_ref, ref, 3, data)
    train(opt, fast, 3, data)  # either way the run continues as the reference does
    assert plan.given_up == (not kept)
    assert rel_error(fast, ref) <= 1e-12


@pytest.mark.parametrize("settle", [0, 2])
def test_default_times_the_layout_it_keeps(monkeypatch: pytest.MonkeyPatch, settle: int) -> None:
    """With gradients kept the split buffers merge into one after a few steps: the steps timed for the decision are
    all on the merged buffers (steps timed before are dropped), none of them among the first AUTO_SETTLE_STEPS after
    the merge."""
    monkeypatch.setattr(flat, "AUTO_SETTLE_STEPS", settle)
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 20)  # the two weight matrices are "large": the group starts split
    monkeypatch.setattr(flat, "AUTO_MIN_REFERENCE_SECONDS", 0.0)
    monkeypatch.setattr(flat.FlatPlan, "timed", _timed_as(10.0))
    judged: list[tuple[bool, int]] = []
    judge = flat.FlatPlan._judge

    def noting(plan: flat.FlatPlan, seconds: float) -> None:
        assert plan.flat is not None
        judged.append((plan.flat.together, plan.settling))
        judge(plan, seconds)

    monkeypatch.setattr(flat.FlatPlan, "_judge", noting)
    monkeypatch.setattr(flat, "BACKGROUND", False)  # the third step builds the buffers
    params = mlp_params()
    opt = adam(params, None)
    train(opt, params, 2, keep_grads=True)  # two timed reference steps
    plan = opt.__dict__["_flat_plans"][0]
    for _ in range(40):  # the build, kept gradients, the merge, the settling and the trial
        train(opt, params, 1, keep_grads=True)
        if plan.decision != "undecided":
            break
    assert plan.flat is not None and plan.flat.together
    assert plan.decision.startswith("flat: ")
    assert len(plan.flat_seconds) == len(plan.trial_reference) == flat.AUTO_TRIAL_STEPS
    split = [together for together, _ in judged].count(False)
    assert judged[split:] == [(True, 0)] * flat.AUTO_TRIAL_STEPS
    assert split == (flat.MERGE_AFTER_KEPT_STEPS if settle == 0 else 0)  # timed on the split buffers, then dropped


def _many_walks(
    widen_fails: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[flat.FlatPlan, float, Callable[[int], float]]:
    """20 tensors alone (over WIDE_MIN_WALKS walks), new gradients every step, fused=True against the reference;
    returns the group's plan, the float64 relative error after the steps, and a function running more steps. Without
    the C loop (the wide loop is for calls made from Python)."""
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 8)
    monkeypatch.setattr(flat, "CALL_LOOP", False)
    if widen_fails:
        compile_wide = flat.WarmUp._compile

        def refuse(self: flat.WarmUp) -> None:
            if len(self.args[1]) == flat.WIDE_BATCH:
                self.failed = True
                return
            compile_wide(self)

        monkeypatch.setattr(flat.WarmUp, "_compile", refuse)
    generator = torch.Generator().manual_seed(3)
    sizes = [9 + (3 * i) % 11 for i in range(20)]
    start = [torch.randn(n, generator=generator) for n in sizes]
    ref, fast = clone_params(start), clone_params(start)
    opt_ref, opt = adam(ref, mode=False), adam(fast, mode=True)

    def run(steps: int) -> float:
        for step in range(steps):
            grads = [torch.randn(n, generator=generator) for n in sizes]
            for params, o in ((ref, opt_ref), (fast, opt)):
                for p, g in zip(params, grads, strict=True):
                    p.grad = g.clone()  # a new tensor every step: the tensors stay alone, one walk each
                o.step()
            if step == 3:
                flat.wait_for_compiles(opt)
        return rel_error(fast, ref)

    error = run(12)
    plan = opt.__dict__["_flat_plans"][0]
    assert plan.flat is not None and len(plan.flat.walks) == 20 >= flat.WIDE_MIN_WALKS

    def reload_and_run(steps: int) -> float:
        """Load each optimizer's own state_dict (new state tensors: the flat buffers are built again), then step."""
        for o in (opt_ref, opt):
            o.load_state_dict(copy.deepcopy(o.state_dict()))
        return run(steps)

    return plan, error, reload_and_run


def test_a_group_of_many_walks_takes_the_wide_loop_once_it_is_compiled(
    float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, error, reload_and_run = _many_walks(False, monkeypatch)
    assert plan.widening is not None and not plan.widening.failed
    group = plan.flat
    assert group is not None and group.batch == flat.WIDE_BATCH
    assert len(group.directs) == -(-20 // flat.WIDE_BATCH) and len(group.padding) == -20 % flat.WIDE_BATCH
    assert all(d is not None for d in group.directs)
    assert error <= 1e-12
    assert reload_and_run(1) <= 1e-12
    assert plan.flat is not group and plan.flat is not None and plan.flat.batch == flat.BATCH  # rebuilt at four
    assert reload_and_run(6) <= 1e-12  # and widened again once the (now cached) wide loop is ready
    assert plan.flat is not None and plan.flat.batch == flat.WIDE_BATCH


def test_a_wide_loop_that_fails_to_compile_leaves_the_group_as_it_was(
    float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, error, _ = _many_walks(True, monkeypatch)
    assert plan.widening is not None and plan.widening.failed and plan.wide_failed
    assert plan.flat is not None and plan.flat.batch == flat.BATCH
    assert error <= 1e-12


def test_default_without_a_compiler_warns_once_and_stays_on_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    monkeypatch.setattr(flat, "AUTO_MIN_REFERENCE_SECONDS", 0.0)
    monkeypatch.setattr(fused, "_find_compiler", lambda: None)
    monkeypatch.setattr(fused, "_warned_no_compiler", False)
    ref, fast = mlp_params(), mlp_params()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt = adam(fast, None)
        train(opt, fast, 4)
        flat.wait_for_compiles(opt)  # the background thread looks for the compiler (no step waits for the import)
        train(opt, fast, 4)
    train(adam(ref, False), ref, 8)
    assert [w.category for w in caught] == [fused.FastPathUnavailable]  # once, from the step that learns it
    assert flat.decisions(opt)[0] == "reference: no C++ compiler to build the flat step"
    warm_up = opt.__dict__["_flat_plans"][0].warm_up
    assert warm_up is not None and warm_up.failed and warm_up.no_compiler
    assert rel_error(fast, ref) == 0.0  # the reference path itself


class _Net(torch.nn.Module):
    """A small convolutional network with BatchNorm: parameters of many shapes, buffers beside them."""

    def __init__(self) -> None:
        super().__init__()
        # No bias before BatchNorm (which removes it): its gradient would be rounding noise, which Adam scales up
        # to full-size steps, so the two paths' last-bit differences would show in it.
        self.conv = torch.nn.Conv2d(2, 8, 3, padding=1, bias=False)
        self.norm = torch.nn.BatchNorm2d(8)
        self.head = torch.nn.Linear(8 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.norm(self.conv(x))).flatten(1))


def _fit(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int) -> None:
    gen = torch.Generator().manual_seed(3)
    for _ in range(steps):
        x = torch.randn(16, 2, 6, 6, generator=gen, dtype=torch.float64)
        y = torch.randint(0, 5, (16,), generator=gen)
        opt.zero_grad()  # gradients set to None: backward makes new ones every step
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("split", ["shared", "weights-alone"])
def test_a_module_trains_saves_and_resumes_through_its_own_state_dicts(
    split: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", {"shared": 10**6, "weights-alone": 100}[split])
    torch.manual_seed(0)
    ref = _Net().double()
    fast = copy.deepcopy(ref)
    opt_ref = optim.Adam(ref.parameters(), lr=1e-2, fused=False)
    opt = optim.Adam(fast.parameters(), lr=1e-2, fused=True)
    _fit(ref, opt_ref, 4)
    _fit(fast, opt, 4)
    group = flat_group(opt)
    assert group is not None
    assert len(group.alone) == (2 if split == "weights-alone" else 0)  # the conv (144) and head (1440) weights
    path = f"{tmp_path}/checkpoint.pt"
    torch.save({"model": fast.state_dict(), "optimizer": opt.state_dict()}, path)
    _fit(fast, opt, 3)  # uninterrupted
    saved = torch.load(path)
    resumed = _Net().double()
    resumed.load_state_dict(saved["model"])
    opt_resumed = optim.Adam(resumed.parameters(), lr=1e-2, fused=True)
    opt_resumed.load_state_dict(saved["optimizer"])
    _fit(resumed, opt_resumed, 3)
    assert all(torch.equal(a, b) for a, b in zip(resumed.state_dict().values(), fast.state_dict().values(),
                                                 strict=True))
    _fit(ref, opt_ref, 3)
    assert rel_error(list(fast.parameters()), list(ref.parameters())) <= 1e-12
    copied = copy.deepcopy(fast)  # a module whose parameters are views of one buffer copies like any other
    assert all(torch.equal(a, b) for a, b in zip(copied.parameters(), fast.parameters(), strict=True))


def test_a_first_compile_from_a_tensor_alone_serves_every_length(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: the first compile of a process came from a tensor alone, whose gradient (a new tensor each step)
    # was not marked dynamic, so Dynamo specialised the length and refused the marked parameter and state.
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 1)
    fused._compiled_update.cache_clear()  # as in a fresh process: no compiled flat step yet, and Dynamo remembers
    torch._dynamo.reset()  # nothing of the sizes an earlier test's flat_rmsprop saw (it would make them dynamic)
    before = counters["stats"]["unique_graphs"]
    lengths = [64, 64, 64, 40, 33, 2, 90]  # two calls of flat.BATCH, the second filled up with stand-ins
    ref = [torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(i))
           for i, n in enumerate(lengths)]
    fast = [t.clone() for t in ref]
    opts = [optim.RMSprop([{"params": ps, "fused": mode}], lr=1e-2) for ps, mode in ((ref, False), (fast, True))]
    for step in range(4):
        for opt, params in zip(opts, (ref, fast), strict=True):
            for i, p in enumerate(params):
                p.grad = torch.full_like(p, 0.1 * (i + 1) + 0.01 * step)
            opt.step()
    group = flat_group(opts[1])
    assert group is not None and group.alone == list(range(len(lengths)))
    assert len(group.directs) == 2 and len(group.padding) == 2 * flat.BATCH - len(lengths)
    assert counters["stats"]["unique_graphs"] == before + 1  # one compile for every call, whatever the lengths
    assert rel_error(fast, ref) <= 1e-12


def test_the_background_compile_is_the_one_the_steps_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flat, "AUTO_MIN_REFERENCE_SECONDS", 0.0)
    monkeypatch.setattr(flat.FlatPlan, "timed", _timed_as(10.0))  # the reference step "took" 10 s: flat pays
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 20)  # two weights alone beside the shared biases
    fused._compiled_update.cache_clear()
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    opt_ref, opt = adam(ref, False), adam(fast, None)
    train(opt_ref, ref, 3, data)
    train(opt, fast, 3, data)  # two timed reference steps; the compile starts in the background in the third
    flat.wait_for_compiles(opt)
    compiled = counters["stats"]["unique_graphs"]
    train(opt_ref, ref, 2 + flat.AUTO_TRIAL_STEPS, data)
    train(opt, fast, 2 + flat.AUTO_TRIAL_STEPS, data)
    group = flat_group(opt)
    assert group is not None and group.alone == [0, 2] and len(group.walks) == 3
    assert counters["stats"]["unique_graphs"] == compiled  # the steps ran what the warm-up compiled
    assert rel_error(fast, ref) <= 1e-12


def test_direct_calls_run_inductors_function_and_keep_autograds_version_counters(
    float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 20)  # weights alone (one walk each) beside the shared biases
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    opts = [adam(ref, False), adam(fast, True)]
    for opt, params in zip(opts, (ref, fast), strict=True):
        train(opt, params, 3, data)
    group = flat_group(opts[1])
    assert group is not None and all(d is not None and d.variant.inner is not None for d in group.directs)
    # The wrappers it skips advance the version counters of what the update writes: so does the direct call.
    written = [p.detach() for p in fast] + [opts[1].state[p][k] for p in fast for k in ("exp_avg", "exp_avg_sq")]
    versions = [t._version for t in written]
    train(opts[0], ref, 1, data)
    train(opts[1], fast, 1, data)
    assert all(t._version > v for t, v in zip(written, versions, strict=True))
    x, y = data
    loss = mlp_loss(fast, x, y)  # saves the parameters for backward: an update in between must be caught
    opts[1].step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    opts[0].step()
    assert rel_error(fast, ref) <= 1e-12


def test_a_replaced_tensor_learning_rate_is_followed_by_direct_calls(float64_default: None) -> None:
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    opts = [optim.Adam([{"params": ps, "fused": mode}], lr=torch.tensor(0.01, dtype=torch.float64))
            for ps, mode in ((ref, False), (fast, True))]
    for opt, params in zip(opts, (ref, fast), strict=True):
        train(opt, params, 3, data)
        opt.param_groups[0]["lr"] = torch.tensor(0.002, dtype=torch.float64)  # a new object, not written into
        train(opt, params, 2, data)
    assert flat_group(opts[1]) is not None
    assert rel_error(fast, ref) <= 1e-12


def test_without_inductors_function_the_direct_calls_go_through_the_wrappers(
    float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fused, "_find_compiled_graph", lambda function, depth: None)  # as if torch changed them
    fused._compiled_update.cache_clear()
    ref, fast = mlp_params(), mlp_params()
    data = mlp_data()
    opts = [adam(ref, False), adam(fast, True)]
    try:
        for opt, params in zip(opts, (ref, fast), strict=True):
            train(opt, params, 5, data)
        group = flat_group(opts[1])
        assert group is not None and all(d is not None and d.variant.inner is None for d in group.directs)
        assert rel_error(fast, ref) <= 1e-12
    finally:
        fused._compiled_update.cache_clear()  # later tests compile with the real search


_ENDS_WHILE_COMPILING = """
import torch
from optimlab import flat, optim
flat.SEPARATE_ELEMENTS = 8
flat.CALL_LOOP = False  # the wide loop is for calls made from Python
params = [torch.randn(9 + i, requires_grad=True) for i in range(20)]
opt = optim.Adam(params, lr=1e-3, fused=True)
for _ in range(2):
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
plan = opt.__dict__["_flat_plans"][0]
assert plan.widening is not None and plan.widening.thread.is_alive(), "the wide compile should still be running"
print("ending")
"""


@pytest.mark.slow
def test_a_process_that_ends_while_the_wide_loop_compiles_exits_cleanly(tmp_path: object) -> None:
    """The process ends right after the first compile, with the wide one under way in its thread (an empty cache:
    a cold compile of several seconds): it waits for it and exits with status 0, instead of aborting in C++."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _ENDS_WHILE_COMPILING], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ending" and "terminate called" not in done.stderr
