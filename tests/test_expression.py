"""Typed formulas: parsed by a whitelist (never eval), errors point at the offending part."""

from __future__ import annotations

import math

import pytest
import torch

from optimlab.problems import parse_expression, parse_surface


def test_formula_matches_python_math() -> None:
    fn = parse_expression("x**2 + 3*sin(y) - exp(-abs(x)) / (1 + y**2) + max(x, y) % 2 + pi*e")
    for x, y in [(0.3, -1.2), (2.0, 0.5), (-1.5, 2.5)]:
        want = x**2 + 3 * math.sin(y) - math.exp(-abs(x)) / (1 + y**2) + math.fmod(max(x, y), 2) % 2 + math.pi * math.e
        got = fn(torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)).item()
        assert got == pytest.approx(want)


def test_gradients_flow_through_parsed_formula() -> None:
    s = parse_surface("x**2 + 3*sin(y)")
    _, grad = s.loss_and_grad(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    assert grad[0].tolist() == pytest.approx([2.0, 3.0])


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("x**2 + foo(y)", ["'foo'", "column 8", "allowed functions"]),
        ("__import__('os').system('ls')", ["Unsupported", "system"]),
        ("x^2", ["'^'", "column 2", "**"]),
        ("z * 2", ["'z'", "column 1", "x and y"]),
        ("x +", ["Malformed", "at the end"]),
        ("sin(x, y)", ["sin takes 1 argument"]),
        ("x.real", ["attribute", "'x.real'"]),
        ("'a' + x", ["constant", "only numbers"]),
        ("", ["Empty surface expression"]),
    ],
)
def test_bad_expression_names_the_offending_part(text: str, pieces: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        parse_expression(text)
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    for piece in pieces:
        assert piece in message


def test_expression_never_runs_code(tmp_path: object) -> None:
    calls = []
    import builtins

    original = builtins.__import__

    def spy(name: str, *args: object, **kwargs: object) -> object:
        calls.append(name)
        return original(name, *args, **kwargs)

    builtins.__import__ = spy  # type: ignore[assignment]
    try:
        with pytest.raises(ValueError):
            parse_expression("__import__('os')")
    finally:
        builtins.__import__ = original
    assert "os" not in calls
