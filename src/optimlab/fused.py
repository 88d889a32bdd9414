"""The fast path: a rule's own ``update``, compiled over all the tensors of a parameter group at once.

No algorithm is written twice. :func:`group_update` walks a group's tensors and calls ``rule.update`` on each,
exactly as the reference loop in :mod:`optimlab.optim` does; ``torch.compile`` traces that walk into one graph
and Inductor turns each tensor's chain of elementwise operations into one fused C++ loop (read p, g and the
state once, write them once), which is what PyTorch's hand-written fused kernels do for the four algorithms
they cover.

What keeps the compiled code valid across steps:

* Hyperparameters reach the rule as 0-d float64 tensors (the tensor path of :mod:`optimlab.rules._math`), so a
  learning-rate scheduler changing ``lr`` every step does not recompile. A hyperparameter equal to zero stays
  the Python number ``0.0`` instead, so the rule skips the optional term (momentum, weight decay) exactly as
  the reference does and allocates the same state; switching such a term on later recompiles once.
  ``lr`` is always a tensor: warm-up schedules start at zero.
* The step counts stay in the state as torch.optim keeps them (a 0-d tensor per tensor), held as views of one
  vector per group (:meth:`GroupPlan._advance_counts`): when they agree, as they nearly always do, they advance
  in one operation and the walk gets the count once, as a float64 tensor; otherwise the compiled code counts
  each tensor's own steps.
* :class:`optimlab.hoist.HoistScalars` (an Inductor pass) computes every per-step scalar once per step instead
  of inside each element loop; that is what brings the compiled loops to the memory-bandwidth floor.
* From the step after the compile on, a group's update is called without going through Dynamo while nothing it
  depends on has changed (:class:`DirectCall`): with hundreds of tensors, Dynamo's entry and guards cost more
  than the difference to PyTorch's fused kernels. A flat call goes further and runs Inductor's function itself,
  without AOTAutograd's wrappers either, once :func:`_inner_call` has checked that this skips nothing.
* Structural flags (``amsgrad``, ``nesterov``, ``maximize`` ...), tensor shapes and dtypes, and the number of
  tensors in the group are specialised: changing them recompiles (seconds), see ``benchmarks/RESULTS.md``.

Each rule gets its own copy of the compiled function (its own code object), so the compiled variants of one
rule never evict another's. Inductor's on-disk cache makes a second process compile the same group much
faster than the first.

When no C++ compiler is found, :func:`available` warns once and returns ``False``; callers then take the
eager reference path.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import threading
import types
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.fx.experimental import _config as _fx_config

from .rules import TRIAL_DIMS, Rule, Scalar, State
from .rules._math import descent_gradient
from .rules.nadam import scalar_dtype

# The limit on compiled variants is raised because one rule serves many groups, shapes and flag combinations.
_DYNAMO_SETTINGS: dict[str, Any] = {"recompile_limit": 64}


# Inductor: the scalar-hoisting pass (see optimlab.hoist); no per-call size asserts on the inputs (Dynamo's guards
# already check every tensor's shape and strides, and with hundreds of tensors the asserts cost more than the math).
# No precompiled header: building it costs more (9 s measured) than the few kernels a flat step compiles save.
_INDUCTOR_OPTIONS: dict[str, Any] = {"size_asserts": False, "cpp_cache_precompile_headers": False}


@functools.cache
def _inductor_settings() -> dict[str, Any]:
    from .hoist import HoistScalars  # an Inductor pass: imported where something compiles, not at import

    return {"post_grad_custom_post_pass": HoistScalars(), **_INDUCTOR_OPTIONS}


@contextlib.contextmanager
def _no_tensorify_restart() -> Iterator[None]:
    """While the fast path compiles: no ``tensorify_python_scalars`` pass over the traced graph.

    Dynamo gives every 0-d float64 input (the hyperparameter tensors, the step count) a symbolic float for its
    ``.item()``; the walk never reads one as a number, so that pass found them unused, specialised them and made
    Dynamo trace the whole walk again ("Restarting analysis due to _tensorify_python_scalars"). NAdam's cold
    compile of four flat tensors, four fresh processes each, alternating: 8.2-9.1 s without the pass against
    9.6-11.5 s with it (``benchmarks/RESULTS.md``, "flat, fourth round"). The graph is the same either way. Only the
    pass is switched off, where AOTAutograd calls it, and only while this compiles. A walk that does compute with
    such a value as a number (a population's Rprop: Dynamo leaves an ``.item()`` that only the pass turns back into
    tensor operations) then fails to lower; :meth:`CompiledUpdate.__call__` compiles it again with the pass.
    """
    tensorify: Any = None
    with contextlib.suppress(Exception):  # torch's private module moved: keep the pass
        import torch.fx.passes._tensorify_python_scalars as tensorify
    switch = getattr(tensorify, "_is_tensorify_enabled", None)
    if switch is None:
        yield
        return
    tensorify._is_tensorify_enabled = lambda: False
    try:
        yield
    finally:
        tensorify._is_tensorify_enabled = switch


@functools.cache
def _compile_errors() -> tuple[type[BaseException], ...]:
    """The exceptions Dynamo and Inductor raise when a graph fails to compile (nothing has run yet)."""
    found: list[type[BaseException]] = []
    for module, name in (("torch._dynamo.exc", "BackendCompilerFailed"), ("torch._inductor.exc", "InductorError")):
        with contextlib.suppress(Exception):
            found.append(getattr(__import__(module, fromlist=[name]), name))
    return tuple(found)


@contextlib.contextmanager
def _known_isa() -> Iterator[None]:
    """While the fast path compiles: the vector instruction set is the one ATen itself runs with.

    Inductor otherwise probes every instruction-set variant the CPU reports by compiling and loading a test
    program for each (six C++ builds, 18 s measured in a fresh cache directory), before the first kernel. ATen has
    already chosen (``torch.backends.cpu.get_cpu_capability()``); an elementwise update needs nothing beyond it.
    Outside this block Inductor's own choice stands.
    """
    try:
        import torch._inductor.cpu_vec_isa as isa_module

        chosen = _aten_isa()
    except Exception:  # torch's private ISA API changed: keep Inductor's own probe
        chosen = None
    if chosen is None:
        yield
        return
    probe = isa_module.valid_vec_isa_list
    isa_module.valid_vec_isa_list = lambda: [chosen]  # type: ignore[assignment]
    try:
        yield
    finally:
        isa_module.valid_vec_isa_list = probe


@functools.cache
def _aten_isa() -> Any:
    """An Inductor ``VecISA`` for ATen's CPU capability, trusted without a test build; ``None`` if there is none."""
    import torch._inductor.cpu_vec_isa as isa_module

    base = {"AVX512": isa_module.VecAVX512, "AVX2": isa_module.VecAVX2}.get(torch.backends.cpu.get_cpu_capability())
    if base is None:
        return None
    trusted = type("TrustedISA", (base,), {"__bool__": lambda self: True, "__hash__": base.__hash__})
    return trusted()


_prepared: threading.Thread | None = None


def prepare_compiler() -> threading.Thread:
    """Start, once per process, a background thread that does what every process's first compile does before any
    compiling: find the C++ compiler, import Inductor and our pass, and find Inductor's key for torch's sources
    (:func:`remember_torch_key`); about 1.5-2 s measured, a warm compile is about 0.5 s more. Called when a
    parameter group is built with ``fused=True``, so the first compiled step does not wait for it (``fused=None``
    compiles in a background thread anyway)."""
    global _prepared
    if _prepared is None:
        _prepared = threading.Thread(target=_prepare, name="optimlab-prepare-compiler", daemon=True)
        _prepared.start()
    return _prepared


def _prepare() -> None:
    try:
        if _find_compiler() is None:
            return
        import torch._inductor.compile_fx  # noqa: F401

        _inductor_settings()
        remember_torch_key()
    except Exception:  # the compile itself will report what is wrong
        pass


TORCH_KEY_FILE = "optimlab-torch-key-{fingerprint}.bin"
"""Where :func:`remember_torch_key` keeps Inductor's key for torch's sources, in Inductor's cache directory."""


@functools.cache
def remember_torch_key() -> None:
    """Give Inductor its key for torch's own sources from a file, instead of hashing torch once more.

    Every process's first compile hashes the contents of every module of the torch package into one key for
    Inductor's caches (``torch._inductor.codecache.torch_key``): 0.5-0.9 s measured, half of a warm compile. The
    key is kept in Inductor's cache directory (:data:`TORCH_KEY_FILE`) under a fingerprint of the package: torch's
    version, its location, and the size and modification time of each of its ``.py`` and ``.so`` files (0.06 s
    to compute), so installing, upgrading or editing torch makes a new key. Inductor's own value is then set
    through its cache's ``set``; anything unexpected leaves Inductor to hash as it always did.
    """
    import hashlib
    import os

    try:
        from torch._inductor import codecache
        from torch._inductor.runtime.cache_dir_utils import cache_dir

        fingerprint = torch_fingerprint(codecache._TORCH_PATH)
        path = os.path.join(cache_dir(), TORCH_KEY_FILE.format(fingerprint=fingerprint[:32]))
        if os.path.exists(path):
            with open(path, "rb") as file:
                key = file.read()
            if len(key) == hashlib.sha256().digest_size:
                with contextlib.suppress(RuntimeError):  # Inductor already has its key
                    codecache.torch_key.set(key)  # type: ignore[attr-defined]
                return
        key = codecache.torch_key()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}.{threading.get_ident()}"
        with open(partial, "wb") as file:
            file.write(key)
        os.replace(partial, path)  # whole or absent, for a process reading it at the same time
    except Exception:  # torch's private cache API changed, or the directory is not writable
        pass


@functools.cache
def torch_fingerprint(root: str) -> str:
    """A digest of the torch package at ``root``: its version, location, and the size and modification time of each
    of its ``.py`` and ``.so`` files (0.06 s), so that installing, upgrading or editing torch changes it."""
    import hashlib
    import os

    fingerprint = hashlib.sha256(f"{torch.__version__}\0{root}".encode())
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            if name.endswith((".py", ".so")):
                stat = os.stat(os.path.join(directory, name))
                fingerprint.update(f"\0{directory}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return fingerprint.hexdigest()


_warned_no_compiler = False


class FastPathUnavailable(RuntimeWarning):
    """Warned (once per process) when the fast path is asked for but cannot be compiled here."""


@functools.cache
def _find_compiler() -> str | None:
    """The C++ compiler Inductor would use, or ``None`` when this machine has none."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        return get_cpp_compiler()
    except Exception:  # Inductor raises its own InvalidCxxCompiler; any failure here means "none found"
        return None


def available(warn: bool = True) -> bool:
    """Whether the compiled path can run here; warns once (:class:`FastPathUnavailable`) when it cannot."""
    global _warned_no_compiler
    if _find_compiler() is not None:
        return True
    if warn and not _warned_no_compiler:
        _warned_no_compiler = True
        warnings.warn(
            "optimlab: no C++ compiler found, so the compiled step (fused=True, or the default where it would "
            "pay) runs the eager reference update instead; install g++ (or set CXX) to get it.",
            FastPathUnavailable,
            stacklevel=3,
        )
    return False


def group_update(
    rule: Rule,
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    states: Sequence[State],
    hp: Mapping[str, Scalar],
    maximize: bool,
    step: Tensor | None,
) -> None:
    """Apply ``rule.update`` to every tensor of a group: the code that gets compiled (it also runs eagerly).

    ``step`` is the step count shared by all tensors (the population's); ``None`` means each tensor counts
    its own steps in ``state["step"]``, as torch.optim does. Per-trial hyperparameters (``[K]`` tensors) are
    broadcast over each tensor's leading trial dimension.
    """
    # A rule with group-level state (a reduction over the group's tensors, see rules._base) takes the whole walk
    # at once; ``hp`` then holds the shared tensors too. The branch is decided while tracing (the rule is fixed).
    walk: list[tuple[Tensor, Tensor, State, dict[str, Scalar], Any]] | None = [] if rule.shared_state else None
    for p, g, state in zip(params, grads, states, strict=True):
        g = descent_gradient(g, maximize)
        t: Any = 0
        if step is not None:
            t = step
        elif rule.counts_steps:
            count = state["step"]
            count += 1
            t = count.to(torch.float64)
        # Scalar state (NAdam's running product) goes in as a one-element view, so the rule keeps it a tensor
        # instead of reading it with .item(): on torch 2.13 Inductor drops an in-place update of a 0-d input
        # that is read back with .item() in the same graph (tests/test_fused.py checks the result).
        seen = {k: v.view(1) if v.dim() == 0 else v for k, v in state.items() if k != "step"}
        if walk is not None:
            walk.append((p, g, seen, Rule.broadcast(hp, p), t))
            continue
        rule.update(p, g, seen, Rule.broadcast(hp, p), t)
        for k, v in seen.items():
            if k not in state:  # state the rule created during this step (a buffer switched on mid-run)
                state[k] = v
    if walk:
        # Written through one-element views, as the scalar state above: on torch 2.13 an in-place write to a 0-d
        # input of the graph is dropped (even copy_ and add_, even without .item(); tests/test_fused.py).
        shared = {k: hp[k].view(1) if hp[k].dim() == 0 else hp[k] for k in rule.shared_state}  # type: ignore[union-attr]
        ps, gs, seens, hps, steps = (list(column) for column in zip(*walk, strict=True))
        rule.update_group(ps, gs, seens, hps, steps, shared, hp)  # type: ignore[arg-type]


_ARGUMENTS = ("rule", "params", "grads", "states", "hp", "maximize", "step")
"""The names of :func:`group_update`'s arguments, as Dynamo's guards look them up."""

_MAX_VARIANTS = 16
"""How many compiled variants of one rule :class:`CompiledUpdate` keeps for direct calls (the most recent)."""


class Variant:
    """One compiled variant of a rule's update, callable without going through Dynamo.

    ``guard`` is Dynamo's own guard manager for it (it checks everything the variant was specialised on),
    ``run`` the Inductor function, ``inputs`` reads that function's inputs from :func:`group_update`'s arguments
    (a mapping by name) in the order the graph takes them, and ``fresh`` marks the inputs that are new tensors on
    every call (gradients, the shared step count) rather than the same objects (parameters, state,
    hyperparameter tensors).
    """

    def __init__(self, guard: Any, run: Callable[..., Any], paths: Sequence[str]) -> None:
        self.guard = guard
        self.run = run
        self.paths = tuple(paths)
        self.inner: Callable[[list[Any]], Any] | None = None
        """Inductor's own function inside ``run``, where :func:`_inner_call` found and checked it."""
        self.mutated: tuple[int, ...] = ()
        """The inputs ``run`` writes to (whose version counters it advances), by position."""
        self.inputs = input_reader(paths)
        self.fresh = tuple(path.startswith(("a['grads']", "a['step']")) for path in paths)
        # A size read off an input that is checked otherwise.
        self.derived = tuple(".shape[" in path or ".storage_offset()" in path for path in paths)


def input_reader(paths: Sequence[str]) -> Callable[[Mapping[str, Any]], list[Any]]:
    """A function reading a graph's inputs, in order, from :func:`group_update`'s arguments by name (``paths``:
    subscript expressions on ``a``, as :func:`_input_paths` writes them)."""
    reader: Callable[[Mapping[str, Any]], list[Any]] = eval("lambda a: [" + ", ".join(paths) + "]")
    return reader


STAND_IN_ELEMENTS = 64
"""The length of the stand-in tensors on which :func:`_inner_call` checks Inductor's function against ``run``."""


def _inner_call(
    run: Callable[..., Any], inputs: Callable[[Mapping[str, Any]], list[Any]], frame: Mapping[str, Any],
    fakes: Sequence[Any],
) -> tuple[Callable[[list[Any]], Any], tuple[int, ...]] | None:
    """Inductor's compiled function inside the wrappers of ``run`` (what :func:`compile_fx` returned), and the inputs
    ``run`` writes to, or ``None``.

    Dynamo's and AOTAutograd's wrappers around it cost about 20 us a call right after a step has streamed memory
    (one flat call updates :data:`optimlab.flat.BATCH` tensors: ``benchmarks/RESULTS.md``, "flat, fourth round").
    For a graph that returns nothing and writes its inputs in place, what they do besides calling it is advance
    the written inputs' version counters (:class:`DirectCall` does that too) and turn grad mode off (no input of a
    flat call requires grad, so the kernels, which write through pointers, are not affected by it). Whether
    that is all is checked here, not assumed (the wrappers are private and change between torch releases): both
    are run on stand-ins of :data:`STAND_IN_ELEMENTS` elements cut from ``frame``'s tensors, which must then agree
    bit for bit, and Inductor's function must return nothing. Only for graphs whose tensor inputs are 0-d or
    one-dimensional of symbolic length (the flat path), so that the compiled code serves the stand-ins' lengths.
    """
    if any(isinstance(f, Tensor) and (f.dim() > 1 or (f.dim() == 1 and not isinstance(f.shape[0], torch.SymInt)))
           for f in fakes):
        return None  # a fixed length: the compiled code would read past a shorter stand-in
    found = _find_compiled_graph(run, depth=0)
    if found is None or not hasattr(torch.autograd.graph, "increment_version"):
        return None
    inner = found.current_callable

    def stand_ins() -> dict[str, Any]:
        def cut(value: Any) -> Any:
            if not isinstance(value, Tensor):
                return value
            return value.detach()[:STAND_IN_ELEMENTS].clone() if value.dim() == 1 else value.detach().clone()

        return {
            **frame, "params": [cut(t) for t in frame["params"]], "grads": [cut(t) for t in frame["grads"]],
            "states": [{k: cut(v) for k, v in state.items()} for state in frame["states"]],
            "hp": {k: cut(v) for k, v in frame["hp"].items()}, "step": cut(frame["step"]),
        }

    through, direct = inputs(stand_ins()), inputs(stand_ins())
    versions = [t._version if isinstance(t, Tensor) else None for t in through]
    with torch.no_grad():
        run(*through)
        if inner(list(direct)):
            return None  # outputs for a wrapper to apply
    for a, b in zip(through, direct, strict=True):
        if isinstance(a, Tensor) and not (a.dtype == b.dtype and a.shape == b.shape and bool(
                ((a == b) | (a.isnan() & b.isnan())).all())):
            return None
    mutated = tuple(i for i, (t, v) in enumerate(zip(through, versions, strict=True))
                    if isinstance(t, Tensor) and t._version != v)
    return inner, mutated


def _find_compiled_graph(function: Any, depth: int) -> Any:
    """The Inductor ``CompiledFxGraph`` that ``function`` (a chain of wrappers) calls, found through the wrappers'
    closures; ``None`` when there is none or more than one."""
    if type(function).__name__ == "CompiledFxGraph" and callable(getattr(function, "current_callable", None)):
        return function
    if depth > 8:
        return None
    found: list[Any] = []
    inner = [getattr(function, "__wrapped__", None), getattr(function, "compiled_fn", None)]
    for cell in getattr(function, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            inner.append(cell.cell_contents)
    seen: set[int] = set()
    for candidate in inner:
        if candidate is None or isinstance(candidate, type) or id(candidate) in seen or not callable(candidate):
            continue
        seen.add(id(candidate))
        graph = _find_compiled_graph(candidate, depth + 1)
        if graph is not None and all(graph is not other for other in found):
            found.append(graph)
    return found[0] if len(found) == 1 else None


def _input_paths(
    example_inputs: Sequence[Any], frame: Mapping[str, Any], fakes: Sequence[Any] = ()
) -> list[str] | None:
    """Where each of a graph's inputs sits in ``frame`` (:func:`group_update`'s arguments by name), as a
    subscript expression on ``a``; ``None`` when one of them is not found there. ``fakes``: the graph's
    placeholder values (symbolic), which say which size of the first parameter a symbolic input is."""
    where: dict[int, str] = {}
    for name in ("params", "grads"):
        for i, t in enumerate(frame[name]):
            where[id(t)] = f"a[{name!r}][{i}]"
    for i, state in enumerate(frame["states"]):
        for key, value in state.items():
            if isinstance(key, str) and isinstance(value, Tensor):
                where[id(value)] = f"a['states'][{i}][{key!r}]"
    for key, value in frame["hp"].items():
        if isinstance(value, Tensor):
            where[id(value)] = f"a['hp'][{key!r}]"
    if isinstance(frame["step"], Tensor):
        where[id(frame["step"])] = "a['step']"
    paths = [where.get(id(t), "") if isinstance(t, Tensor) else "" for t in example_inputs]
    sizes = _size_paths(paths, fakes)
    paths = [path or (sizes.get(t.node.expr, "") if isinstance(t, torch.SymInt) else "")
             for t, path in zip(example_inputs, paths, strict=True)]
    return paths if all(paths) else None


def _size_paths(paths: Sequence[str], fakes: Sequence[Any]) -> dict[Any, str]:
    """Where each symbolic size of the graph can be read (a flat buffer's length, a population's trial count, the
    storage offset of a population group's rows): from the symbolic values of the tensor inputs (``fakes``, by
    position, ``paths`` their places in the frame), by symbol; gradients last (they are new every step)."""
    out: dict[Any, str] = {}
    order = sorted(range(min(len(paths), len(fakes))), key=lambda i: paths[i].startswith("a['grads']"))
    for i in order:
        fake, path = fakes[i], paths[i]
        if not path or not isinstance(fake, Tensor):
            continue
        sizes = [(f"{path}.shape[{d}]", fake.shape[d]) for d in range(fake.dim())]
        for where, size in [*sizes, (f"{path}.storage_offset()", fake.storage_offset())]:
            if isinstance(size, torch.SymInt) and size.node.expr.is_Symbol:
                out.setdefault(size.node.expr, where)
    return out


class CompiledUpdate:
    """:func:`group_update` compiled for one rule, with its own code object and hence its own compile cache.

    Calling it goes through ``torch.compile``: Dynamo checks its guards (and traces, the first time), Inductor
    compiles. Each new variant that can later be called directly (see :class:`DirectCall`) is kept: only variants
    whose graph returns nothing, so that their whole effect is the in-place writes of the compiled function and
    skipping Dynamo's bytecode skips nothing. :meth:`variant_for` finds the kept variant for given arguments;
    only callers that make direct calls ask (it runs Dynamo's full guards once more).
    """

    def __init__(self, rule_name: str, flat: bool = False) -> None:
        code = group_update.__code__.replace(co_name=f"{'flat' if flat else 'fused'}_{rule_name}")
        self.function = types.FunctionType(code, group_update.__globals__, code.co_name)
        self.flat = flat
        # The flat path marks its buffers' length dynamic (flat.FlatGroup), so one compile serves every length.
        dynamic = None if flat else False
        self.compiled = torch.compile(self.function, fullgraph=True, dynamic=dynamic, backend=self._inductor)
        self.variants: list[Variant] = []
        self._new: tuple[list[Any], Callable[..., Any], list[Any]] | None = None

    def _inductor(self, graph: torch.fx.GraphModule, example_inputs: list[Any]) -> Callable[..., Any]:
        """The Dynamo backend: Inductor with :func:`_inductor_settings`, noting what it compiled."""
        from torch._inductor.compile_fx import compile_fx

        run: Callable[..., Any] = compile_fx(graph, example_inputs, config_patches=_inductor_settings())  # type: ignore[assignment]
        output = next(node for node in graph.graph.nodes if node.op == "output")
        fakes = [node.meta.get("example_value") for node in graph.graph.nodes if node.op == "placeholder"]
        self._new = (list(example_inputs), run, fakes) if not output.args[0] else None
        return run

    def __call__(self, *args: Any) -> None:
        self._new = None
        remember_torch_key()
        with torch._dynamo.config.patch(_DYNAMO_SETTINGS), _known_isa():
            try:
                with _no_tensorify_restart():
                    self.compiled(*args)
            except _compile_errors():  # a walk that computes with a tensor's value as a number needs the pass
                self._new = None
                self.compiled(*args)
        try:
            if self._new is not None:
                self._adopt(dict(zip(_ARGUMENTS, args, strict=True)), *self._new)
        except Exception:  # torch's private guard API changed: every call goes through Dynamo, as before
            pass
        finally:
            self._new = None

    def variant_for(self, frame: Mapping[str, Any]) -> Variant | None:
        """The kept variant whose guards pass for ``frame`` (:func:`group_update`'s arguments by name), if any."""
        try:
            return next((v for v in self.variants if v.guard.check(frame)), None)
        except Exception:  # torch's private guard API changed
            return None

    def _adopt(
        self, frame: Mapping[str, Any], example_inputs: list[Any], run: Callable[..., Any], fakes: list[Any]
    ) -> None:
        from torch._dynamo.eval_frame import _debug_get_cache_entry_list

        paths = _input_paths(example_inputs, frame, fakes)
        if paths is None:
            return
        guard = _debug_get_cache_entry_list(self.function.__code__)[0].guard_manager  # Dynamo's newest entry
        variant = Variant(guard, run, paths)
        if self.flat:
            try:
                found = _inner_call(run, variant.inputs, frame, fakes)
            except Exception:  # torch's private wrappers changed: direct calls go through them
                found = None
            if found is not None:
                variant.inner, variant.mutated = found
        self.variants = [variant, *self.variants][:_MAX_VARIANTS]


def compiled_update(rule_name: str, flat: bool = False) -> CompiledUpdate:
    """The compiled :func:`group_update` of one rule (see :class:`CompiledUpdate`); ``flat``: over flat buffers of
    any length (:mod:`optimlab.flat`)."""
    return _compiled_update(rule_name, bool(flat))  # one cache key however ``flat`` is passed


@functools.cache
def _compiled_update(rule_name: str, flat: bool) -> CompiledUpdate:
    return CompiledUpdate(rule_name, flat)



def run_compiled(
    rule_name: str, args: Sequence[Any], direct: DirectCall | None, flat: bool, dynamic: Sequence[Tensor] = (),
    own_lengths: bool = False, context: tuple[Any, ...] | None = None,
) -> DirectCall | None:
    """Run :func:`group_update` compiled on ``args``, directly when ``direct`` still applies; returns the direct
    call to use next time. ``dynamic``: tensors whose length to mark dynamic before going through Dynamo (a new
    gradient tensor each step; marking costs about 40 us, so only where Dynamo will see it). ``own_lengths``: each
    tensor's symbolic length is its own even where two are equal when traced (no duck sizing), so that one compile
    serves a call over several tensors of any lengths (:data:`optimlab.flat.BATCH`). ``context``: the
    :func:`call_context` of ``args``, where the caller makes several calls that share it."""
    frame = dict(zip(_ARGUMENTS, args, strict=True))
    if direct is not None and direct.run(frame, context):
        return direct
    for tensor in dynamic:
        torch._dynamo.mark_dynamic(tensor, 0)
    update = compiled_update(rule_name, flat)
    # A global setting, read when Dynamo starts tracing: a compile in another thread meanwhile gets fewer shared
    # symbols (more general guards), which is still correct.
    with _fx_config.patch(use_duck_shape=False) if own_lengths else contextlib.nullcontext():  # type: ignore[attr-defined]
        update(*args)
    variant = update.variant_for(frame)
    return DirectCall(variant, frame) if variant is not None else None


class DirectCall:
    """Runs a parameter group's compiled update again without Dynamo while nothing it depends on has changed.

    Going through Dynamo costs about half a millisecond per call with hundreds of tensors, and checking Dynamo's
    full guards directly costs as much again: right after a step has streamed the parameters through memory,
    every tensor's metadata is out of cache, and the guards read much of it (measured, SGD on 10M parameters in
    200 tensors: 3.55–3.71 ms per step through Dynamo, 3.15 ms calling the variant after its full guard, 2.86 ms
    with the check here, 2.79 ms with no check at all; torch fused 2.98–3.08 ms). The check here reads only
    what can change between two steps of one group: the gradients are new tensors every step, so their type,
    dtype, shape and strides are compared; every other input (parameters, state, hyperparameter tensors) must be
    the very same object as before; and the hyperparameters given as Python numbers, ``maximize``, the state's
    keys and the grad mode must be equal. A parameter whose ``.data`` is swapped for another shape, layout or
    dtype gets gradients of that shape, layout and dtype (PyTorch's gradient layout contract), so it fails the
    check too.
    Anything else (the first step, a loaded ``state_dict``, a new hyperparameter value that changes the graph)
    goes through Dynamo, whose guards decide, and the variant it ran is taken up.
    """

    def __init__(self, variant: Variant, frame: Mapping[str, Any]) -> None:
        self.variant = variant
        inputs = variant.inputs(frame)
        self.skip = tuple(f or d for f, d in zip(variant.fresh, variant.derived, strict=True))
        self.kept = [None if skip else t for t, skip in zip(inputs, self.skip, strict=True)]
        self.fresh_match = _layout_check([t for t, fresh in zip(inputs, variant.fresh, strict=True) if fresh])
        self.context = _context(frame)
        # For run_held: the inputs as a template, the tensor hyperparameters it holds, and a function that fills
        # in the gradients, the step count and the sizes read off them.
        # Without the step's gradients and step count (filled in on every call): held, they would stay alive as long
        # as the call does, a whole set of gradients for the rest of the run.
        self.held = tuple(None if fresh else t for t, fresh in zip(inputs, variant.fresh, strict=True))
        self.held_hp_keys = tuple(k for k, v in frame["hp"].items() if isinstance(v, Tensor))
        self.held_hp = tuple(frame["hp"][k] for k in self.held_hp_keys)
        self.fresh_at = tuple(i for i, fresh in enumerate(variant.fresh) if fresh)
        filled = [path.replace("a['grads']", "g").replace("a['step']", "s") if fresh else f"k[{i}]"
                  for i, (path, fresh) in enumerate(zip(variant.paths, variant.fresh, strict=True))]
        self.fill: Callable[[tuple[Any, ...], Sequence[Tensor], Tensor | None], list[Any]] = eval(
            "lambda k, g, s: [" + ", ".join(filled) + "]"
        )
        self.mutated = tuple(inputs[i] for i in variant.mutated)

    def run(self, frame: Mapping[str, Any], context: tuple[Any, ...] | None = None) -> bool:
        """Run the update for ``frame`` and return ``True``, or return ``False`` when the check fails (``context``:
        ``frame``'s :func:`call_context`, if the caller has it)."""
        if (_context(frame) if context is None else context) != self.context:
            return False
        try:
            inputs = self.variant.inputs(frame)
        except (KeyError, IndexError):
            return False
        fresh = [inputs[i] for i in self.fresh_at]
        if any(a is not b for a, b, skip in zip(inputs, self.kept, self.skip, strict=True) if not skip):
            return False
        if not self.fresh_match(fresh):
            return False
        self._call(inputs)
        return True

    def run_held(
        self, context: tuple[Any, ...], grads: Sequence[Tensor], hp: Mapping[str, Any], step: Tensor | None
    ) -> bool:
        """:meth:`run` for a caller that holds every input but ``grads`` and ``step`` as the very objects this call
        was made with (:class:`optimlab.flat.FlatGroup` checks its parameters and state once a step): only the
        ``context``, the tensor hyperparameters' identity and the gradients' layout are checked."""
        if context != self.context or not all(map(operator.is_, map(hp.get, self.held_hp_keys), self.held_hp)):
            return False
        inputs = self.fill(self.held, grads, step)
        if not self.fresh_match([inputs[i] for i in self.fresh_at]):
            return False
        self._call(inputs)
        return True

    def _call(self, inputs: list[Any]) -> None:
        inner = self.variant.inner
        if inner is None:
            self.variant.run(*inputs)
            return
        inner(inputs)  # grad mode does not matter to it: no input requires grad, the kernels write through pointers
        if self.mutated:
            bump_versions(self.mutated)


def bump_versions(tensors: Sequence[Tensor]) -> None:
    """Advance autograd's version counters of tensors updated in place by compiled code, as an in-place operation
    does (so that a tensor saved for a backward pass and then updated is caught); a no-op on a torch without it."""
    increment = getattr(torch.autograd.graph, "increment_version", None)
    if increment is not None:
        increment(tensors)


def _layout_check(examples: Sequence[Tensor]) -> Callable[[Sequence[Tensor]], bool]:
    """A check that tensors have the examples' Python type, dtype, device, shape, strides and dispatch keys.

    Dynamo's C++ ``TensorGuards`` reads all of it in one call: with 200 gradients just out of cache, 225 us per
    step as Python tuples against 87 us (SGD, 10M parameters). Where torch lacks that class, Python compares them.
    """
    try:
        from torch._C._dynamo.guards import TensorGuards

        layouts: dict[str, Any] = {
            "dynamic_dims_sizes": [list(t.shape) for t in examples],
            "dynamic_dims_strides": [list(t.stride()) for t in examples],
        }
        guards = TensorGuards(*examples, **layouts)
        return lambda tensors: len(tensors) == len(examples) and bool(guards.check(*tensors))
    except Exception:  # torch's private guard API changed

        def meta(t: Tensor) -> tuple[Any, ...]:
            return (type(t), t.dtype, t.device, t.shape, t.stride())

        expected = list(map(meta, examples))
        return lambda tensors: list(map(meta, tensors)) == expected


def call_context(args: Sequence[Any]) -> tuple[Any, ...]:
    """What besides tensors a compiled variant depends on, for :func:`group_update`'s arguments ``args``: a caller
    making several calls with the same rule, hyperparameters, flags and state keys computes it once (right after a
    step has streamed memory it costs about 20 us)."""
    return _context(dict(zip(_ARGUMENTS, args, strict=True)))


def _context(frame: Mapping[str, Any]) -> tuple[Any, ...]:
    """What besides tensors a variant depends on: the rule, Python-number hyperparameters, flags, state keys."""
    hp = tuple((k, "tensor" if isinstance(v, Tensor) else v) for k, v in frame["hp"].items())
    return (
        frame["rule"], hp, frame["maximize"], frame["step"] is None, len(frame["params"]),
        tuple(map(len, frame["states"])), torch.is_grad_enabled(),
    )


def hyper_tensors(
    hp: Mapping[str, Any], cache: MutableMapping[str, tuple[float, Tensor]], structural: Collection[str] = ()
) -> dict[str, Any]:
    """The hyperparameters as the compiled step takes them (see the module docstring).

    ``cache`` keeps one 0-d float64 tensor per name across steps; a changed value is written into it.
    Per-trial tensors (population use) and ``structural`` values (bools, Muon's ``ns_steps`` ...) pass through
    unchanged.
    """
    out: dict[str, Any] = {}
    for name, value in hp.items():
        if (
            isinstance(value, (bool, Tensor)) or name == TRIAL_DIMS or name in structural
            or (value == 0 and name != "lr")
        ):
            out[name] = value
            continue
        held = cache.get(name)
        if held is None:
            held = cache[name] = (float(value), torch.tensor(float(value), dtype=torch.float64))
        elif held[0] != value:
            held[1].fill_(value)
            held = cache[name] = (float(value), held[1])
        out[name] = held[1]
    return out


AUTO_MIN_ELEMENTS = 10_000_000
"""``fused=None`` (the default) compiles a group only from this many elements up (see ``benchmarks/RESULTS.md``)."""

AUTO_MIN_ELEMENTS_PER_TENSOR = 1_000_000
"""... and only when its tensors average this many elements: compile time grows with the number of tensors."""

AUTO_MAX_LAYOUT_CHANGES = 2
"""``fused=None`` gives a group back to the eager path after this many changes of its set of tensors."""


def wanted(mode: bool | None, sizes: Sequence[int]) -> bool:
    """Whether to compile a group of tensors with ``sizes`` elements: always for ``True`` (when a compiler exists),
    never for ``False``, and for ``None`` only when the group is large in total and per tensor (compile time
    grows with the number of tensors)."""
    if mode is False:
        return False
    if mode is None:
        total = sum(sizes)
        if total < AUTO_MIN_ELEMENTS or total < AUTO_MIN_ELEMENTS_PER_TENSOR * len(sizes):
            return False
    return available()


class GroupPlan:
    """What the fast path remembers about one parameter group of a drop-in optimizer between steps."""

    def __init__(self) -> None:
        self.warm = False  # the group's first step runs the reference path (it creates the state)
        self.layout: tuple[int, ...] | None = None
        self.checked: tuple[Any, ...] | None = None  # the mode and set of tensors `eligible` was worked out for
        self.eligible = False
        self.layout_changes = 0
        self.given_up = False
        self.hyper_cache: dict[str, tuple[float, Tensor]] = {}
        self.counts: Tensor | None = None  # the group's step counts in one vector; state["step"] are views of it
        self.count_ids: tuple[int, ...] = ()
        self.direct: DirectCall | None = None  # the compiled variant this group last ran, called without Dynamo

    def step(self, rule: Rule, group: Mapping[str, Any], hp: Mapping[str, Scalar], states: Any) -> bool:
        """Update the group on the fast path and return ``True``, or return ``False`` to leave it to the caller.

        ``states`` is the optimizer's per-parameter state map. ``group["fused"]``: ``False`` never, ``True``
        always (where it can run), ``None`` (or absent) when the group is large and its tensors stay the same.
        """
        mode = group.get("fused")
        if mode is False or self.given_up:
            return False
        pairs = [(p, p.grad) for p in group["params"]]
        params = [p for p, g in pairs if g is not None]
        grads = [g for _, g in pairs if g is not None]
        layout = tuple(map(id, params))
        if (mode, layout) != self.checked:  # what the tensors are (dtype, device, size) is checked once per set
            self.checked = (mode, layout)
            self.eligible = bool(params) and all(not p.is_complex() and p.device.type == "cpu" for p in params)
            self.eligible = self.eligible and wanted(mode, [p.numel() for p in params])
        if not self.eligible or any(g.is_sparse for g in grads):
            return False  # such groups take the reference path whole
        if not self.warm:
            self.warm = True
            return False
        if layout != self.layout:
            if self.layout is not None:
                self.layout_changes += 1
                if mode is None and self.layout_changes > AUTO_MAX_LAYOUT_CHANGES:
                    self.given_up = True  # every new set of tensors would cost a compile
                    return False
            self.layout = layout
        found = [states.get(p) for p in params]
        fresh = [i for i, s in enumerate(found) if s is None or not s]
        for i in fresh:
            state = found[i] = {}
            if rule.counts_steps:
                state["step"] = torch.tensor(0.0, dtype=scalar_dtype())
            state.update(rule.init_state(params[i], hp))  # as the reference loop does, counting or not
        args = (
            rule, params, grads, found, hyper_tensors(hp, self.hyper_cache, rule.structural_names()),
            bool(group.get("maximize", False)),
            self._advance_counts(rule, found),
        )
        self.direct = run_compiled(rule.name, args, self.direct, flat=False)
        for i in fresh:
            if found[i]:
                states[params[i]] = found[i]
        return True

    def _advance_counts(self, rule: Rule, states: Sequence[State]) -> Tensor | None:
        """Advance the group's step counts when they are all equal, and return the count for the compiled walk.

        torch.optim keeps one count per tensor (``state["step"]``), and so do we. They are nearly always equal;
        then the walk gets the count once, every tensor's per-step scalars (bias corrections ...) become one
        expression computed once per step, and the graph takes no per-tensor count inputs. The counts are kept
        as views of one vector, so advancing them all is one operation. Returns ``None`` (each tensor counts
        for itself inside the walk) when the counts differ or the rule counts no steps.
        """
        if not rule.counts_steps:
            return None
        ids = tuple(id(state["step"]) for state in states)
        if self.counts is None or ids != self.count_ids:  # new tensors, or a loaded state_dict
            self.counts = torch.stack([state["step"] for state in states])
            for i, state in enumerate(states):
                state["step"] = self.counts[i]
            self.count_ids = tuple(id(state["step"]) for state in states)
        counts = self.counts
        if not bool((counts == counts[0]).all()):
            return None
        counts += 1
        return counts[0].to(torch.float64)


__all__ = [
    "AUTO_MIN_ELEMENTS",
    "CompiledUpdate",
    "DirectCall",
    "FastPathUnavailable",
    "GroupPlan",
    "Variant",
    "available",
    "compiled_update",
    "group_update",
    "hyper_tensors",
    "prepare_compiler",
    "wanted",
]
