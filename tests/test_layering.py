"""The package's layers: data flows one way, and no module imports from a layer above its own.

Read from the source with :mod:`ast` (nothing is imported), so the test is cheap and names the file and line.
Imports under ``if TYPE_CHECKING:`` are annotations only and are not counted.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # helpers every layer may use; they import nothing above the standard library, numpy, pandas and torch
    ("base", ("optimlab.errors", "optimlab.suggest", "optimlab.text", "optimlab.stats", "optimlab.palette",
              "optimlab._threads", "optimlab.heap", "optimlab._lazy", "optimlab._mnist1d",
              "optimlab.notices")),
    # one definition of each algorithm
    ("rules", ("optimlab.rules",)),
    # the drop-in torch.optim classes, their compiled fast path, learning-rate schedules
    ("drop-in", ("optimlab.optim", "optimlab.fused", "optimlab.flat", "optimlab.call_loop", "optimlab.loop_store",
                 "optimlab.hoist", "optimlab.schedules")),
    # names: presets, sets, the family tree, the explain cards
    ("catalog", ("optimlab.registry", "optimlab.lineage", "optimlab.explain")),
    # trials, problems and the executors that train them
    ("engine", ("optimlab.engine", "optimlab.population", "optimlab.population_flat", "optimlab.training",
                "optimlab.problems")),
    # what a user does: study (bench), advise, compare
    ("verbs", ("optimlab.study", "optimlab.advise", "optimlab.compare", "optimlab.landscape")),
    # pictures and pages made from results
    ("report", ("optimlab.report",)),
    # the front door: the package's public names and the command line
    ("front", ("optimlab", "optimlab.cli", "optimlab.cli_advise", "optimlab.cli_bench", "optimlab.cli_compare",
               "optimlab.cli_landscape", "optimlab.cli_report", "optimlab.cli_backend")),
)
"""Lowest first: a module may import from its own layer and the layers before it."""

VERBS = ("optimlab.study", "optimlab.advise", "optimlab.compare", "optimlab.landscape")
"""Each verb is a thin layer over the engine: no verb imports another (study never imports compare)."""

LAZY_UPWARD: dict[tuple[str, str], str] = {
    ("optimlab.advise._result", "optimlab.report.advise_report"): "AdviceResult.save/to_html draws its page",
    ("optimlab.compare._run", "optimlab.report.surface_page"): "CompareResult.save/to_html writes its page",
    ("optimlab.compare._run", "optimlab.report.surface_plots"): "CompareResult.save/plot draws its figures",
    ("optimlab.landscape._run", "optimlab.report.landscape"): "LandscapeResult.save writes its page",
    ("optimlab.compare.lesson", "optimlab.report.lesson_page"): "lesson() writes the lesson page",
    ("optimlab.compare.lesson", "optimlab.report.lesson_text"): "lesson() checks the page's language",
    ("optimlab.compare._gallery", "optimlab.report.lesson_text"): "a picture's words in the page's language",
}
"""Upward imports a result object makes when asked to draw itself (DESIGN: every verb returns a result with
``.plot()``/``.to_html()``); each must stay inside the function that draws, so importing the verb stays light."""

KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    ("optimlab.study.claims.dynamics", "optimlab.compare"): (
        "the momentum claim runs on a 2-D surface through compare(); surfaces are not engine problems yet"),
    ("optimlab.study.store", "optimlab"): "reads __version__ from the package root; wants a base-layer home",
}
"""Violations other work in progress removes; an entry that no longer happens fails the test (delete it)."""


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module
    line: int
    lazy: bool  # inside a function


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[Import]:
    source = _module_name(path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(other, lazy)
                continue
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend(Import(source, a.name, child.lineno, lazy) for a in child.names
                             if a.name.split(".")[0] == "optimlab")
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - child.level + 1])
                    module = f"{base}.{child.module}" if child.module else base
                else:
                    module = child.module or ""
                if module.split(".")[0] != "optimlab":
                    continue
                for alias in child.names:  # `from . import stats` imports the module optimlab.stats
                    sub = f"{module}.{alias.name}"
                    found.append(Import(source, sub if _is_module(sub) else module, child.lineno, lazy))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _owner(module: str, table: tuple[str, ...]) -> str | None:
    """The entry of ``table`` that ``module`` belongs to (the longest matching prefix), if any."""
    # the package root is an entry of its own: it does not swallow every module that has no layer yet
    hits = [p for p in table if module == p or (p != "optimlab" and module.startswith(p + "."))]
    return max(hits, key=len) if hits else None


def _layer(module: str) -> int:
    prefixes = tuple(p for _, members in LAYERS for p in members)
    owner = _owner(module, prefixes)
    if owner is None:
        raise LookupError(module)
    return next(i for i, (_, members) in enumerate(LAYERS) if owner in members)


def _violation(imp: Import) -> str | None:
    """Why ``imp`` breaks the layering, or ``None`` if it is allowed by the rule table."""
    here, there = _layer(imp.source), _layer(imp.target)
    if there > here:
        return f"{LAYERS[here][0]} imports {LAYERS[there][0]}"
    mine, theirs = _owner(imp.source, VERBS), _owner(imp.target, VERBS)
    if mine and theirs and mine != theirs:
        return f"the verb {mine} imports the verb {theirs}"
    return None


ALL_IMPORTS = [imp for path in sorted((SRC / "optimlab").rglob("*.py")) for imp in _imports(path)]


def _pair(imp: Import) -> tuple[str, str]:
    return imp.source, imp.target


def test_every_module_has_a_layer() -> None:
    modules = sorted({_module_name(p) for p in (SRC / "optimlab").rglob("*.py")})
    unplaced = []
    for module in modules:
        try:
            _layer(module)
        except LookupError:
            unplaced.append(module)
    assert not unplaced, f"add these modules to LAYERS in tests/test_layering.py: {unplaced}"


def test_no_module_imports_from_a_layer_above() -> None:
    bad = []
    for imp in ALL_IMPORTS:
        why = _violation(imp)
        if why is None or _pair(imp) in KNOWN_VIOLATIONS:
            continue
        if _pair(imp) in LAZY_UPWARD and imp.lazy:
            continue
        lazy = " (inside a function)" if imp.lazy else ""
        bad.append(f"{imp.source}:{imp.line} imports {imp.target}{lazy}: {why}")
    assert not bad, "\n".join(bad)


def test_allowed_exceptions_are_still_needed() -> None:
    pairs = {_pair(imp) for imp in ALL_IMPORTS if _violation(imp)}
    stale = sorted(set(KNOWN_VIOLATIONS) - pairs) + sorted(set(LAZY_UPWARD) - pairs)
    assert not stale, f"these no longer happen; delete them from tests/test_layering.py: {stale}"


@pytest.mark.parametrize(("verb", "forbidden"), [
    ("optimlab.study", "optimlab.report"), ("optimlab.study", "optimlab.compare"),
    ("optimlab.advise", "optimlab.report"), ("optimlab.engine", "optimlab.study"),
    ("optimlab.rules", "optimlab.engine"), ("optimlab.rules", "optimlab.optim"),
])
def test_named_rules_hold(verb: str, forbidden: str) -> None:
    """The rules DESIGN.md spells out, checked by name so a change to the table cannot quietly drop them."""
    hits = [f"{i.source}:{i.line}" for i in ALL_IMPORTS if _owner(i.source, (verb,)) and _owner(i.target, (forbidden,))
            and _pair(i) not in KNOWN_VIOLATIONS and _pair(i) not in LAZY_UPWARD]
    assert not hits, f"{verb} must not import {forbidden}: {hits}"


def test_the_checker_sees_relative_lazy_and_type_only_imports() -> None:
    """The parser itself: a relative import resolves, a function-local one is lazy, a TYPE_CHECKING one is skipped."""
    imports = _imports(SRC / "optimlab" / "advise" / "_result.py")
    targets = {(i.target, i.lazy) for i in imports}
    assert ("optimlab.registry", False) in targets
    assert ("optimlab.report.advise_report", True) in targets
    assert all(i.target != "optimlab.optim" for i in imports)  # only under TYPE_CHECKING there
    assert _violation(Import("optimlab.rules.adam", "optimlab.training", 1, False)) == "rules imports engine"
    assert _violation(Import("optimlab.study.plan", "optimlab.compare", 1, False)) is not None
    assert _violation(Import("optimlab.report.x", "optimlab.stats", 1, False)) is None
    with pytest.raises(LookupError):
        _layer("optimlab.brand_new_module")  # a new module must be placed in LAYERS
