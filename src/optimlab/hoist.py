"""A compiler pass for the fast path: compute each step's scalar factors once, not once per vector of elements.

An update rule mixes per-step scalars (bias corrections 1 − βᵗ, their square roots, NAdam's μₜ, RAdam's
rectification) with per-element arithmetic. Inductor inlines every scalar expression into the loop over the
elements that uses it, and because it compiles with errno-preserving libm calls, the C++ compiler cannot move
``pow``/``sqrt`` out of that loop: Adam's compiled step evaluated two ``pow`` and one ``sqrt`` for every 16
floats and ran at 3–5× the memory-bandwidth floor.

:class:`HoistScalars` runs on Inductor's functional post-grad graph. It finds the *small subgraph*: nodes of at
most :data:`SMALL_ELEMENTS` elements computed only from small graph inputs and other small nodes (one-element
scalars on the drop-in path, one value per trial, ``[K, 1, ...]``, in a population). It removes duplicates (every
tensor of a group computes the same bias correction), moves the rest to the top of the graph, and routes every
edge from that subgraph into a larger node through one ``optimlab::pack_small`` call, an opaque op
that packs the values into one vector. Inductor cannot inline through an opaque op, so the small values are
computed once per step into a buffer, and the element loops only load them (a population whose trial count is
symbolic, :mod:`optimlab.population_flat`, bounds it so that its per-trial values count as small; those go through
``optimlab::pack_small_each``, one copy each, since slicing one vector would need symbolic offsets). A division of
elements by a small value becomes a multiplication by its reciprocal, computed with the rest
(:func:`_by_reciprocal`). Values are unchanged but for those quotients (each within one rounding): the same
operations run in the same precision, only once. A small subgraph of plain arithmetic (SGD's −lr, Adagrad's
decayed step size) is left where it is: a few multiplications per vector cost less than the packing call.
"""

from __future__ import annotations

import contextlib
import operator
import threading
from typing import Any

import torch
from torch import Tensor, fx
from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files

_ARITHMETIC = frozenset(
    f"{ns}::{name}"
    for ns, names in {
        "aten": "neg add sub mul div reciprocal abs maximum minimum where eq ne lt le gt ge clone copy _to_copy view "
        "expand unsqueeze squeeze reshape select slice permute alias full scalar_tensor",
        "prims": "convert_element_type",
    }.items()
    for name in names.split()
)
"""Operations cheap enough to leave inside the element loops: when the small subgraph holds nothing else, the pass
changes nothing (a packing call costs more than the few multiplications it would save per vector; SGD on 10M
parameters in 200 tensors stepped in 3.02 ms with the pass and 2.73 ms without it, torch fused 2.48 ms)."""

SMALL_ELEMENTS = 16384
"""Nodes with at most this many elements count as per-step values: one-element scalars on the drop-in path,
one value per trial (``[K, 1, ...]``) on the population path."""


PACKS = threading.local()
"""Where :mod:`optimlab.call_loop` notes the calls of ``pack_small`` while it records a compiled function (``calls``:
a list this thread appends ``(None, (packed, *xs))`` to)."""


def _pack_small(xs: list[Tensor]) -> Tensor:
    """Flatten small float64 tensors into one vector (the barrier :class:`HoistScalars` inserts)."""
    if all(x.dim() == 0 for x in xs):  # the drop-in path's per-step scalars: stacking six takes 3.4 us, a cat of
        packed = torch.stack(xs)  # their reshapes 7.2 us (measured outside the op, whose dispatch adds about 5 us)
    else:
        packed = torch.cat([x.reshape(-1) for x in xs])
    calls = getattr(PACKS, "calls", None)
    if calls is not None:
        calls.append((None, (packed, *xs)))
    return packed


def _pack_small_meta(xs: list[Tensor]) -> Tensor:
    return xs[0].new_empty(sum(x.numel() for x in xs))


# Registered with the low-level library API rather than ``torch.library.custom_op``: the op runs once per compiled
# step, and custom_op's Python autograd and dispatch wrappers made each call cost ~125 us right after a step had
# streamed the parameters through memory, against ~50 us this way (measured, 10M parameters in 200 tensors).
_LIBRARY = torch.library.Library("optimlab", "FRAGMENT")
_LIBRARY.define("pack_small(Tensor[] xs) -> Tensor")
_LIBRARY.impl("pack_small", _pack_small, "CompositeExplicitAutograd")
_LIBRARY.impl("pack_small", _pack_small_meta, "Meta")
pack_small = torch.ops.optimlab.pack_small.default


def _pack_small_each(xs: list[Tensor]) -> list[Tensor]:
    """The same barrier for values of symbolic size: a copy of each."""
    return [x.clone() for x in xs]


def _pack_small_each_meta(xs: list[Tensor]) -> list[Tensor]:
    return [torch.empty_like(x) for x in xs]


_LIBRARY.define("pack_small_each(Tensor[] xs) -> Tensor[]")
_LIBRARY.impl("pack_small_each", _pack_small_each, "CompositeExplicitAutograd")
_LIBRARY.impl("pack_small_each", _pack_small_each_meta, "Meta")
pack_small_each = torch.ops.optimlab.pack_small_each.default


def _value(node: Any) -> Any:
    return node.meta.get("val") if isinstance(node, fx.Node) else None


def _numel(node: fx.Node) -> int | torch.SymInt | None:
    val = _value(node)
    return val.numel() if isinstance(val, Tensor) and not val.is_sparse else None


def _is_small(node: fx.Node) -> bool:
    n = _numel(node)
    if n is None or isinstance(n, int):
        return n is not None and n <= SMALL_ELEMENTS
    # A symbolic size is small when its declared range says so (a population's trial count is marked dynamic up to
    # SMALL_ELEMENTS), read without a guard; else it is a loop over the elements (a flat buffer's length).
    try:
        upper = n.node.shape_env.bound_sympy(n.node.expr).upper
        return bool(upper.is_number and upper <= SMALL_ELEMENTS)
    except Exception:  # torch's private symbolic-shape API changed: count it as large, as before
        return False


def _is_pure(node: fx.Node) -> bool:
    target = node.target
    return (
        isinstance(target, torch._ops.OpOverload)
        and not target._schema.is_mutable
        and target.namespace in ("aten", "prims")
        and torch.Tag.nondeterministic_seeded not in target.tags  # two random draws must stay two
    )


def _op_name(node: fx.Node) -> str:
    target = node.target
    return target._schema.name if isinstance(target, torch._ops.OpOverload) else str(target)


def _feeds_larger(node: fx.Node, user: fx.Node) -> bool:
    """Whether ``user`` broadcasts ``node`` over more elements (and so would recompute it per element)."""
    n, m = _numel(node), _numel(user)
    if user.op != "call_function" or n is None or m is None:
        return False
    if isinstance(n, int) and isinstance(m, int):
        return m > n
    return isinstance(n, int) or not _is_small(user)  # a symbolic size not known small is a loop over the elements


class HoistScalars(CustomGraphPass):
    """The pass described in the module docstring (an Inductor ``post_grad_custom_post_pass``)."""

    def __call__(self, graph: fx.Graph) -> None:
        small: set[fx.Node] = set()
        for node in list(graph.nodes):
            if node.op == "placeholder":
                if _is_small(node):
                    small.add(node)
            elif (
                node.op == "call_function"
                and _is_small(node)
                and _is_pure(node)
                and all(i in small for i in node.all_input_nodes)
            ):
                small.add(node)
            elif _divides_by_small(node, small):
                small.add(_by_reciprocal(graph, node))
        if all(node.op == "placeholder" or _op_name(node) in _ARITHMETIC for node in small):
            return  # no pow, sqrt, exp ... to hoist
        computed = _deduplicate([n for n in graph.nodes if n in small and n.op != "placeholder"], graph)
        boundary = [n for n in computed if any(u not in small and _feeds_larger(n, u) for u in n.users)]
        if not boundary:
            return
        anchor = next(n for n in graph.nodes if n.op != "placeholder" and n not in small)
        for node in computed:  # depends only on inputs and earlier small nodes: safe to compute first
            anchor.prepend(node)
        fake_mode = torch._guards.detect_fake_mode([_value(n) for n in boundary])
        # One packing call for every dtype: each value goes in as float64 (exact for bools, floats and integers up
        # to 2^53) and is cast back where it is used. With a call per dtype Inductor compiled one more small
        # kernel, a separate C++ build (about 3 s on a cold cache).
        with graph.inserting_before(anchor):
            wide = [
                n if _value(n).dtype == torch.float64
                else _call(graph, fake_mode, torch.ops.prims.convert_element_type.default, (n, torch.float64))
                for n in boundary
            ]
            # Values of a symbolic size (one per trial, a population's trial count being dynamic) go through the
            # list form: slicing one vector at symbolic offsets would put raw sizes in the graph.
            each = not all(isinstance(_numel(n), int) for n in boundary)
            packed = _call(graph, fake_mode, pack_small_each if each else pack_small, (wide,))
            offset = 0
            for i, node in enumerate(boundary):
                size = _value(node).numel()
                if each:
                    piece = _call(graph, fake_mode, operator.getitem, (packed, i))
                else:
                    piece = _call(graph, fake_mode, torch.ops.aten.slice.Tensor, (packed, 0, offset, offset + size))
                    piece = _call(graph, fake_mode, torch.ops.aten.view.default, (piece, list(_value(node).shape)))
                if _value(node).dtype != torch.float64:
                    piece = _call(graph, fake_mode, torch.ops.prims.convert_element_type.default,
                                  (piece, _value(node).dtype))
                offset += size
                for user in list(node.users):
                    if user not in small and user not in wide and user is not packed and _feeds_larger(node, user):
                        user.replace_input_with(node, piece)
        graph.lint()

    def uuid(self) -> Any:
        return get_hash_for_files((__file__,))


def _divides_by_small(node: fx.Node, small: set[fx.Node]) -> bool:
    """Whether ``node`` divides floating-point elements by a per-step value (``x / s``, ``s`` in the small
    subgraph and broadcast over ``x``)."""
    if node.op != "call_function" or node.target is not torch.ops.aten.div.Tensor or node.kwargs:
        return False
    x, s = node.args
    out = _value(node)
    return (isinstance(s, fx.Node) and s in small and isinstance(x, fx.Node) and x not in small
            and isinstance(out, Tensor) and out.dtype.is_floating_point and _feeds_larger(s, node))


def _by_reciprocal(graph: fx.Graph, node: fx.Node) -> fx.Node:
    """Rewrite ``x / s`` as ``x · (1/s)``, ``1/s`` computed once a step with the other small values; return its node.

    A vector division costs several times a multiplication (Adam divides √v by √(1 − β₂ᵗ) for every element), and
    the quotient moves by at most one rounding: the one place the pass changes values."""
    x, s = node.args
    fake_mode = torch._guards.detect_fake_mode([_value(x), _value(s)])
    with graph.inserting_before(node):
        reciprocal = _call(graph, fake_mode, torch.ops.aten.reciprocal.default, (s,))
        product = _call(graph, fake_mode, torch.ops.aten.mul.Tensor, (x, reciprocal))
    node.replace_all_uses_with(product)
    graph.erase_node(node)
    return reciprocal


def _deduplicate(nodes: list[fx.Node], graph: fx.Graph) -> list[fx.Node]:
    """Common-subexpression elimination over the small subgraph: every tensor of a group computes the same
    bias corrections from the same inputs; keep one node per distinct expression."""
    canonical: dict[Any, fx.Node] = {}
    kept = []
    for node in nodes:
        key = (node.target, _key(node.args), _key(node.kwargs))
        first = canonical.get(key)
        if first is None:
            canonical[key] = node
            kept.append(node)
        else:
            node.replace_all_uses_with(first)
            graph.erase_node(node)
    return kept


def _key(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, *map(_key, value))
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    if isinstance(value, float) and value != value:
        return "nan"
    return value


def _call(graph: fx.Graph, fake_mode: Any, target: Any, args: tuple[Any, ...]) -> fx.Node:
    """A new ``call_function`` node, with the fake value Inductor's lowering reads from ``meta["val"]``."""
    node = graph.call_function(target, args)
    fake_args = fx.node.map_arg(args, _value)
    with fake_mode if fake_mode is not None else contextlib.nullcontext():
        node.meta["val"] = target(*fake_args)
    return node


__all__ = ["SMALL_ELEMENTS", "HoistScalars", "pack_small", "pack_small_each"]
