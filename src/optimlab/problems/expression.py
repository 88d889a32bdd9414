"""Surfaces typed as text, such as ``"x**2 + 3*sin(y)"``: parsed with :mod:`ast` against a whitelist.

Nothing is ever passed to ``eval``. The expression is parsed into a syntax tree, every node is checked against
a short list (numbers, ``x``, ``y``, ``pi``, ``e``, ``+ - * / ** %``, unary minus and a set of named functions),
and the checked tree is turned into a function of torch tensors. A node outside the list raises
a :class:`~optimlab.errors.ProblemError` naming the offending part and its column.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..errors import ProblemError
from .surfaces import Domain, Point, Surface, SurfaceFn, surface_from_callable

FUNCTIONS: dict[str, Callable[..., Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "atan": torch.atan,
    "arctan": torch.atan,
    "sigmoid": torch.sigmoid,
    "min": torch.minimum,
    "max": torch.maximum,
}
"""Named functions an expression may call (``min``/``max`` take two arguments, the others one)."""

CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("x", "y")

_BINARY: dict[type[ast.operator], Callable[[Tensor, Tensor], Tensor]] = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
    ast.Mod: torch.remainder,
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%"}

Compiled = Callable[[Tensor, Tensor], Tensor]


def parse_expression(text: str) -> SurfaceFn:
    """Compile ``text`` (a formula in ``x`` and ``y``) into ``f(x, y)`` over torch tensors.

    Raises :class:`~optimlab.errors.ProblemError` with one sentence pointing at the offending part for anything
    outside the whitelist.
    """
    if not isinstance(text, str) or not text.strip():
        raise ProblemError("Empty surface expression: write a formula in x and y, such as 'x**2 + 3*sin(y)'.")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        col = exc.offset or 0
        where = f"at column {col}" if 1 <= col <= len(source) else "at the end"
        message = f"Malformed surface expression {source!r}: {exc.msg} {where} ({_caret(source, col)})."
        raise ProblemError(message) from None
    compiled = _compile(tree.body, source)

    def fn(x: Tensor, y: Tensor) -> Tensor:
        return compiled(x, y)

    return fn


def parse_surface(
    text: str,
    *,
    domain: Domain = ((-3.0, 3.0), (-3.0, 3.0)),
    minima: Sequence[Point] = (),
    starts: Sequence[Point] = (),
) -> Surface:
    """A :class:`Surface` from a formula; checked on a grid over ``domain`` like any custom surface."""
    return surface_from_callable(
        parse_expression(text), name="expression", domain=domain, minima=minima, starts=starts, formula=text.strip()
    )


def _caret(source: str, col: int) -> str:
    """The source with a ``>>>`` marker inserted before column ``col`` (1-based; 0 means the end)."""
    col = len(source) + 1 if col < 1 else min(col, len(source) + 1)
    return f"{source[: col - 1]}>>>{source[col - 1 :]}"


def _reject(node: ast.AST, source: str, what: str, hint: str = "") -> ProblemError:
    part = ast.get_source_segment(source, node) or ""
    col = getattr(node, "col_offset", 0) + 1
    if isinstance(node, ast.BinOp):  # point at the operator itself, between its operands
        gap_start = getattr(node.left, "end_col_offset", 0) or 0
        gap = source[gap_start : node.right.col_offset]
        part = gap.strip() or part
        col = gap_start + (len(gap) - len(gap.lstrip())) + 1
    tail = f"; {hint}" if hint else ""
    return ProblemError(f"Unsupported {what} {part!r} at column {col} of surface expression {source!r}{tail}.")


def _compile(node: ast.AST, source: str) -> Compiled:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _reject(node, source, "constant", "only numbers are allowed")
        value = float(node.value)
        return lambda x, y: torch.full_like(x, value)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return lambda x, y: x
        if node.id == "y":
            return lambda x, y: y
        if node.id in CONSTANTS:
            const = CONSTANTS[node.id]
            return lambda x, y: torch.full_like(x, const)
        raise _reject(node, source, "name", "use the variables x and y and the constants pi and e")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _compile(node.operand, source)
        if isinstance(node.op, ast.USub):
            return lambda x, y: -inner(x, y)
        return inner
    if isinstance(node, ast.BinOp):
        op = _BINARY.get(type(node.op))
        if op is None:
            hint = "write powers as ** (not ^)" if isinstance(node.op, ast.BitXor) else "use + - * / ** %"
            raise _reject(node, source, "operator", hint)
        left, right = _compile(node.left, source), _compile(node.right, source)
        return lambda x, y: op(left(x, y), right(x, y))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise _reject(node.func, source, "function", f"allowed functions: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords:
            raise _reject(node, source, "keyword argument in", "functions take positional arguments only")
        name = node.func.id
        arity = 2 if name in ("min", "max") else 1
        if len(node.args) != arity:
            raise _reject(node, source, "call", f"{name} takes {arity} argument{'s' if arity > 1 else ''}")
        func = FUNCTIONS[name]
        args = [_compile(a, source) for a in node.args]
        if arity == 1:
            (a,) = args
            return lambda x, y: func(a(x, y))
        a, b = args
        return lambda x, y: func(a(x, y), b(x, y))
    raise _reject(node, source, type(node).__name__.lower(), "only arithmetic on x, y, numbers and named functions")
