"""User files on the command line: ``PATH.py:FUNCTION`` gives a problem (bench, advise) or a surface (compare).

The file is imported as a module of its own (named after its resolved path, so two files with the same name do
not collide) and ``FUNCTION`` is looked up in it; anything that goes wrong is one :class:`ProblemFileError`
sentence naming the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ProblemFileError
from .base import Problem
from .surfaces import Surface

_MAKE_HINT = "build one with optimlab.make_problem or optimlab.problems.base.ModuleProblem"


def split_spec(spec: str, what: str) -> tuple[Path, str]:
    """``"path/to/file.py:function"`` -> ``(Path("path/to/file.py"), "function")``."""
    path_text, colon, function_name = spec.rpartition(":")
    if not colon or not path_text or not function_name.isidentifier():
        raise ProblemFileError(f"A user {what} is given as 'path/to/file.py:function', not {spec!r}.")
    return Path(path_text).expanduser(), function_name


def import_file(path: Path, what: str) -> ModuleType:
    """Import the Python file at ``path`` (a ``what`` file: "problem", "surface") as a module."""
    label = f"{what.capitalize()} file {str(path)!r}"
    if not path.is_file():
        raise ProblemFileError(f"{label} does not exist.")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"optimlab_user_{what}_{digest}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ProblemFileError(f"{label} cannot be imported as Python (is it a .py file?).")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ProblemFileError(f"{label} failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def _function(spec: str, what: str) -> tuple[Path, str, Any]:
    path, name = split_spec(spec, what)
    module = import_file(path, what)
    found = getattr(module, name, None)
    if found is None:
        raise ProblemFileError(f"{what.capitalize()} file {str(path)!r} has no function {name!r}.")
    return path, name, found


def _call(function: Any, name: str, path: Path, what: str, options: dict[str, Any]) -> Any:
    try:
        return function(**options)
    except Exception as exc:
        raise ProblemFileError(
            f"{name}() in {what} file {str(path)!r} raised {type(exc).__name__}: {exc}"
        ) from exc


def load_user_problem(spec: str, **options: Any) -> Problem:
    """Import ``path/to/file.py`` and call its ``function(**options)``, given as ``"path/to/file.py:function"``;
    the result must be a :class:`~optimlab.problems.base.Problem` (what :func:`~optimlab.make_problem` returns,
    or a :class:`~optimlab.problems.base.ModuleProblem`)."""
    path, name, function = _function(spec, "problem")
    if not callable(function):
        raise ProblemFileError(f"Problem file {str(path)!r} has no function {name!r}.")
    result = _call(function, name, path, "problem", options)
    if not isinstance(result, Problem):
        raise ProblemFileError(
            f"{name}() in problem file {str(path)!r} returned {type(result).__name__}, "
            f"not an optimlab Problem ({_MAKE_HINT})."
        )
    return result


def load_user_surface(spec: str) -> Surface | Any:
    """The surface named by ``"path/to/file.py:name"``: a :class:`Surface`, a function ``f(x, y)`` of tensors,
    or a function of no arguments returning either (called once). Checking the surface itself is left to
    :func:`optimlab.compare.resolve_surface`."""
    path, name, found = _function(spec, "surface")
    if isinstance(found, Surface):
        return found
    if not callable(found):
        raise ProblemFileError(f"Surface file {str(path)!r}: {name} is a {type(found).__name__}, not a function.")
    if _required_positional(found) == 0:
        found = _call(found, name, path, "surface", {})
        if isinstance(found, Surface) or (callable(found) and _required_positional(found) == 2):
            return found
        raise ProblemFileError(
            f"{name}() in surface file {str(path)!r} returned {type(found).__name__}, not a Surface or a "
            "function f(x, y)."
        )
    if _required_positional(found) != 2:
        raise ProblemFileError(
            f"Surface file {str(path)!r}: {name} must be a function f(x, y) of two tensors, or take no arguments "
            "and return a Surface."
        )
    return found


def _required_positional(function: Any) -> int | None:
    """How many positional arguments ``function`` requires (None when Python cannot tell)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty)
