"""PEP 562 lazy exports: a package's public names import their defining module on first use.

A package's ``__init__`` lists where each name lives and gets back the module-level ``__getattr__`` and
``__dir__``; ``import optimlab`` then costs almost nothing, and a name's heavy dependencies (torch's compiler,
pandas, matplotlib) load only when a caller reads the name.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose name ``n`` is defined in module ``where[n]`` (relative
    to the package, e.g. ``"._api"``)."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later reads find it without calling this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__


class LazyChoices:
    """An argparse ``choices`` container filled on first use: ``load()`` runs only when a value is checked or the
    sub-command's own help is printed, so building the parser (``optimlab --help``) imports nothing heavy."""

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        self._names: list[str] | None = None

    def _get(self) -> list[str]:
        if self._names is None:
            self._names = sorted(self._load())
        return self._names

    def __contains__(self, value: object) -> bool:
        return value in self._get()

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())
