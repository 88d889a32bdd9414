"""The seed's lesson in its order, as one page to play with: what ``optimlab compare`` writes by default.

:data:`RUNS` says which grids are computed (one population per surface, each optimizer at every setting × start,
:mod:`.playground`), :data:`SECTIONS` which of them each section shows, in the lesson's order. The grids run in
two processes (one torch thread each), longest first. What each section measured (tuned rate, steps to the
minimum, where the rate diverges) is computed here from the same grids; the page only draws.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.tuning import at_edge
from ..errors import UserError
from ..problems.surfaces import SURFACES
from ._gallery import one_torch_thread
from ._linreg import batch_playground
from .playground import Playground, playground

CLASSIC_SIX = ("gd", "momentum", "adagrad", "rmsprop", "adadelta", "adam")

RUNS: dict[str, dict[str, Any]] = {
    # surface: optimizers, steps, starts per side of the clickable grid, other knobs, a fixed marked rate
    "rosenbrock": {"optimizers": CLASSIC_SIX, "steps": 200, "per_side": 3, "knobs": False},
    "ravine": {"optimizers": ("gd", "momentum", "nesterov", "rmsprop", "adam"), "steps": 100, "per_side": 3},
    "least-squares": {"steps": 200, "per_side": 3},
    "two-basins": {"optimizers": ("gd", "momentum"), "steps": 150, "per_side": 3},
    "bowl": {"optimizers": ("gd", "adagrad", "rmsprop", "adadelta"), "steps": 60, "per_side": 3},
    "saddle": {"optimizers": ("gd", "adagrad", "rmsprop"), "steps": 80, "per_side": 3, "marked_lr": 0.02},
}
"""One population per surface; longest first (they run in two processes)."""


@dataclass(frozen=True)
class Section:
    """One step of the lesson: its key (title and text in :mod:`optimlab.report.lesson_text`), the grid it draws,
    which optimizers, and how: ``arrows`` draws the first updates as arrows, ``roles`` adds the
    too-small/good/too-large/diverges buttons, ``curve_x`` is "step" or "examples"."""

    key: str
    surface: str = ""
    optimizers: tuple[str, ...] = ()
    arrows: int = 0
    roles: bool = False
    curve_x: str = "step"
    lr: float | None = None
    """The learning rate the section opens at (default: each optimizer's marked one)."""


SECTIONS: tuple[Section, ...] = (
    Section("optimizer", "bowl", ("gd",), arrows=12, lr=0.1),
    Section("learning-rate", "bowl", ("gd",), roles=True),
    Section("batch", "least-squares", ("gd", "sgd", "minibatch"), curve_x="examples"),
    Section("momentum", "ravine", ("gd", "momentum", "nesterov")),
    Section("momentum-basins", "two-basins", ("gd", "momentum")),
    Section("adagrad", "bowl", ("gd", "adagrad")),
    Section("rmsprop", "saddle", ("gd", "adagrad", "rmsprop")),
    Section("adadelta", "bowl", ("rmsprop", "adadelta")),
    Section("adam", "ravine", ("momentum", "rmsprop", "adam")),
    Section("compare", "rosenbrock", CLASSIC_SIX),
    Section("choose"),
)
"""The lesson's order (issue 17): optimizer, learning rate, batch policies, momentum, AdaGrad, RMSProp, AdaDelta,
Adam, side by side, how to choose. A real network's landscape is linked after it when given."""


def run_one(surface: str) -> Playground:
    """The grid of one entry of :data:`RUNS`."""
    spec = RUNS[surface]
    if surface == "least-squares":
        return batch_playground(steps=spec["steps"], per_side=spec["per_side"])
    return playground(SURFACES[surface], spec["optimizers"], spec["steps"], per_side=spec["per_side"],
                      knobs=spec.get("knobs", True), marked_lr=spec.get("marked_lr"))


def run_all(workers: int = 2, network: Callable[[], dict[str, Any]] | None = None
            ) -> tuple[dict[str, Playground], dict[str, Any] | None]:
    """Every grid of :data:`RUNS`, and ``network()`` when given (the real network's page data, the longest job,
    started first), in ``workers`` processes (1: in this one)."""
    names = list(RUNS)
    if workers <= 1:
        return {n: run_one(n) for n in names}, _or_none(network) if network else None
    with ProcessPoolExecutor(workers, initializer=one_torch_thread) as pool:
        slow = pool.submit(network) if network else None
        grids = dict(zip(names, pool.map(run_one, names), strict=True))
        return grids, _or_none(slow.result) if slow else None


def _or_none(job: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """``job()``, or ``None`` with one sentence on stderr when it cannot run here (mnist1d not installed, ...):
    the lesson is written without its real network rather than not at all."""
    try:
        return job()
    except UserError as exc:
        print(f"optimlab: the lesson's real network is left out: {exc}", file=sys.stderr)
        return None


NETWORK_FILE = "network.json"
"""Where the lesson keeps its real network's page data, to reuse it on the next run into the same folder."""


def reused_network(out: Path, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The network data a previous run stored in ``out`` for the same ``key`` (preset and version), else ``None``."""
    try:
        stored = json.loads((out / NETWORK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != json.loads(json.dumps(dict(key))):
        return None
    data = stored.get("data")
    return data if isinstance(data, dict) else None


def store_network(out: Path, key: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    """Keep ``data`` in ``out`` for :func:`reused_network` (written whole, then renamed: never half a file)."""
    part = out / (NETWORK_FILE + ".part")
    part.write_text(json.dumps({"key": dict(key), "data": dict(data)}, separators=(",", ":")), encoding="utf-8")
    os.replace(part, out / NETWORK_FILE)


def lr_roles(pg: Playground, name: str = "gd") -> dict[str, float]:
    """The lesson's four named rates from the grid at the first start: a rate about 30× below the tuned one
    (too small), the tuned one (good), the largest stable one above it (too large), the smallest that diverges."""
    g = pg.series[name]
    default = {k: d for k, _, d in g.knobs}
    rows = [c for c, st in enumerate(g.settings) if all(st[k] == v for k, v in default.items())]  # lr order
    good = rows.index(g.tuned)
    diverges = [i for i in range(good + 1, len(rows)) if g.diverged[rows[i], 0] >= 0]
    out = {"too-small": g.settings[rows[max(0, good - 6)]]["lr"], "good": g.settings[g.tuned]["lr"]}
    stable_above = [i for i in range(good + 1, diverges[0] if diverges else len(rows))]
    if stable_above:
        out["too-large"] = g.settings[rows[stable_above[-1]]]["lr"]
    if diverges:
        out["diverges"] = g.settings[rows[diverges[0]]]["lr"]
    return out


def measured(pg: Playground, name: str) -> dict[str, Any]:
    """What one optimizer did at its marked setting from the first start, and where its rate diverges there."""
    g = pg.series[name]
    c = g.tuned
    loss = g.losses[c, 0]
    finite = np.nonzero(np.isfinite(loss))[0]
    last = int(finite[-1]) if finite.size else 0
    f_star = pg.surface.min_value
    gap = loss - f_star if f_star is not None else None
    reach = None
    if gap is not None:
        hits = np.nonzero(gap[: last + 1] <= 1e-3)[0]
        reach = int(hits[0]) if hits.size else None
    default = {k: d for k, _, d in g.knobs}
    row = [i for i, st in enumerate(g.settings) if all(st[k] == v for k, v in default.items())]
    stable = [g.settings[i]["lr"] for i in row if g.diverged[i, 0] < 0]
    diverging = [g.settings[i]["lr"] for i in row if g.diverged[i, 0] >= 0]
    grid = [g.settings[i]["lr"] for i in row]
    return {
        "optimizer": name, "setting": g.settings[c], "final": float(loss[last]),
        "edge": at_edge(grid, g.settings[c]["lr"]), "grid": (min(grid), max(grid)),
        "gap": float(gap[last]) if gap is not None else None, "reach": reach, "steps": pg.steps,
        "stable": max(stable) if stable else None, "diverges": min(diverging) if diverging else None,
    }


def lesson(
    out_dir: str | Path = "optimlab-out/compare",
    *,
    lang: str = "en",
    workers: int = 2,
    store: str | Path | None = None,
    landscape: str | None = None,
    network: Callable[[], dict[str, Any]] | None = None,
    network_key: Mapping[str, Any] | None = None,
    verbose: bool = True,
) -> Path:
    """Compute every grid and write the lesson page ``index.html`` into ``out_dir``; return its path.

    ``network``: a function returning the real network's page data (``optimlab compare`` passes one that trains
    the landscape's lesson preset); it runs beside the surfaces, and its data is kept in ``out_dir`` under
    ``network_key`` and reused by the next run with the same key. ``landscape``: the address of the full landscape
    page, linked from the section "A real network" (default: ``landscape.html`` when ``optimlab landscape --out``
    wrote it into ``out_dir``). ``store``: where to look for stored claim verdicts (default: optimlab's default
    store).
    """
    from ..report.lesson_page import write_lesson
    from ..report.lesson_text import check_lang

    check_lang(lang)
    began = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = {"preset": dict(network_key or {}), "format": 1}
    reused = reused_network(out, key) if network else None
    grids, computed = run_all(workers, network if reused is None else None)
    if computed is not None:
        store_network(out, key, computed)
    if landscape is None and (out / "landscape.html").is_file():  # `optimlab landscape --out` the same folder
        landscape = "landscape.html"
    index = write_lesson(
        out / "index.html", grids, SECTIONS, lang=lang, roles=lr_roles(grids["bowl"]),
        facts={(s.key, n): measured(grids[s.surface], n) for s in SECTIONS for n in s.optimizers},
        store=store, landscape=landscape, began=began, network=computed or reused,
        network_reused=reused is not None,
    )
    if verbose:
        size = index.stat().st_size / 1e6
        computed_n = sum(g.paths.shape[0] * g.paths.shape[1] for pg in grids.values() for g in pg.series.values())
        how = "" if not network else (f", real network reused from {NETWORK_FILE}" if reused else
                                      f", real network trained in {computed['network']['wall']:.1f} s" if computed
                                      else ", no real network")
        print(f"wrote {index} ({size:.1f} MB): {len(SECTIONS)} sections, {computed_n} settings × starts{how}, "
              f"in {time.perf_counter() - began:.1f} s")
    return index
