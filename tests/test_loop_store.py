"""Kept loops (optimlab.loop_store): a flat step's C loop written down once and taken up without compiling.

Every class with a flat path is stepped once compiled (which keeps its loop) and once more as a later process would
be, with nothing compiled in memory and the compiler refused: the kept loop must serve every step and leave
parameters and state bit for bit where the compiled run left them. Then what must keep a record from being taken: a
digest that does not match what the loop writes, a malformed file, an input path that is not one optimlab writes,
and a key that changes with everything the compiled code was specialised on. Last, two real processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from cases import clone_params, one_case_per_class, rel_error
from optimlab import call_loop, flat, fused, loop_store, optim

pytestmark = pytest.mark.skipif(fused._find_compiler() is None, reason="no C++ compiler: nothing to compile")

SHAPES = [(n,) for n in (9, 12, 15, 18, 21, 13, 16, 19, 3, 4)] + [(3, 5)]
"""With SEPARATE_ELEMENTS = 8: nine tensors alone and three in the shared buffers, ten walks, three calls of four."""

FLAT_CASES = [
    c for c in one_case_per_class()
    if flat.supports(c.optimlab_class().rule, c.optimlab_class().rule_values(c.make([torch.zeros(2)]).param_groups[0]))
]


def _steps(make: Any, start: list[torch.Tensor], steps: int) -> tuple[list[torch.Tensor], Any]:
    params = clone_params(start)
    opt = make([{"params": params, "fused": True}])
    generator = torch.Generator().manual_seed(7)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        opt.step()
    return params, opt


def _start() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in SHAPES]


def _as_a_later_process(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Forget the records looked up so far and refuse to compile; returns the list the refusals are noted in."""
    refused: list[str] = []

    def no_compile(rule_name: str, *args: Any, **kwargs: Any) -> None:
        refused.append(rule_name)
        raise AssertionError("compiled although a kept loop should serve")

    monkeypatch.setattr(loop_store, "_found", {})
    monkeypatch.setattr(fused, "run_compiled", no_compile)
    return refused


@pytest.fixture
def separate_small(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small tensors alone, four a call; and the compiled variants as a first process has them: none. (Variants
    compiled after other tests, with Dynamo's memory of their sizes, can serve some calls of a group and not
    others, and calls on several variants are not looped.)"""
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 8)
    monkeypatch.setattr(flat, "WIDE_MIN_WALKS", 2**62)
    fused._compiled_update.cache_clear()
    torch._dynamo.reset()  # and Dynamo's memory of the sizes it saw (its automatic dynamic shapes), as a new process
    yield
    fused._compiled_update.cache_clear()


@pytest.mark.parametrize("case", FLAT_CASES, ids=lambda c: c.id)
def test_every_flat_class_takes_up_its_kept_loop_bit_for_bit(
    case: Any, float64_default: None, separate_small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = _start()
    compiled, opt = _steps(case.make, start, 6)
    assert opt.__dict__["_flat_plans"][0].flat.loop is not None
    assert any(name.startswith("kept-") for name in os.listdir(loop_store.RECORDS))
    _as_a_later_process(monkeypatch)
    kept, opt_kept = _steps(case.make, start, 6)
    group = opt_kept.__dict__["_flat_plans"][0].flat
    assert group.loop is not None and all(d is None for d in group.directs)  # served by the record alone
    for a, b in zip(compiled, kept, strict=True):
        assert torch.equal(a, b)
    for p, q in zip(compiled, kept, strict=True):
        assert all(torch.equal(opt.state[p][k], opt_kept.state[q][k]) for k in opt.state[p])


def _adam(groups: list[dict[str, Any]]) -> Any:
    return optim.Adam(groups, lr=0.01)


def _record() -> Path:
    records = [p for p in Path(str(loop_store.RECORDS)).iterdir() if p.name.startswith("kept-")]
    assert len(records) == 1
    return records[0]


@pytest.mark.parametrize("damage", ["digest", "truncated", "path", "library", "format"])
def test_a_damaged_record_is_not_taken_and_the_step_compiles(
    damage: str, float64_default: None, separate_small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = _start()
    compiled, _ = _steps(_adam, start, 4)
    path = _record()
    record = json.loads(path.read_text())
    if damage == "digest":
        record["digest"] = "0" * 64
    elif damage == "path":
        record["paths"][0] = "__import__('os').getcwd()"
    elif damage == "library":
        record["kernels"] = [[k[0] if k[0] is None else "missing/kernel.so", k[1]] for k in record["kernels"]]
    elif damage == "format":
        record["format"] = loop_store.FORMAT + 1
    path.write_text(json.dumps(record)[: 40 if damage == "truncated" else None])
    refused = _as_a_later_process(monkeypatch)
    with pytest.raises(AssertionError, match="compiled although"):
        _steps(_adam, start, 4)
    assert refused == ["adam"]
    monkeypatch.undo()  # the compiler back: the step compiles, and ends where the first run did
    monkeypatch.setattr(flat, "SEPARATE_ELEMENTS", 8)
    monkeypatch.setattr(flat, "WIDE_MIN_WALKS", 2**62)
    again, _ = _steps(_adam, start, 4)
    assert all(torch.equal(a, b) for a, b in zip(compiled, again, strict=True))


def test_a_loop_that_writes_otherwise_than_when_kept_is_not_taken(
    float64_default: None, separate_small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest is of what the loop writes: a kept library swapped for one that skips the kernels fails it."""
    _steps(_adam, _start(), 4)
    record = json.loads(_record().read_text())
    source = call_loop._loop_source
    broken = os.path.join(loop_store.cache_dir(), record["loop"])
    monkeypatch.setattr(call_loop, "_loop_source", lambda signatures: source(signatures).replace("    k0(", "    //("))
    signatures = tuple(call_loop.Kernel(1 if k[0] else 0, tuple(map(tuple, k[1]))).signature for k in record["kernels"])
    swapped = call_loop._loop_library(signatures)
    assert swapped is not None and swapped != broken
    record["loop"] = os.path.relpath(swapped, loop_store.cache_dir())
    _record().write_text(json.dumps(record))
    _as_a_later_process(monkeypatch)
    with pytest.raises(AssertionError, match="compiled although"):
        _steps(_adam, _start(), 4)


def _frame(dtype: torch.dtype = torch.float64, keys: tuple[str, ...] = ("exp_avg",), lr: Any = None,
           maximize: bool = False, length: int = 64) -> dict[str, Any]:
    return {
        "rule": optim.Adam.rule, "params": [torch.zeros(length, dtype=dtype)] * 2,
        "grads": [torch.zeros(length, dtype=dtype)] * 2,
        "states": [{k: torch.zeros(length, dtype=dtype) for k in keys}] * 2,
        "hp": {"lr": torch.tensor(0.1, dtype=torch.float64) if lr is None else lr, "weight_decay": 0.0},
        "maximize": maximize, "step": torch.ones((), dtype=torch.float64),
    }


def test_the_key_changes_with_what_the_code_was_specialised_on_and_not_with_values() -> None:
    base = loop_store.key(_frame())
    assert loop_store.key(_frame(length=999)) == base  # lengths are symbolic
    same_values = _frame()
    same_values["hp"]["lr"] = torch.tensor(0.7, dtype=torch.float64)  # a tensor hyperparameter: a value
    assert loop_store.key(same_values) == base
    others = [_frame(dtype=torch.float32), _frame(keys=("exp_avg", "exp_avg_sq")), _frame(lr=0.1),
              _frame(maximize=True)]
    keys = {loop_store.key(f) for f in others}
    assert len(keys) == len(others) and base not in keys
    with torch.no_grad():
        assert loop_store.key(_frame()) != base  # grad mode
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32 if old == torch.float64 else torch.float64)
    try:
        assert loop_store.key(_frame()) != base
    finally:
        torch.set_default_dtype(old)
    other_rule = _frame()
    other_rule["rule"] = optim.NAdam.rule
    assert loop_store.key(other_rule) != base


_LATER_PROCESS = """
import sys, torch
from optimlab import optim
torch.set_num_threads(1)
g = torch.Generator().manual_seed(3)
params = [torch.randn(n, generator=g, dtype=torch.float64, requires_grad=True) for n in (20000, 30000, 300, 40)]
opt = optim.NAdam([{"params": params, "fused": True}], lr=0.01)
for _ in range(4):
    for p in params:
        p.grad = torch.randn(p.shape, generator=g, dtype=torch.float64)
    opt.step()
group = opt._flat_plans[0].flat
print(group.loop is not None, "torch._inductor.compile_fx" in sys.modules, float(sum(p.sum() for p in params)).hex())
"""


@pytest.mark.slow
def test_a_later_process_steps_from_the_kept_loop_without_importing_inductor(tmp_path: Path) -> None:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path)}
    env.pop("PYTHONWARNINGS", None)

    def run() -> list[str]:
        done = subprocess.run([sys.executable, "-c", _LATER_PROCESS], env=env, capture_output=True, text=True,
                              check=True, timeout=600)
        return done.stdout.split()

    first = run()
    assert first[:2] == ["True", "True"]  # compiled, so Inductor was imported
    assert any(p.name.startswith("kept-") for p in (tmp_path / call_loop.LOOP_DIR).iterdir())
    later = run()
    assert later == ["True", "False", first[2]]  # the loop, no Inductor, the same parameters bit for bit


def test_float32_groups_are_kept_and_taken_up_too(separate_small: None, monkeypatch: pytest.MonkeyPatch) -> None:
    start = [t.float() for t in _start()]
    compiled, _ = _steps(_adam, start, 4)
    _as_a_later_process(monkeypatch)
    kept, opt = _steps(_adam, start, 4)
    assert opt.__dict__["_flat_plans"][0].flat.loop is not None
    assert all(torch.equal(a, b) for a, b in zip(compiled, kept, strict=True))
    monkeypatch.undo()
    params = clone_params(start)
    reference = optim.Adam([{"params": params, "fused": False}], lr=0.01)
    generator = torch.Generator().manual_seed(7)
    for _ in range(4):
        for p in params:
            p.grad = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        reference.step()
    assert rel_error(kept, params) <= 1e-5  # float32: PyTorch's fused-against-foreach tolerance
