"""Kept loops: a flat step's C loop written down once and taken up by the next process without compiling anything.

Compiling a flat step costs every process something even when Inductor's caches hold the answer: importing Dynamo
and Inductor (about 2 s together), tracing the rule with Dynamo and running Inductor's passes before its cache is
even looked at (a warm compile: 1.1-2.1 s measured, ``benchmarks/RESULTS.md``, "flat, sixth round"). Yet what a
flat step finally runs is known once :mod:`optimlab.call_loop` has recorded it: the kernels' shared libraries (in
Inductor's cache directory), where each kernel argument comes from, and the C loop over them. So once a replay has
passed its check against Inductor's wrapper, :func:`keep` writes that down, as JSON, beside the compiled loops
(``<Inductor's cache directory>/optimlab-loops/kept-<key>.json``), and :func:`load` builds a
:class:`optimlab.call_loop.CallLoop` from it in a later process: no Dynamo, no Inductor, no compiler.

What makes a kept loop the right one, and what happens otherwise:

* the key (:func:`key`) is a digest of everything the compiled code was specialised on that is not a tensor's
  value or length: the rule, the hyperparameters passed as Python values (those equal to zero, flags), the
  number of tensors to a call and each one's dtype and number of dimensions, the state keys, ``maximize``,
  whether the step count is shared, grad mode, torch's default dtype and CPU capability, Inductor's settings
  for the fast path, a fingerprint of the installed torch (:func:`optimlab.fused.torch_fingerprint`) and a
  digest of optimlab's own modules that go into the compiled code (the rules, :mod:`optimlab.fused`,
  :mod:`optimlab.hoist`, :mod:`optimlab.call_loop`, this one). Changing any of them looks up another key;
* the record carries a digest of what the loop wrote on seeded stand-ins when it was kept; :func:`load` runs the
  loop on the same stand-ins and takes it only when it writes the same bytes (a library replaced or removed,
  a record edited or cut short: not taken);
* the input paths read from the record must have the form :mod:`optimlab.fused` writes before they are turned into
  code;
* anything unexpected (no record, a library missing, a check failed) returns ``None``: the step compiles as before
  and records the loop anew.
"""

from __future__ import annotations

import ctypes
import functools
import getpass
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from . import call_loop as _call_loop
from . import fused as _fused

FORMAT = 1
"""The version of the record's layout (part of the key)."""

_PATH = re.compile(r"a\['(params|grads|states)'\]\[\d+\](\['\w+'\])?(\.shape\[\d+\]|\.storage_offset\(\))?"
                   r"|a\['hp'\]\['\w+'\]|a\['step'\]")
"""The only input paths a record may hold (:func:`optimlab.fused._input_paths`' forms)."""

_SOURCES = ("rules", "fused.py", "hoist.py", "call_loop.py", "loop_store.py")
"""optimlab's files (a directory: every ``.py`` in it) whose code goes into a compiled flat step."""


def cache_dir() -> str:
    """Inductor's cache directory, worked out without importing Inductor (which takes about a second): its own
    function where Inductor is already imported, else the same rule (``TORCHINDUCTOR_CACHE_DIR``, or
    ``torchinductor_<user>`` in the temporary directory). :func:`keep` writes only where the two agree."""
    utils = sys.modules.get("torch._inductor.runtime.cache_dir_utils")
    if utils is not None:
        return str(utils.cache_dir())
    found = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if found is None:
        try:
            user = getpass.getuser()
        except (KeyError, ModuleNotFoundError, OSError):
            user = f"uid_{os.getuid()}" if hasattr(os, "getuid") else "unknown_user"
        found = os.path.join(tempfile.gettempdir(), "torchinductor_" + re.sub(r'[\\/:*?"<>|]', "_", user))
    return os.path.abspath(found)


@functools.cache
def _sources_digest() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for name in _SOURCES:
        path = os.path.join(here, name)
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".py")) if os.path.isdir(
            path) else [path]
        for file in files:
            with open(file, "rb") as source:
                digest.update(os.path.relpath(file, here).encode() + b"\0" + source.read() + b"\0")
    return digest.hexdigest()


def _describe(value: Any) -> Any:
    if isinstance(value, Tensor):
        return ["tensor", str(value.dtype), value.dim()]
    if value is None or isinstance(value, (bool, int, float, str)):
        return [type(value).__name__, repr(value)]
    raise TypeError(f"cannot key on a {type(value).__name__}")


def key(frame: Mapping[str, Any]) -> str:
    """The key of a flat call's compiled code for ``frame`` (:func:`optimlab.fused.group_update`'s arguments by
    name; module docstring)."""
    rule = frame["rule"]
    settings = {k: repr(v) for k, v in _fused._INDUCTOR_OPTIONS.items()}
    fields = {
        "format": FORMAT,
        "rule": [rule.name, type(rule).__module__, type(rule).__qualname__],
        "params": [_describe(t) for t in frame["params"]],
        "grads": [_describe(t) for t in frame["grads"]],
        "states": [sorted((k, _describe(v)) for k, v in state.items()) for state in frame["states"]],
        "hp": sorted((k, _describe(v)) for k, v in frame["hp"].items()),
        "maximize": bool(frame["maximize"]),
        "step": _describe(frame["step"]),
        "grad_enabled": torch.is_grad_enabled(),
        "default_dtype": str(torch.get_default_dtype()),
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "inductor": settings,
        "torch": _fused.torch_fingerprint(os.path.dirname(os.path.abspath(torch.__file__))),
        "optimlab": _sources_digest(),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:40]


RECORDS: str | None = None
"""The directory of the records (``None``: :data:`optimlab.call_loop.LOOP_DIR` in Inductor's cache directory, beside
the compiled loops; tests give each test its own)."""


def _record_path(found: str) -> str:
    folder = RECORDS if RECORDS is not None else os.path.join(cache_dir(), _call_loop.LOOP_DIR)
    return os.path.join(folder, f"kept-{found}.json")


def _probe(frame: Mapping[str, Any]) -> dict[str, Any]:
    """Seeded stand-ins with ``frame``'s structure: one-dimensional tensors of call position ``j`` get
    ``4099 + 7 j`` elements (as :func:`optimlab.call_loop._stand_ins`), values in [0.5, 1.5) (gradients in
    [-0.5, 0.5)), the same in every process."""
    generator = torch.Generator().manual_seed(0)

    def make(value: Tensor, j: int, signed: bool) -> Tensor:
        values = torch.rand(_call_loop.stand_in_shape(value, j), generator=generator, dtype=torch.float64)
        return (values + (-0.5 if signed else 0.5)).to(value.dtype)

    return _call_loop.map_tensors(frame, make)


class _Kept:
    """What a record says of one variant: its inputs' paths, which are new every step, which it writes."""

    def __init__(self, paths: Sequence[str], fresh: Sequence[bool], mutated: Sequence[int]) -> None:
        if not all(_PATH.fullmatch(p) for p in paths):
            raise ValueError("an input path of an unexpected form")
        self.paths = tuple(paths)
        self.fresh = tuple(bool(f) for f in fresh)
        self.mutated = tuple(int(i) for i in mutated)
        self.inputs = _fused.input_reader(self.paths)  # checked against _PATH above

    def held(self, frame: Mapping[str, Any]) -> tuple[list[Any], list[Tensor]]:
        """A call's inputs as a :class:`optimlab.call_loop.CallLoop` holds them (``None`` for those new every step),
        and the tensors it writes."""
        inputs = self.inputs(frame)
        return [None if f else t for t, f in zip(inputs, self.fresh, strict=True)], [inputs[i] for i in self.mutated]


def _digest(kept: _Kept, replay: Any, frame: Mapping[str, Any]) -> str:
    """What ``replay`` writes on the seeded stand-ins of ``frame``'s structure (:func:`_probe`), as a digest."""
    probe = _probe(frame)
    held, _ = kept.held(probe)
    _call_loop.CallLoop(replay, [held], len(frame["grads"]), None, []).call(probe["grads"], probe["step"])
    digest = hashlib.sha256()
    for t in kept.inputs(probe):
        if isinstance(t, Tensor):
            digest.update(t.contiguous().view(torch.uint8).numpy().tobytes() if t.dim() else t.reshape(1).view(
                torch.uint8).numpy().tobytes())
    return digest.hexdigest()


_found: dict[str, tuple[_Kept, Any] | None] = {}
"""The records looked up in this process, by key: checked, or ``None`` (none, or not taken)."""
_lock = threading.Lock()


def keep(variant: Any, frame: Mapping[str, Any], replay: Any) -> None:
    """Write down a checked replay of ``variant`` (:func:`optimlab.call_loop.replay_for`) for ``frame``'s key, once
    a process (a key this process has found or kept is not written again); a record that cannot be written (a
    directory not writable, libraries outside the cache directory) is skipped."""
    found = key(frame)
    if _found.get(found) is not None:
        return
    utils = sys.modules.get("torch._inductor.runtime.cache_dir_utils")
    root = cache_dir()
    if utils is None or os.path.abspath(utils.cache_dir()) != root:
        return  # where a later process would not look
    if replay.loop_path is None or any(variant.fresh[i] for i in variant.mutated):
        return
    libraries = iter(replay.library_paths)
    kernels = []
    for kernel in replay.kernels:
        library = os.path.relpath(next(libraries), root) if kernel.address else None
        if library is not None and library.startswith(".."):
            return
        kernels.append([library, [list(s) for s in kernel.sources]])
    kept = _Kept(variant.paths, variant.fresh, variant.mutated)
    record = {
        "format": FORMAT, "paths": list(kept.paths), "fresh": list(kept.fresh), "mutated": list(kept.mutated),
        "kernels": kernels, "loop": os.path.relpath(replay.loop_path, root),
        "buffers": [[list(shape), list(stride), str(dtype)] for shape, stride, dtype in replay.buffers],
        "digest": _digest(kept, replay, frame),
    }
    path = _record_path(found)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{os.getpid()}.{threading.get_ident()}"
    with open(partial, "w") as out:
        json.dump(record, out)
    os.replace(partial, path)  # whole or absent, for a process reading it at the same time
    with _lock:
        _found[found] = (kept, replay)


def _dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name.removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"not a dtype: {name}")
    return dtype


def _read(found: str, frame: Mapping[str, Any]) -> tuple[_Kept, Any] | None:
    path = _record_path(found)
    if not os.path.exists(path):
        return None
    with open(path) as source:
        record = json.load(source)
    if record.get("format") != FORMAT:
        return None
    root = cache_dir()
    kept = _Kept(record["paths"], record["fresh"], record["mutated"])
    kernels, libraries, library_paths = [], [], []
    for library, sources in record["kernels"]:
        address = 0
        if library is not None:
            where = os.path.join(root, library)
            loaded = ctypes.CDLL(where)
            libraries.append(loaded)
            library_paths.append(where)
            address = ctypes.cast(loaded.kernel, ctypes.c_void_p).value or 0
            if not address:
                return None
        made = tuple((str(kind), int(i)) for kind, i in sources)
        if any(kind not in ("in", "grad", "step", "buf", "len") for kind, _ in made):
            return None
        kernels.append(_call_loop.Kernel(address, made))
    loop_path = os.path.join(root, record["loop"])
    buffers = tuple((tuple(map(int, shape)), tuple(map(int, stride)), _dtype(dtype))
                    for shape, stride, dtype in record["buffers"])
    if any(_call_loop._MAX_BUFFER_ELEMENTS < torch.Size(shape).numel() for shape, _, _ in buffers):
        return None
    replay = _call_loop.Replay(tuple(kernels), buffers, tuple(libraries), _call_loop._load_loop(loop_path),
                               tuple(library_paths), loop_path)
    if _digest(kept, replay, frame) != record["digest"]:
        return None
    return kept, replay


def find(frame: Mapping[str, Any]) -> tuple[_Kept, Any] | None:
    """The checked record for ``frame``'s key (module docstring), or ``None``; looked up once per process and key."""
    try:
        found = key(frame)
    except Exception:  # a value it cannot key on: no record
        return None
    if found in _found:
        return _found[found]
    with _lock:
        if found not in _found:
            try:
                _found[found] = _read(found, frame)
            except Exception:  # a malformed record, a library missing or not loadable: compile as before
                _found[found] = None
        return _found[found]


def load(frames: Sequence[Mapping[str, Any]], grads: Sequence[Tensor], extra_mutated: Sequence[Tensor] = ()) -> Any:
    """A :class:`optimlab.call_loop.CallLoop` for a flat step's calls (``frames``: each call's arguments by name,
    all with one structure; ``grads``: every call's gradients in order) from a kept record, or ``None``."""
    if not frames:
        return None
    found = find(frames[0])
    if found is None:
        return None
    kept, replay = found
    context = _fused._context(frames[0])
    batch = len(frames[0]["grads"])
    if len(grads) != batch * len(frames):
        return None
    held, mutated = [], []
    for frame in frames:
        if _fused._context(frame) != context:
            return None
        inputs, written = kept.held(frame)
        held.append(inputs)
        mutated += written
    hp = tuple((k, v) for k, v in frames[0]["hp"].items() if isinstance(v, Tensor))
    return _call_loop.loop_over(replay, held, batch, grads, [*mutated, *extra_mutated], context, hp)


__all__ = ["FORMAT", "RECORDS", "cache_dir", "find", "keep", "key", "load"]
