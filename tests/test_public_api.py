"""The package's public surface is explicit and light: what `__all__` lists exists and `dir()` shows, the verbs are
functions, and the front doors (`import optimlab`, `optimlab --help`, `optimlab list`, `import optimlab.optim`)
import neither torch's compiler nor pandas or the plotting libraries (checked in fresh interpreters)."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import optimlab
import optimlab.optim

SRC = Path(optimlab.__file__).resolve().parents[1]

LAZY_PACKAGES = ("optimlab", "optimlab.compare", "optimlab.advise", "optimlab.study", "optimlab.explain")
COMPILER = ("torch._dynamo", "torch._inductor")
TABLES_AND_PLOTS = ("pandas", "matplotlib", "plotly")


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_every_name_in_all_resolves_and_is_listed_by_dir(name: str) -> None:
    package = importlib.import_module(name)
    assert len(set(package.__all__)) == len(package.__all__)
    assert set(package.__all__) <= set(dir(package))
    for attribute in package.__all__:
        assert getattr(package, attribute) is not None, attribute
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        package.no_such_name  # noqa: B018


def test_drop_in_package_lists_its_classes() -> None:
    for name in optimlab.optim.__all__:
        assert hasattr(optimlab.optim, name), name


def test_verbs_are_functions_even_after_their_subpackages_are_imported() -> None:
    import optimlab.advise._tournament
    import optimlab.compare._gallery
    import optimlab.explain.cards

    for verb in (optimlab.explain, optimlab.compare, optimlab.train, optimlab.advise, optimlab.bench):
        assert inspect.isfunction(verb), verb
    assert "Adam" in optimlab.explain("adam").to_markdown()
    assert optimlab.explain("adam").to_markdown() == optimlab.explain("adam").to_markdown()


def test_drop_in_classes_mirror_torch_names() -> None:
    import torch

    for name in ("SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam"):
        ours, theirs = getattr(optimlab.optim, name), getattr(torch.optim, name)
        assert issubclass(ours, torch.optim.Optimizer)
        assert ours.__name__ == theirs.__name__


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code`` (this checkout's ``src`` first)."""
    script = f"import sys, io, contextlib\n{code}\nprint(__import__('json').dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.splitlines()[-1]))


def _cli(argument: str) -> str:
    """Code that runs ``optimlab ARGUMENT`` as the console script does (``--help`` exits through argparse)."""
    return (
        "from optimlab.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try:\n        assert main([{argument!r}]) == 0\n"
        "    except SystemExit as exc:\n        assert exc.code == 0"
    )


def _imported(loaded: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if m in roots or m.startswith(tuple(f"{r}." for r in roots)))


def test_import_optimlab_and_help_load_no_torch() -> None:
    for code in ("import optimlab", _cli("--help")):
        loaded = _loaded_after(code)
        assert "optimlab" in loaded
        assert _imported(loaded, ("torch", "numpy", *TABLES_AND_PLOTS)) == [], code


def test_list_and_the_drop_in_classes_load_no_compiler_and_no_tables() -> None:
    loaded = _loaded_after(f"import optimlab.optim\n{_cli('list')}")
    assert "optimlab.registry" in loaded and "torch" in loaded  # the listing reads the rules' schemas
    assert _imported(loaded, (*COMPILER, *TABLES_AND_PLOTS, "optimlab.hoist", "optimlab.advise._result")) == []
