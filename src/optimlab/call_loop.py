"""One C loop over all of a flat step's calls: the compiled kernels called back to back, no Python between them.

A flat step (:mod:`optimlab.flat`) calls its compiled loop once per :data:`optimlab.flat.BATCH` tensors: with new
gradients every step, a model's large tensors each take a place of their own, so ResNet-50's shapes make about 40
calls a step and 10M parameters in 200 tensors 50. Each call, direct as it is (:class:`optimlab.fused.DirectCall`),
still runs Python: the check of its gradients' layout, the list of its inputs, Inductor's ``call`` function (which
reads sizes and calls the kernels), the parsing of some twenty tensor arguments into pointers, the version bumps.
About 20 us a call right after a step has streamed memory: 1 ms of a 9 ms Adam step at 10M/200, what kept the flat
step behind PyTorch's fused kernels there (``benchmarks/RESULTS.md``, "flat, fifth round").

Here the calls of a whole group run from one C function. What one call does is read off Inductor's function once
(:func:`replay_for`): it is run on stand-in tensors of distinct lengths with its kernels (the C functions Inductor
compiled, taking data pointers and lengths) replaced by recorders, and with :data:`optimlab.hoist.pack_small`
noting its calls, which together say where each argument comes from (which input, which intermediate buffer,
which input's length). Then a loop for that sequence of kernel signatures is generated in C, built once with
Inductor's compiler (0.1-0.2 s; kept in Inductor's cache directory, :data:`LOOP_DIR`), and called through
``ctypes`` with a table of each call's held pointers and lengths, built once, and the step's gradient pointers: a
step checks its gradients' layout in one call, runs the loop (the GIL released) and advances every written
tensor's version counter in one call. Measured (``benchmarks/flat_layout.py --shapes 200x50K --optimizer Adam``,
new gradients every step): 9.4 ms a step with the calls made from Python, 7.6 ms from the loop, torch fused 8.2 ms
(``benchmarks/RESULTS.md``, "flat, sixth round").

Nothing is assumed about Inductor's function: a replay is used only once it has written, on a second set of
stand-ins of other lengths, exactly what Inductor's full wrapper writes, bit for bit. Anything it does not
understand (an argument that is neither a tensor nor a length, an intermediate whose size could depend on a
length, a kernel that is not a plain C function) leaves the step to the per-call path, as does any failure to
build the loop.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import functools
import hashlib
import operator
import os
import re
import subprocess
import tempfile
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from . import fused as _fused

LOOP_DIR = "optimlab-loops"
"""Where, inside Inductor's cache directory, the compiled loops are kept (one shared library per kernel signature)."""

_MAX_BUFFER_ELEMENTS = 1024
"""An intermediate buffer of Inductor's function is taken up only when this small (scalars: NAdam's eight-wide loop
packs 17): far below the stand-ins' lengths, so that its size cannot be one of them (an elementwise rule computes
nothing else of a size between a scalar's and a tensor's)."""

_LENGTHS = (4099, 4201)
"""The first stand-in length of the recording and of the check; the tensors of call position ``j`` get ``+ 7 j``."""


@dataclass(frozen=True)
class Kernel:
    """One kernel call of Inductor's function: its C function's address and, per argument, where it comes from:
    ``("in", i)`` the data pointer of (held) input ``i``, ``("grad", j)`` that of the call's ``j``-th gradient,
    ``("step", 0)`` that of the step count, ``("buf", b)`` that of intermediate buffer ``b``, ``("len", i)`` the
    length of input ``i``. Or (``address`` 0) a call of :data:`optimlab.hoist.pack_small` on one-element float64
    tensors: the packed vector first, then the values."""

    address: int
    sources: tuple[tuple[str, int], ...]

    @property
    def signature(self) -> str:
        """What the C loop needs to know of the call: per argument ``p`` (a held pointer), ``g<j>`` (gradient
        ``j``), ``s`` (the step count) or ``i`` (a length), and ``=`` first for a pack."""
        tokens = ["="] if not self.address else []
        for kind, i in self.sources:
            tokens.append({"len": "i", "grad": f"g{i}", "step": "s"}.get(kind, "p"))
        return " ".join(tokens)


@dataclass(frozen=True)
class Replay:
    """What Inductor's function does for one call of a variant, as a sequence of kernel calls."""

    kernels: tuple[Kernel, ...]
    buffers: tuple[tuple[tuple[int, ...], tuple[int, ...], torch.dtype], ...]
    """The intermediate buffers (shape, strides, dtype), allocated once per :class:`CallLoop`."""
    libraries: tuple[Any, ...]
    """The kernels' shared libraries, held so that their addresses stay valid."""
    loop: Callable[..., None]
    """The compiled C loop for :attr:`kernels`' signatures."""
    library_paths: tuple[str, ...] = ()
    """Where :attr:`libraries` were loaded from, one per kernel that is a C function (:mod:`optimlab.loop_store`)."""
    loop_path: str | None = None
    """Where :attr:`loop` was loaded from."""

    def held_sources(self) -> list[tuple[str, int]]:
        """The pointers the loop reads from its per-call table, in order (held inputs and buffers)."""
        return [s for k in self.kernels for s in k.sources if s[0] in ("in", "buf")]

    def length_sources(self) -> list[int]:
        return [i for k in self.kernels for kind, i in k.sources if kind == "len"]


_NOT_YET = object()
_lock = threading.Lock()


def replay_for(variant: Any, frame: Mapping[str, Any]) -> Replay | None:
    """The checked :class:`Replay` of ``variant`` (a :class:`optimlab.fused.Variant` with a direct function),
    recorded on stand-ins cut from ``frame`` (:func:`optimlab.fused.group_update`'s arguments by name), or ``None``
    when it cannot be replayed; kept on the variant."""
    found: Any = getattr(variant, "replay", _NOT_YET)
    if found is _NOT_YET:
        with _lock:  # the recording swaps the kernels in the module of Inductor's function for a moment
            found = getattr(variant, "replay", _NOT_YET)
            if found is _NOT_YET:
                try:
                    found = _record(variant, frame)
                except Exception:  # torch's private pieces changed, or no compiler: the per-call path serves
                    found = None
                variant.replay = found
    if found is not None:
        from . import loop_store as _loop_store  # (it imports this module)

        with contextlib.suppress(Exception):  # not writable, say: the next process compiles again
            _loop_store.keep(variant, frame, found)  # once a process and key
    return found


def map_tensors(frame: Mapping[str, Any], make: Callable[[Tensor, int, bool], Tensor]) -> dict[str, Any]:
    """``frame`` with every tensor replaced by ``make(tensor, j, is_gradient)``, ``j`` its call position (0 for the
    hyperparameters and the step count); state and hyperparameters in the order of their keys, so that a ``make``
    drawing from a seeded generator draws the same values whatever order the dicts were built in."""
    def each(value: Any, j: int, gradient: bool = False) -> Any:
        return make(value, j, gradient) if isinstance(value, Tensor) else value

    return {
        **frame,
        "params": [each(t, j) for j, t in enumerate(frame["params"])],
        "grads": [each(t, j, True) for j, t in enumerate(frame["grads"])],
        "states": [{k: each(state[k], j) for k in sorted(state)} for j, state in enumerate(frame["states"])],
        "hp": {k: each(frame["hp"][k], 0) for k in sorted(frame["hp"])},
        "step": each(frame["step"], 0),
    }


def stand_in_shape(value: Tensor, j: int, first: int = _LENGTHS[0]) -> tuple[int, ...]:
    """The shape of a stand-in for ``value`` at call position ``j``: ``first + 7 j`` elements if it is
    one-dimensional, else its own shape."""
    return (first + 7 * j,) if value.dim() == 1 else tuple(value.shape)


def _stand_ins(frame: Mapping[str, Any], first: int) -> dict[str, Any]:
    """``frame`` with every one-dimensional tensor of call position ``j`` replaced by ``first + 7 j`` of its values
    (repeated where it is shorter), every other tensor by a copy."""
    def cut(value: Tensor, j: int, _: bool) -> Tensor:
        value = value.detach()
        if value.dim() != 1:
            return value.clone()
        (length,) = stand_in_shape(value, j, first)
        return value.repeat(-(-length // max(len(value), 1)))[:length].clone()

    return map_tensors(frame, cut)


def _record(variant: Any, frame: Mapping[str, Any]) -> Replay | None:
    """:func:`replay_for`'s work: record Inductor's function on stand-ins, map its kernels' arguments, compile the
    loop, check it on other stand-ins (module docstring)."""
    inner = variant.inner
    if inner is None or any(isinstance(t, Tensor) and t.dim() == 1 and len(t) == 0
                            for t in (*frame["params"], *frame["grads"])):
        return None
    namespace = getattr(inner, "__globals__", None) or getattr(getattr(inner, "__func__", None), "__globals__", None)
    if namespace is None:
        return None
    kernels = {name: f for name, f in namespace.items()
               if isinstance(f, types.BuiltinFunctionType) and str(getattr(f.__self__, "__file__", "")).endswith(".so")}
    if not kernels:
        return None
    calls: list[tuple[Any, tuple[Any, ...]]] = []
    me = threading.get_ident()

    def recorder(f: Any) -> Callable[..., Any]:
        def record(*args: Any) -> Any:
            if threading.get_ident() == me:
                calls.append((f, args))
            return f(*args)
        return record

    from . import hoist as _hoist  # imports Inductor: only where something compiled

    inputs = variant.inputs(_stand_ins(frame, _LENGTHS[0]))
    namespace.update({name: recorder(f) for name, f in kernels.items()})
    _hoist.PACKS.calls = calls
    try:
        with torch.no_grad():
            inner(list(inputs))
    finally:
        namespace.update(kernels)
        _hoist.PACKS.calls = None
    position = {id(t): i for i, t in enumerate(inputs) if isinstance(t, Tensor)}
    fresh = _fresh_sources(variant)
    lengths: dict[int, int] = {}
    for i in reversed(range(len(inputs))):  # the first input of a length wins; the held ones before the gradients
        t = inputs[i]
        if isinstance(t, Tensor) and t.dim() == 1 and not variant.fresh[i]:
            lengths[t.shape[0]] = i
    buffers: dict[int, int] = {}
    shapes: list[tuple[tuple[int, ...], tuple[int, ...], torch.dtype]] = []
    made: list[Kernel] = []
    libraries: list[Any] = []
    library_paths: list[str] = []
    for f, args in calls:
        if f is None and not (all(a.numel() == 1 for a in args[1:]) and args[0].shape == (len(args) - 1,)
                              and all(a.dtype == torch.float64 for a in args)):
            return None  # a pack of other tensors than one float64 value each
        sources: list[tuple[str, int]] = []
        for arg in args:
            if isinstance(arg, Tensor) and id(arg) in position:
                i = position[id(arg)]
                if i not in fresh:
                    sources.append(("in", i))
                elif fresh[i] is None:
                    return None  # a new input every step that is neither a gradient nor the step count
                else:
                    sources.append(fresh[i])  # type: ignore[arg-type]
            elif isinstance(arg, Tensor):
                if arg.numel() > _MAX_BUFFER_ELEMENTS or not arg.is_contiguous():
                    return None
                if id(arg) not in buffers:
                    buffers[id(arg)] = len(shapes)
                    shapes.append((tuple(arg.shape), tuple(arg.stride()), arg.dtype))  # (calls keeps it alive)
                sources.append(("buf", buffers[id(arg)]))
            elif type(arg) is int and arg in lengths:
                sources.append(("len", lengths[arg]))
            else:
                return None
        if f is None:
            made.append(Kernel(0, tuple(sources)))
            continue
        library = ctypes.CDLL(f.__self__.__file__)
        libraries.append(library)
        library_paths.append(os.path.abspath(f.__self__.__file__))
        address = ctypes.cast(library.kernel, ctypes.c_void_p).value
        if not address:
            return None
        made.append(Kernel(address, tuple(sources)))
    if not made:
        return None
    signatures = tuple(k.signature for k in made)
    loop = _compiled_loop(signatures)
    if loop is None:
        return None
    replay = Replay(tuple(made), tuple(shapes), tuple(libraries), loop, tuple(library_paths), _loop_library(signatures))
    # The check: on stand-ins of other lengths, the replay writes what Inductor's full wrapper does.
    through, checked = (_stand_ins(frame, _LENGTHS[1]) for _ in range(2))
    with torch.no_grad():
        variant.run(*variant.inputs(through))
    direct = variant.inputs(checked)
    CallLoop(replay, [direct], len(frame["grads"]), None, []).call(checked["grads"], checked["step"])
    for a, b in zip(variant.inputs(through), direct, strict=True):
        if isinstance(a, Tensor) and not (a.dtype == b.dtype and a.shape == b.shape and bool(
                ((a == b) | (a.isnan() & b.isnan())).all())):
            return None
    return replay


def _loop_source(signatures: Sequence[str]) -> str:
    """C source of a loop that makes, for each of ``calls`` calls, one call of each kernel (``signatures``: per
    kernel, :attr:`Kernel.signature`), reading each call's held pointers and lengths from two tables, call after
    call, its gradients from a third (``batch`` a call) and the step count's pointer from ``s``. The kernels take
    typed pointers (``const float*``, ``double*`` ...): declared here as ``void*``, which every C ABI optimlab runs
    on passes alike (the replay's check runs it first). A pack (:data:`optimlab.hoist.pack_small`) copies its
    values, one double each, into the vector its first pointer points to."""
    lines = ["#include <stdint.h>"]
    functions = [s.split() for s in signatures if not s.startswith("=")]
    for k, tokens in enumerate(functions):
        arguments = ", ".join("int64_t" if t == "i" else "void*" for t in tokens) or "void"
        lines.append(f"typedef void (*kernel{k}_t)({arguments});")
    held = sum(t == "p" for s in signatures for t in s.split())
    lengths = sum(t == "i" for s in signatures for t in s.split())
    lines.append('extern "C" void optimlab_loop(void* const* kernels, int64_t calls, int64_t batch, void* const* p, '
                 "const int64_t* n, void* const* g, void* s) {")
    for k in range(len(functions)):
        lines.append(f"  kernel{k}_t k{k} = (kernel{k}_t)kernels[{k}];")
    lines.append(f"  for (int64_t c = 0; c < calls; ++c, p += {held}, n += {lengths}, g += batch) {{")
    at_p = at_n = k = 0
    for signature in signatures:
        passed: list[str] = []
        for token in signature.split():
            if token == "i":
                passed.append(f"n[{at_n}]")
                at_n += 1
            elif token == "p":
                passed.append(f"p[{at_p}]")
                at_p += 1
            elif token == "s":
                passed.append("s")
            elif token != "=":
                passed.append(f"g[{token[1:]}]")
        if signature.startswith("="):
            copies = " ".join(f"o[{v}] = *(const double*){x};" for v, x in enumerate(passed[1:]))
            lines.append(f"    {{ double* o = (double*){passed[0]}; {copies} }}")
        else:
            lines.append(f"    k{k}({', '.join(passed)});")
            k += 1
    lines += ["  }", "}", ""]
    return "\n".join(lines)


@functools.cache
def _compiled_loop(signatures: tuple[str, ...]) -> Callable[..., None] | None:
    """The loop of :func:`_loop_source`, compiled with Inductor's compiler (or loaded from where a process before
    kept it), or ``None`` when that fails."""
    path = _loop_library(signatures)
    return None if path is None else _load_loop(path)


def _load_loop(path: str) -> Callable[..., None]:
    """The loop function of the shared library at ``path``, with its argument types."""
    function = ctypes.CDLL(path).optimlab_loop
    function.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                         ctypes.c_void_p, ctypes.c_void_p]
    function.restype = None
    return function


def _loop_library(signatures: tuple[str, ...]) -> str | None:
    """Where the shared library of :func:`_loop_source`'s loop for ``signatures`` is, built there first if it is
    not yet; ``None`` when that fails (:func:`_compiled_loop` keeps what it loads)."""
    compiler = _fused._find_compiler()
    if compiler is None or any(re.fullmatch(r"(=)?( ?(p|i|s|g\d+))*", s) is None for s in signatures):
        return None
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    source = _loop_source(signatures)
    name = hashlib.sha256(f"{compiler}\n{source}".encode()).hexdigest()[:32]
    folder = os.path.join(cache_dir(), LOOP_DIR)
    path = os.path.join(folder, f"{name}.so")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            code, built = os.path.join(scratch, "loop.cpp"), os.path.join(scratch, "loop.so")
            with open(code, "w") as out:
                out.write(source)
            done = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", built, code],
                                  capture_output=True, timeout=120, check=False)
            if done.returncode != 0:
                return None
            os.replace(built, path)  # atomic: another process finds the whole library or none
    return path


class CallLoop:
    """The calls of one flat group's step, run by a :class:`Replay`'s C loop.

    ``held``: per call, its inputs as its :class:`optimlab.fused.DirectCall` holds them (the ones new every step
    are not read); ``batch``: how many gradients a call takes; ``layout``: a check of the gradients' layout
    (``None``: none); ``mutated``: the tensors whose version counters a step advances.
    """

    def __init__(
        self, replay: Replay, held: Sequence[Sequence[Any]], batch: int,
        layout: Callable[[Sequence[Tensor]], bool] | None, mutated: Sequence[Tensor],
    ) -> None:
        self.replay = replay
        self.batch = batch
        self.buffers = [torch.empty_strided(shape, stride, dtype=dtype) for shape, stride, dtype in replay.buffers]
        sources, lengths = replay.held_sources(), replay.length_sources()
        self.calls = len(held)
        self.table = torch.tensor(
            [self.buffers[i].data_ptr() if kind == "buf" else inputs[i].data_ptr()
             for inputs in held for kind, i in sources], dtype=torch.int64)
        self.lengths = torch.tensor([int(inputs[i].shape[0]) for inputs in held for i in lengths], dtype=torch.int64)
        addresses = [k.address for k in replay.kernels if k.address]
        self.kernels = (ctypes.c_void_p * len(addresses))(*addresses)
        self.layout = layout
        self.mutated = list(mutated)
        self.held = [list(inputs) for inputs in held]  # so that the table's pointers stay valid while it lives
        self.context: tuple[Any, ...] | None = None
        """What besides tensors the calls depend on (:func:`optimlab.fused.call_context`), for :meth:`run`."""
        self.hp: tuple[tuple[str, Tensor], ...] = ()
        """The hyperparameter tensors the calls read, for :meth:`run`."""

    def call(self, grads: Sequence[Tensor], step: Tensor | None) -> bool:
        """Run every call on ``grads`` (every call's gradients, in order) and ``step`` (the step count, where the
        rule counts steps) and return ``True``, or return ``False`` (nothing done) when the gradients' number or
        layout is not the one the loop was built for."""
        if len(grads) != self.calls * self.batch or (self.layout is not None and not self.layout(grads)):
            return False
        pointers = array.array("q", map(Tensor.data_ptr, grads))
        self.replay.loop(self.kernels, self.calls, self.batch, self.table.data_ptr(), self.lengths.data_ptr(),
                         pointers.buffer_info()[0], None if step is None else step.data_ptr())
        if self.mutated:
            _fused.bump_versions(self.mutated)
        return True

    def run(
        self, context: tuple[Any, ...], hp: Mapping[str, Any], grads: Sequence[Tensor], step: Tensor | None
    ) -> bool:
        """:meth:`call`, for a caller that holds every input but the gradients and the step count as the very objects
        the loop was built from (:class:`optimlab.flat.FlatGroup` checks them once a step), when ``context`` and the
        tensor hyperparameters in ``hp`` are also the ones it was built for; ``False`` (nothing done) otherwise."""
        if context != self.context or any(hp.get(k) is not t for k, t in self.hp):
            return False
        return self.call(grads, step)


def _fresh_sources(variant: Any) -> dict[int, tuple[str, int] | None]:
    """Where each input that is new every step comes from in a :class:`CallLoop` (``("grad", j)``: the call's
    ``j``-th gradient; ``("step", 0)``), by input position; ``None`` for one of another kind."""
    fresh: dict[int, tuple[str, int] | None] = {}
    for i, (path, new) in enumerate(zip(variant.paths, variant.fresh, strict=True)):
        if new and not variant.derived[i]:
            match = re.fullmatch(r"a\['grads'\]\[(\d+)\]", path)
            fresh[i] = ("step", 0) if path == "a['step']" else None if match is None else ("grad", int(match.group(1)))
    return fresh


def for_calls(
    directs: Sequence[Any], frame: Mapping[str, Any], grads: Sequence[Tensor], extra_mutated: Sequence[Tensor] = ()
) -> CallLoop | None:
    """A :class:`CallLoop` for a flat group's direct calls (:class:`optimlab.fused.DirectCall`, one variant for
    all, each over as many tensors as ``frame``'s call), or ``None`` when they cannot be looped.

    ``frame``: the arguments of one call by name (the recording cuts its stand-ins from them); ``grads``: every
    call's gradients in order, as this step has them. A step then passes :meth:`CallLoop.call` the same list with
    the step count; ``extra_mutated``: tensors whose version counters the
    step advances besides the calls' own (the parameters viewing a flat buffer)."""
    if not directs or any(d is None or d.variant is not directs[0].variant for d in directs):
        return None
    first = directs[0]
    if any(d.context != first.context or d.held_hp_keys != first.held_hp_keys
           or not all(map(operator.is_, d.held_hp, first.held_hp)) for d in directs):
        return None
    variant = first.variant
    if any(variant.fresh[i] for i in variant.mutated):
        return None  # a gradient written to: its version counter would need a bump a step
    batch = len(frame["grads"])
    if len(grads) != batch * len(directs):
        return None
    replay = replay_for(variant, frame)
    if replay is None:
        return None
    return loop_over(replay, [d.held for d in directs], batch, grads,
                     [t for d in directs for t in d.mutated] + list(extra_mutated), first.context,
                     tuple(zip(first.held_hp_keys, first.held_hp, strict=True)))


def loop_over(
    replay: Replay, held: Sequence[Sequence[Any]], batch: int, grads: Sequence[Tensor], mutated: Sequence[Tensor],
    context: tuple[Any, ...], hp: tuple[tuple[str, Tensor], ...],
) -> CallLoop | None:
    """The :class:`CallLoop` of ``replay`` for calls holding ``held`` (each taking ``batch`` of ``grads``, which set
    the layout a step's gradients are checked against), advancing ``mutated``, for :meth:`CallLoop.run`'s
    ``context`` and tensor hyperparameters ``hp``; ``None`` when a gradient is not contiguous."""
    if not all(g.is_contiguous() for g in grads):
        return None  # the kernels read a gradient's elements in order from its pointer
    loop = CallLoop(replay, held, batch, _fused._layout_check(grads), mutated)
    loop.context, loop.hp = context, hp
    return loop
