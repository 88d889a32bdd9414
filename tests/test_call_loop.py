"""The C loop over a flat step's calls (optimlab.call_loop) against the per-call path it replaces.

Every class with a flat path runs a group of many tensors alone (several calls a step, the last one padded) with new
gradients every step, once with the loop and once without: the loop must be taken and must leave parameters and
state bit for bit where the per-call path does (it runs the same kernels on the same pointers). Then what must make
it step aside: a replay that does not write what Inductor's function writes, gradients of another layout, and
autograd's version counters, which it advances as in-place operations do.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading

import pytest
import torch

from cases import clone_params, one_case_per_class, rel_error
from optimlab import call_loop, flat, fused, optim

pytestmark = pytest.mark.skipif(fused._find_compiler() is None, reason="no C++ compiler: nothing to compile")

SIZES = [9 + (3 * i) % 11 for i in range(9)] + [3, 4]
"""With SEPARATE_ELEMENTS = 8 and the matrix of SHAPES: ten tensors alone and two in the shared buffers, eleven walks,
three calls of four (the last one padded)."""

SHAPES = [(n,) for n in SIZES] + [(3, 5)]

FLAT_CASES = [
    c for c in one_case_per_class()
    if flat.supports(c.optimlab_class().rule, c.optimlab_class().rule_values(c.make([torch.zeros(2)]).param_groups[0]))
]


def _steps(make: object, start: list[torch.Tensor], steps: int, mode: bool | None = True,
           layout: object = None) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    """``steps`` steps from ``start`` with new gradients every step (seeded); ``layout(step, grad)`` may replace a
    gradient by one of another memory layout."""
    params = clone_params(start)
    opt = make([{"params": params, "fused": mode}])  # type: ignore[operator]
    generator = torch.Generator().manual_seed(7)
    for step in range(steps):
        for p in params:
            g = torch.randn(p.shape, generator=generator, dtype=p.dtype)
            p.grad = layout(step, g) if layout is not None else g  # type: ignore[operator]
        opt.step()
    return params, opt


def _group(opt: torch.optim.Optimizer) -> flat.FlatGroup:
    group = opt.__dict__["_flat_plans"][0].flat
    assert group is not None, "the flat path did not run"
    return group


def _start(dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(shape, generator=generator, dtype=dtype) for shape in SHAPES]


@pytest.mark.parametrize("case", FLAT_CASES, ids=lambda c: c.id)
def test_every_flat_class_runs_its_calls_from_one_loop_bit_for_bit(
    case: object, float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 8)
    monkeypatch.setattr(flat, "WIDE_MIN_WALKS", 2**62)  # four a call throughout, so that both runs make the same calls
    # As a first process: a variant an earlier test compiled for other layouts can leave the calls on two variants,
    # which one loop does not join (an RMSprop group of tensors alone did, run before this one).
    fused._compiled_update.cache_clear()
    torch._dynamo.reset()
    start = _start()
    looped, opt = _steps(case.make, start, 6)  # type: ignore[attr-defined]
    group = _group(opt)
    assert group.loop is not None and len(group.directs) == 3 and group.padding
    monkeypatch.setattr(flat, "CALL_LOOP", False)
    called, opt_calls = _steps(case.make, start, 6)  # type: ignore[attr-defined]
    assert _group(opt_calls).loop is None
    for a, b in zip(looped, called, strict=True):
        assert torch.equal(a, b)
    for p, q in zip(looped, called, strict=True):
        mine, theirs = opt.state[p], opt_calls.state[q]
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    reference, _ = _steps(case.make, start, 6, mode=False)  # type: ignore[attr-defined]
    assert rel_error(looped, reference) <= 1e-12


def _adam(groups: list[dict[str, object]]) -> optim.RuleOptimizer:
    return optim.Adam(groups, lr=0.01)  # type: ignore[arg-type]


def test_a_replay_that_writes_otherwise_is_refused(float64_default: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop that skipped the kernels (as if a replay missed what Inductor's function does) fails the replay's check
    on the stand-ins: no loop, and the steps are the per-call path's."""
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 8)
    source = call_loop._loop_source
    monkeypatch.setattr(call_loop, "_loop_source",
                        lambda signatures: re.sub(r"    k\d+\(.*\);\n", "", source(signatures)))
    fused._compiled_update.cache_clear()  # new variants, with no replay kept on them
    call_loop._compiled_loop.cache_clear()
    try:
        start = _start()
        fast, opt = _steps(_adam, start, 5)
        group = _group(opt)
        assert group.loop is None and group.loop_failed
        assert all(d is not None and getattr(d.variant, "replay", 0) is None for d in group.directs)
        reference, _ = _steps(_adam, start, 5, mode=False)
        assert rel_error(fast, reference) <= 1e-12
    finally:
        fused._compiled_update.cache_clear()
        call_loop._compiled_loop.cache_clear()


def test_gradients_of_another_layout_take_the_calls_for_that_step(
    float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 8)
    taken: list[tuple[call_loop.CallLoop, bool]] = []
    call = call_loop.CallLoop.call

    def spy(self: call_loop.CallLoop, grads: list[torch.Tensor], step: torch.Tensor | None) -> bool:
        taken.append((self, call(self, grads, step)))
        return taken[-1][1]

    monkeypatch.setattr(call_loop.CallLoop, "call", spy)

    def transposed_at_step_3(step: int, g: torch.Tensor) -> torch.Tensor:
        return g.t().contiguous().t() if step == 3 and g.dim() == 2 else g  # same values, column-major

    start = _start()
    fast, opt = _steps(_adam, start, 6, layout=transposed_at_step_3)
    loop = _group(opt).loop
    assert loop is not None
    # Steps 2-5 (step 1 builds the loop; a recording also runs one on stand-ins): step 3 declined.
    assert [done for made, done in taken if made is loop] == [True, False, True, True]
    reference, _ = _steps(_adam, start, 6, mode=False, layout=transposed_at_step_3)
    assert rel_error(fast, reference) <= 1e-12


def test_the_loop_advances_autograds_version_counters(float64_default: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 8)
    params, opt = _steps(_adam, _start(), 3)
    group = _group(opt)
    assert group.loop is not None
    written = [p.detach() for p in params] + [opt.state[p][k] for p in params for k in ("exp_avg", "exp_avg_sq")]
    versions = [t._version for t in written]
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    assert all(t._version > v for t, v in zip(written, versions, strict=True))
    weight = params[-1].requires_grad_()
    loss = (weight * weight).sum()  # saves the weight for backward: an update in between must be caught
    weight.grad = torch.ones_like(weight)
    for p in params[:-1]:
        p.grad = torch.ones_like(p)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_the_default_records_the_loop_in_its_background_compile(
    float64_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 8)
    monkeypatch.setattr(flat, "AUTO_MIN_REFERENCE_SECONDS", 0.0)
    fused._compiled_update.cache_clear()  # new variants: the recording happens again
    threads: list[str] = []
    record = call_loop._record

    def spy(variant: object, frame: object) -> object:
        threads.append(threading.current_thread().name)
        return record(variant, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(call_loop, "_record", spy)

    def judge(self: flat.FlatPlan, seconds: float) -> None:  # on tensors this small the reference path may be faster
        self.flat_seconds.append(seconds)
        self.decision = "flat: as the test decides"

    monkeypatch.setattr(flat.FlatPlan, "_judge", judge)
    try:
        params = clone_params(_start())
        opt = _adam([{"params": params, "fused": None}])
        for _ in range(8):
            for p in params:
                p.grad = torch.randn_like(p)
            opt.step()
            flat.wait_for_compiles(opt)
        group = _group(opt)
        assert group.loop is not None
        assert threads and all(name.startswith("optimlab-flat-") for name in threads)
    finally:
        fused._compiled_update.cache_clear()


def test_a_compiled_loop_is_kept_in_inductors_cache_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    signatures = ("p g0 s i", "= p p p")
    call_loop._compiled_loop.cache_clear()
    assert call_loop._compiled_loop(signatures) is not None
    folder = os.path.join(cache_dir(), call_loop.LOOP_DIR)
    assert any(name.endswith(".so") for name in os.listdir(folder))
    call_loop._compiled_loop.cache_clear()

    def no_compiler(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(subprocess, "run", no_compiler)
    assert call_loop._compiled_loop(signatures) is not None  # loaded from the directory, not built
    call_loop._compiled_loop.cache_clear()
