"""The fused (compiled) path against the reference per-tensor loop: same numbers, same state, honest costs.

Every case of :data:`cases.CASES` runs both ways on the MLP problem in float64 (relative error <= 1e-12, state
included; rows marked ``sensitive`` amplify rounding differences and are left out, see cases.Case); one case
per class runs in float32 within the tolerance PyTorch's own fused-vs-foreach tests use (``assertEqual``'s
float32 defaults: rtol 1.3e-6, atol 1e-5). Compiling is slow, so every test uses the same four MLP tensors in
one parameter group: a case's compiled step is built once and shared by the tests after it.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
import torch
from torch._dynamo.utils import counters

from cases import (
    ALL_CASES,
    CASES,
    Case,
    clone_params,
    mlp_data,
    mlp_loss,
    mlp_params,
    one_case_per_class,
    rel_error,
    train,
)
from optimlab import fused, optim
from optimlab.rules import RULES

pytestmark = pytest.mark.skipif(fused._find_compiler() is None, reason="no C++ compiler: nothing to compile")

TOL64 = 1e-12
STEPS = 6


def graphs_compiled() -> int:
    return int(counters["stats"]["unique_graphs"])


def make(case: Case, params: list[torch.Tensor], mode: bool | None) -> optim.RuleOptimizer:
    """The case's optimizer over one group; ``fused`` goes in the group (not every class takes the argument)."""
    return case.make([{"params": params, "fused": mode}])


def scheduled_train(opt: torch.optim.Optimizer, params: list[torch.Tensor], steps: int) -> None:
    """Train, changing every group's lr after each step as a scheduler would."""
    x, y = mlp_data(dtype=params[0].dtype)
    for _ in range(steps):
        opt.zero_grad()
        mlp_loss(params, x, y).backward()
        opt.step()
        for group in opt.param_groups:
            group["lr"] *= 0.93


def state_error(a: torch.optim.Optimizer, b: torch.optim.Optimizer) -> float:
    """Largest relative difference over every state tensor; the two states must have the same layout."""
    sa, sb = a.state_dict()["state"], b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    worst = 0.0
    for index in sb:
        assert sa[index].keys() == sb[index].keys()
        for key, value in sb[index].items():
            # torch.optim's load_state_dict casts "step" to float32 when the saved group says fused=True
            # (its fused kernels want that); the count itself must agree.
            assert key == "step" or sa[index][key].dtype == value.dtype, key
            assert sa[index][key].shape == value.shape, key
            worst = max(worst, rel_error([sa[index][key]], [value]))
    return worst


@pytest.mark.parametrize("case", [c for c in CASES if not c.sensitive], ids=lambda c: c.id)
def test_fused_equals_reference_in_float64(case: Case, float64_default: None, record_error: Any) -> None:
    params, ref_params = mlp_params(), mlp_params()
    fast, ref = make(case, params, True), make(case, ref_params, False)
    before = graphs_compiled()
    scheduled_train(fast, params, STEPS)
    scheduled_train(ref, ref_params, STEPS)
    # The first step runs the reference path; the second compiles once; lr changes on every step after it.
    assert graphs_compiled() - before <= 1
    error = rel_error(params, ref_params)
    record_error("fused vs reference, float64 params (relative)", error)
    assert error <= TOL64
    assert state_error(fast, ref) <= TOL64


@pytest.mark.parametrize("case", one_case_per_class(), ids=lambda c: c.id)
def test_fused_float32_within_torch_fused_tolerance(case: Case) -> None:
    params = mlp_params(dtype=torch.float32)
    ref_params = clone_params(params)
    fast, ref = make(case, params, True), make(case, ref_params, False)
    scheduled_train(fast, params, STEPS)
    scheduled_train(ref, ref_params, STEPS)
    for p, q in zip(params, ref_params, strict=True):
        torch.testing.assert_close(p, q)  # float32 defaults: the tolerance of PyTorch's fused-vs-foreach tests


@pytest.mark.parametrize("case", one_case_per_class(), ids=lambda c: c.id)
@pytest.mark.parametrize("first_fused", [True, False], ids=["fused->reference", "reference->fused"])
def test_state_dict_interchangeable(case: Case, first_fused: bool, float64_default: None) -> None:
    """Train one way, load its state_dict into an optimizer of the other path, and continue identically."""
    params = mlp_params()
    first = make(case, params, first_fused)
    train(first, params, 4)
    saved = copy.deepcopy(first.state_dict())
    moved = clone_params(params)
    second = make(case, moved, not first_fused)
    second.load_state_dict(saved)
    second.param_groups[0]["fused"] = not first_fused  # as in torch.optim, loading restores the saved flags
    train(first, params, 4)
    train(second, moved, 4)
    assert rel_error(moved, params) <= TOL64
    assert state_error(second, first) <= TOL64


def test_schedulers_do_not_recompile(float64_default: None) -> None:
    """OneCycleLR moves lr and beta1 every step: after the compile step, no further compile happens."""
    case = Case("Adam", {"lr": 1e-2})
    params = mlp_params()
    opt = make(case, params, True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=40)
    x, y = mlp_data()

    def step() -> None:
        opt.zero_grad()
        mlp_loss(params, x, y).backward()
        opt.step()
        sched.step()

    step()
    step()
    before = graphs_compiled()
    lrs = set()
    for _ in range(10):
        step()
        lrs.add(opt.param_groups[0]["lr"])
    assert len(lrs) == 10
    assert graphs_compiled() == before


def test_missing_compiler_falls_back_with_one_warning(monkeypatch: pytest.MonkeyPatch, float64_default: None) -> None:
    monkeypatch.setattr(fused, "_find_compiler", lambda: None)
    monkeypatch.setattr(fused, "_warned_no_compiler", False)
    case = Case("RAdam", {"lr": 1e-2})
    before = graphs_compiled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = []
        for _ in range(2):  # two optimizers, several steps each: still one warning per process
            params = mlp_params()
            train(make(case, params, True), params, 4)
            runs.append(params)
    assert [w.category for w in caught] == [fused.FastPathUnavailable]
    assert graphs_compiled() == before
    ref_params = mlp_params()
    train(make(case, ref_params, False), ref_params, 4)
    assert rel_error(runs[0], ref_params) == 0.0  # the eager path is the reference itself


def test_default_compiles_only_large_stable_groups(monkeypatch: pytest.MonkeyPatch, float64_default: None) -> None:
    # The size rule of the per-tensor compiled path: cautious Adam counts per tensor, so it never goes flat
    # (the flat path's own default is tests/test_flat.py's).
    case = Case("Adam", {"lr": 1e-2, "cautious": True})
    small = mlp_params()
    before = graphs_compiled()
    opt = case.make(small)  # fused=None: the MLP is far below the size threshold
    train(opt, small, 4)
    assert graphs_compiled() == before
    assert opt._fused_plans[0].layout is None  # never took the fast path

    monkeypatch.setattr(fused, "AUTO_MIN_ELEMENTS", 1)
    monkeypatch.setattr(fused, "AUTO_MIN_ELEMENTS_PER_TENSOR", 1)
    params, ref_params = mlp_params(), mlp_params()
    auto, ref = case.make(params), make(case, ref_params, False)
    train(auto, params, 3)
    train(ref, ref_params, 3)
    assert auto._fused_plans[0].layout is not None  # the fast path ran
    assert rel_error(params, ref_params) <= TOL64
    # A group whose set of tensors with gradients keeps changing would compile every time: auto mode gives up
    # (here at the first change, so the test compiles nothing more).
    monkeypatch.setattr(fused, "AUTO_MAX_LAYOUT_CHANGES", 0)
    x, y = mlp_data()
    for i in range(2):
        auto.zero_grad()
        mlp_loss(params, x, y).backward()
        params[i % 4].grad = None
        auto.step()
    assert auto._fused_plans[0].given_up


def test_sparse_and_complex_groups_take_the_reference_path(float64_default: None) -> None:
    before = graphs_compiled()
    emb = [torch.nn.Embedding(10, 3, sparse=True) for _ in range(2)]
    emb[1].load_state_dict(emb[0].state_dict())
    modes = (True, False)
    opts = [optim.Adagrad([{"params": e.parameters(), "fused": m}], lr=0.1) for e, m in zip(emb, modes, strict=True)]
    idx = torch.tensor([1, 2, 2, 7])
    for _ in range(3):
        for e, o in zip(emb, opts, strict=True):
            o.zero_grad()
            e(idx).sum().backward()
            o.step()
    assert torch.equal(emb[0].weight, emb[1].weight)
    z = [torch.randn(4, dtype=torch.complex128, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    zs = [t.clone().requires_grad_() for t in z]
    for t, mode in zip(zs, (True, False), strict=True):
        o = optim.Adam([{"params": [t], "fused": mode}], lr=0.1)
        for _ in range(3):
            o.zero_grad()
            (t.abs() ** 2).sum().backward()
            o.step()
    assert torch.equal(zs[0], zs[1])
    assert graphs_compiled() == before


def test_fused_with_foreach_raises() -> None:
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        optim.Adam([torch.zeros(2, requires_grad=True)], fused=True, foreach=True)


def test_every_rule_compiles_to_one_graph_per_group(float64_default: None) -> None:
    """``fullgraph=True`` would raise on a graph break; here: one compiled variant per rule's own code object."""
    names = {case.optimlab_class().rule.name for case in ALL_CASES}
    assert names == set(RULES)
    assert len({fused.compiled_update(name) for name in names}) == len(names)


def test_population_uses_the_same_fast_path(float64_default: None) -> None:
    """Trials in a population step the same with the compiled per-group update as with the per-tensor loop.

    The two Adam trials sit apart (rows 0 and 2), so their group is not a slice: the copy-back path runs too.
    """
    from optimlab.population import Trial

    trials = [
        Trial("adam", {"lr": 0.1}),
        Trial("nadam", {"lr": 0.05}),
        Trial("adam", {"lr": 0.02, "betas": (0.8, 0.99)}),
        Trial("nadam", {"lr": 0.01}),
    ]
    fast, eager, _ = _population_both_ways(trials, seed=5, steps=5)
    assert rel_error(fast, eager) <= TOL64


def _population_both_ways(trials: list[Any], seed: int, steps: int) -> tuple[list[torch.Tensor], ...]:
    """The parameters after ``steps`` population steps compiled and eager (on a quadratic), and the start."""
    from optimlab.population import Population

    gen = torch.Generator().manual_seed(seed)
    k = len(trials)
    start = [torch.randn(k, 3, 2, generator=gen), torch.randn(k, 5, generator=gen)]
    target = [torch.randn_like(t) for t in start]
    runs = []
    for mode in (True, False):
        params = [t.clone() for t in start]
        pop = Population(trials, params, fused=mode)
        for _ in range(steps):
            pop.step([p - t for p, t in zip(params, target, strict=True)])
        runs.append(params)
    return runs[0], runs[1], start


def test_population_fast_path_with_scalar_state_and_first_step_rules(float64_default: None) -> None:
    """ASGD (η, μ kept per trial in the state; t₀ = 0 for every trial makes μ one shared scalar), Rprop (a bound
    of 0 stays the number 0 beside a per-trial bound) and ADOPT (per-step scalars from the count, a tensor here):
    compiled per-group update and per-tensor loop agree."""
    from optimlab.population import Population, Trial

    trials = [
        Trial("asgd", {"lr": 0.1, "t0": 0.0, "lambd": 0.05}),
        Trial("rprop", {"lr": 0.01, "step_sizes": (0.0, 0.5)}),
        Trial("adopt", {"lr": 0.05}),
        Trial("asgd", {"lr": 0.05, "t0": 0.0}),
        Trial("rprop", {"lr": 0.02, "etas": (0.4, 1.3), "step_sizes": (0.0, 1.0)}),
        Trial("adopt", {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.1, "decouple": True}),
    ]
    gen = torch.Generator().manual_seed(6)
    start = [torch.randn(6, 3, 2, generator=gen), torch.randn(6, 5, generator=gen)]
    target = [torch.randn_like(t) for t in start]
    runs = []
    for mode in (True, False):
        params = [t.clone() for t in start]
        pop = Population(trials, params, fused=mode)
        for _ in range(6):
            pop.step([torch.sin(3 * p) + p - t for p, t in zip(params, target, strict=True)])
        runs.append(params)
    assert rel_error(runs[0], runs[1]) <= TOL64
    assert rel_error(runs[1], start) > 1e-3
    assert fused.compiled_update("asgd").variants  # it did compile (per tensor: ASGD is not on the flat path)
    assert all(fused.compiled_update(name, flat=True).variants for name in ("rprop", "adopt"))  # on flat buffers


def test_tensors_with_different_step_counts(float64_default: None) -> None:
    """A tensor that missed steps (no gradient) keeps its own count: the walk then counts per tensor, as torch.optim
    does, and still equals the reference; once the counts agree again, they advance together."""
    gen = torch.Generator().manual_seed(3)
    start = [torch.randn(6, generator=gen), torch.randn(4, generator=gen)]
    grads = [[torch.randn_like(t) for t in start] for _ in range(5)]
    runs = []
    for mode in (True, False):
        params = [torch.nn.Parameter(t.clone()) for t in start]
        opt = optim.Adam([{"params": params, "fused": mode}], lr=0.05)
        for step, g in enumerate(grads):
            params[0].grad = g[0].clone()
            params[1].grad = g[1].clone() if step >= 2 else None  # the second tensor starts late
            opt.step()
        runs.append((params, [opt.state[p]["step"].item() for p in params]))
    assert runs[0][1] == runs[1][1] == [5.0, 3.0]
    assert rel_error(runs[0][0], runs[1][0]) <= TOL64


def test_direct_calls_skip_dynamo_only_while_nothing_changed(
    monkeypatch: pytest.MonkeyPatch, float64_default: None
) -> None:
    """After the compile step a group's update is called without Dynamo (:class:`fused.DirectCall`); every change
    its check covers sends that step back through Dynamo (gradients in another memory layout, ``maximize``, a
    term switched on, a loaded ``state_dict``), and the numbers equal the reference path throughout."""
    through_dynamo: list[int] = []
    real_call = fused.CompiledUpdate.__call__

    def counted(self: fused.CompiledUpdate, *args: Any) -> fused.Variant | None:
        through_dynamo.append(step)
        return real_call(self, *args)

    monkeypatch.setattr(fused.CompiledUpdate, "__call__", counted)
    x, y = mlp_data()
    runs = []
    for mode in (True, False):
        params = mlp_params()
        # cautious: the per-tensor compiled path (the flat path copies a gradient of another layout instead)
        opt = optim.Adam([{"params": params, "fused": mode}], lr=0.01, cautious=True)
        for step in range(1, 11):
            opt.zero_grad()
            mlp_loss(params, x, y).backward()
            if step == 4:  # W1's gradient arrives transposed in memory (same values)
                params[0].grad = params[0].grad.t().contiguous().t()
            group = opt.param_groups[0]
            group["maximize"] = step == 6
            group["weight_decay"] = 0.1 if step >= 7 else 0.0
            if step == 8:  # a state_dict round trip: new state tensors with the same values
                opt.load_state_dict(copy.deepcopy(opt.state_dict()))
            opt.step()
        runs.append(params)
    assert rel_error(runs[0], runs[1]) <= TOL64
    # step 1 runs the reference path; 2 compiles; 3 is direct; 4 (layout), 5 (layout back), 6 (maximize),
    # 7 (maximize back, weight decay on), 8 (loaded state) go through Dynamo; 9 and 10 are direct again.
    assert through_dynamo == [2, 4, 5, 6, 7, 8]


def test_direct_call_notices_a_parameter_swapped_through_data(float64_default: None) -> None:
    """``p.data = ...`` with another shape keeps the parameter object; its gradients then have the new shape, so
    the direct call's check sends the step back through Dynamo (which recompiles) instead of running code
    compiled for the old shape."""
    gen = torch.Generator().manual_seed(5)
    runs = []
    for mode in (True, False):
        params = [torch.nn.Parameter(torch.ones(6)), torch.nn.Parameter(torch.ones(3))]
        opt = optim.SGD([{"params": params, "fused": mode}], lr=0.1)
        gen.manual_seed(5)
        for step in range(6):
            if step == 4:
                params[0].data = torch.ones(9)
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        runs.append(params)
    assert runs[0][0].shape == (9,)
    assert rel_error(runs[0], runs[1]) <= TOL64


@pytest.mark.parametrize("with_guards", [True, False], ids=["TensorGuards", "python"])
def test_layout_check_tells_gradients_apart(with_guards: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not with_guards:  # as on a torch without Dynamo's C++ TensorGuards
        monkeypatch.delattr(torch._C._dynamo.guards, "TensorGuards")
    examples = [torch.zeros(6, 4), torch.zeros(5)]
    check = fused._layout_check(examples)
    assert check([torch.ones(6, 4), torch.ones(5)])
    others = {
        "shape": [torch.zeros(4, 6), torch.zeros(5)],
        "strides": [torch.zeros(4, 6).t(), torch.zeros(5)],
        "dtype": [torch.zeros(6, 4, dtype=torch.float64), torch.zeros(5)],
        "type": [torch.nn.Parameter(torch.zeros(6, 4)), torch.zeros(5)],
        "count": [torch.zeros(6, 4)],
    }
    for what, tensors in others.items():
        assert not check(tensors), what


def test_group_level_state_of_a_reducing_rule_is_written_back(float64_default: None) -> None:
    """Prodigy's d, d_max ... (0-d tensors in the parameter groups, written inside the compiled step) equal the
    reference path's after every step: torch 2.13 drops some in-place writes to 0-d graph inputs, which only this
    checks directly (the parameters would show a wrong d a step later, a wrong d_prev never)."""
    params, ref_params = mlp_params(), mlp_params()
    fast = optim.Prodigy([{"params": params, "fused": True}], weight_decay=0.01)
    ref = optim.Prodigy([{"params": ref_params, "fused": False}], weight_decay=0.01)
    x, y = mlp_data()
    for _ in range(STEPS):
        for opt, ps in ((fast, params), (ref, ref_params)):
            opt.zero_grad()
            mlp_loss(ps, x, y).backward()
            opt.step()
        for key in optim.Prodigy.rule.shared_state:
            assert rel_error([fast.param_groups[0][key]], [ref.param_groups[0][key]]) <= TOL64, key
    assert float(ref.param_groups[0]["d"]) > 1e-6  # d moved


def test_population_reducing_rule_on_the_fast_path(float64_default: None) -> None:
    """Prodigy trials (sums per trial over every tensor) step the same compiled as through the eager loop; the
    trials at rows 0 and 2 make a group that is not a slice."""
    from optimlab.population import Trial

    trials = [Trial("prodigy", {}), Trial("adam", {"lr": 0.05}), Trial("prodigy", {"d_coef": 0.5, "lr": 0.5})]
    fast, eager, start = _population_both_ways(trials, seed=6, steps=6)
    assert rel_error(fast, eager) <= TOL64
    assert rel_error(eager, start) > 1e-4


_TORCH_KEY_SCRIPT = """
import os, sys, pathlib
import torch._inductor.codecache as codecache
if len(sys.argv) > 1:  # hash a small stand-in package instead of torch (for speed, and to edit it)
    codecache._TORCH_PATH = sys.argv[1]
from optimlab import fused
if os.environ.get("NO_HASHING"):
    def refuse(*args, **kwargs):
        raise AssertionError("hashed torch's sources again")
    codecache.build_code_hash = refuse
fused.remember_torch_key()
print(codecache.torch_key().hex())
"""


def _torch_key_run(cache: Any, *args: str, no_hashing: bool = False) -> str:
    import os
    import subprocess
    import sys

    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache), **({"NO_HASHING": "1"} if no_hashing else {})}
    return subprocess.run([sys.executable, "-c", _TORCH_KEY_SCRIPT, *args], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_torch_key_is_kept_between_processes_and_renewed_when_torch_changes(tmp_path: Any) -> None:
    """Inductor's key for torch's sources: hashed once and written down, read back by the next process without
    hashing (the same value), and hashed anew once a file of the package changes."""
    import os

    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "alpha.py").write_text("A = 1\n")
    (package / "beta.py").write_text("B = 2\n")
    cache = tmp_path / "cache"
    first = _torch_key_run(cache, str(package))
    assert len(first) == 64
    assert [p.name.startswith("optimlab-torch-key-") for p in cache.iterdir()].count(True) == 1
    assert _torch_key_run(cache, str(package), no_hashing=True) == first
    (package / "beta.py").write_text("B = 3\n")
    os.utime(package / "beta.py", ns=(1, 1))
    with pytest.raises(Exception, match="exit status"):  # a changed package is hashed again ...
        _torch_key_run(cache, str(package), no_hashing=True)
    changed = _torch_key_run(cache, str(package))
    assert changed != first  # ... into a new key, kept beside the old one
    assert [p.name.startswith("optimlab-torch-key-") for p in cache.iterdir()].count(True) == 2


def test_kept_torch_key_is_inductors_own(tmp_path: Any) -> None:
    """On the real torch package, the key read back is the one Inductor computes itself."""
    from torch._inductor.codecache import torch_key

    _torch_key_run(tmp_path)
    assert _torch_key_run(tmp_path, no_hashing=True) == torch_key().hex()


def test_asgd_compiles_for_float64_parameters_beside_float32_scalar_state() -> None:
    """Under torch's default dtype (float32) ASGD keeps μ and η in float32, also beside float64 parameters: compiled,
    μ reached lerp_ as a float32 tensor weight, which Inductor refuses ("expected dtype torch.float64 for weight")."""
    assert torch.get_default_dtype() == torch.float32
    generator = torch.Generator().manual_seed(1)
    start = [torch.randn(30, 20, dtype=torch.float64, generator=generator), torch.randn(20, dtype=torch.float64)]
    ends = []
    for make in (lambda ps: torch.optim.ASGD(ps, lr=1e-2, t0=2),
                 lambda ps: optim.ASGD([{"params": ps, "fused": True}], lr=1e-2, t0=2)):
        params = [t.clone() for t in start]
        opt = make(params)
        grads = torch.Generator().manual_seed(2)
        for _ in range(6):  # past t0: the average moves with weights below one
            for p in params:
                p.grad = torch.randn(p.shape, dtype=p.dtype, generator=grads)
            opt.step()
        ends.append([*params, opt.state[params[0]]["ax"]])
    assert rel_error(ends[1], ends[0]) <= 1e-6  # μ and η computed in float32 here, from double there
