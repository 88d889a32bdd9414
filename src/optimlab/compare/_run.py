"""Run optimizers on a 2-D surface as one population and keep what the pictures and the summary need."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..palette import color_of
from ..population import Population, Trial
from ..problems.surfaces import Point, Surface

if TYPE_CHECKING:
    import pandas as pd

ESCAPE_FACTOR = 1000.0
"""A path farther than this many domain widths from the domain's centre counts as diverged."""


@dataclass
class CompareResult:
    """Paths of K trials on one surface, with the settings that produced them.

    ``paths[k, t]`` is trial k's point after t steps (``t = 0`` is the start) and ``losses[k, t]`` its loss;
    both are NaN after a trial diverged. ``summary`` is the table; ``save(out_dir)`` writes the pictures.
    """

    surface: Surface
    trials: list[Trial]
    lrs: list[float]
    start_index: list[int]
    starts: list[Point]
    paths: np.ndarray
    losses: np.ndarray
    diverged_at: list[int | None]
    title: str
    settings: str
    tol: float = 1e-3
    colors: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    kind: str = "surface"
    story: str = ""
    axis_labels: tuple[str, str] = ("x", "y")
    curves_x: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lang: str = "en"
    """Language of the figures' fixed words ("en" or "ko"); the title, story and settings are set by the caller."""

    def __post_init__(self) -> None:
        if not self.colors:
            self.colors = [color_of(t.optimizer) for t in self.trials]
        if not self.labels:
            self.labels = [f"{t.name}  lr={lr:.3g}" for t, lr in zip(self.trials, self.lrs, strict=True)]

    @property
    def steps(self) -> int:
        return self.paths.shape[1] - 1

    @property
    def summary(self) -> pd.DataFrame:
        """One row per trial: final loss, distance to the nearest minimum, steps to tolerance, path length."""
        f_star = self.surface.min_value
        rows = []
        for k, trial in enumerate(self.trials):
            last = _last_finite(self.losses[k])
            path = self.paths[k, : last + 1]
            seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
            end = torch.tensor(path[-1])
            reached = np.nan
            if f_star is not None:
                hits = np.nonzero(self.losses[k, : last + 1] - f_star <= self.tol)[0]
                reached = float(hits[0]) if hits.size else np.nan
            rows.append(
                {
                    "optimizer": trial.optimizer,
                    "label": self.labels[k],
                    "lr": self.lrs[k],
                    "start": f"({self.starts[self.start_index[k]][0]:g}, {self.starts[self.start_index[k]][1]:g})",
                    "seed": trial.seed,
                    "final_loss": float(self.losses[k, last]),
                    "distance_to_min": float(self.surface.distance_to_minimum(end)),
                    f"steps_to_tol_{self.tol:g}": reached,
                    "path_length": float(seg.sum()),
                    "diverged": self.diverged_at[k] is not None,
                    "diverged_at": self.diverged_at[k],
                }
            )
        import pandas as pd  # lazily: the lesson page never builds a summary, and pandas costs 0.5 s to import

        return pd.DataFrame(rows)

    def save(
        self, out_dir: str | Path, *, stem: str = "compare", gif: bool = True, html: bool = True
    ) -> dict[str, Path]:
        """Write ``{stem}.png``, ``{stem}.gif``, ``{stem}.html`` and ``{stem}.csv`` into ``out_dir``."""
        from ..report.surface_page import write_page
        from ..report.surface_plots import save_gif, save_png

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {"png": save_png(self, out / f"{stem}.png"), "csv": out / f"{stem}.csv"}
        self.summary.to_csv(files["csv"], index=False)
        if gif:
            files["gif"] = save_gif(self, out / f"{stem}.gif")
        if html:
            files["html"] = write_page([self], out / f"{stem}.html", title=self.title)
        return files

    def plot(self) -> Any:
        """The static picture as a matplotlib Figure."""
        from ..report.surface_plots import figure

        return figure(self)

    def to_html(self) -> str:
        """The interactive page (self-contained) as a string."""
        from ..report.surface_page import page_html

        return page_html([self], title=self.title)


def _last_finite(row: np.ndarray) -> int:
    finite = np.nonzero(np.isfinite(row))[0]
    return int(finite[-1]) if finite.size else 0


class ProgressBar:
    """A one-line text progress bar on stderr; silent when disabled."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label, self.enabled = max(total, 1), label, enabled
        self.shown = -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        pct = int(100 * done / self.total)
        if pct != self.shown:
            self.shown = pct
            bar = "#" * (pct // 4)
            sys.stderr.write(f"\r{self.label} [{bar:<25}] {pct:3d}%")
            if done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def run_surface(
    surface: Surface,
    trials: Sequence[Trial],
    starts: Sequence[Point],
    start_index: Sequence[int],
    steps: int,
    *,
    noise: float = 0.0,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int | None]]:
    """Run ``trials`` as one population on ``surface``; trial k starts at ``starts[start_index[k]]``.

    ``noise > 0`` adds Gaussian noise of that standard deviation to every gradient; trials with the same seed
    draw the same noise. Returns ``paths[K, steps+1, 2]``, ``losses[K, steps+1]`` (NaN after divergence) and
    the step at which each trial diverged (loss or gradient not finite, or the path left for infinity).
    The path and loss of a trial are at its rule's evaluation point (:meth:`optimlab.rules.Rule.evaluation_point`:
    Schedule-Free's averaged x, ASGD's average), which is the parameter itself for every other optimizer; the
    gradient is taken where the rule asks for it.
    """
    k = len(trials)
    theta = torch.tensor([starts[i] for i in start_index], dtype=torch.float64)
    pop = Population(list(trials), [theta])
    paths = np.empty((k, steps + 1, 2))
    losses = np.empty((k, steps + 1))
    (x0, x1), (y0, y1) = surface.domain
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], dtype=torch.float64)
    radius = ESCAPE_FACTOR * max(x1 - x0, y1 - y0)
    seeds = sorted({t.seed for t in trials})
    seed_row = torch.tensor([seeds.index(t.seed) for t in trials])
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    bar = ProgressBar(steps, f"{surface.name}: {k} paths", progress if progress is not None else steps * k >= 2_000_000)
    for t in range(steps + 1):
        loss, grad = surface.loss_and_grad(theta)
        (point,) = pop.evaluation_params()
        paths[:, t] = point.detach().numpy()
        losses[:, t] = (loss if point is theta else surface.loss_and_grad(point)[0]).numpy()
        if t == steps:
            break
        if noise > 0:
            draws = torch.stack([torch.randn(2, generator=g, dtype=torch.float64) for g in gens])
            grad = grad + noise * draws[seed_row]
        escaped = (theta - centre).norm(dim=1) > radius
        pop.step([grad], torch.where(escaped, torch.full_like(loss, math.inf), loss))
        if t % 50 == 0:
            bar.update(t)
    bar.update(steps)
    diverged = list(pop.diverged_at)
    for i, d in enumerate(diverged):
        if d is not None:  # detected while computing step d from the point after d - 1 steps: keep that point
            paths[i, d:] = np.nan
            losses[i, d:] = np.nan
    return paths, losses, diverged


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def lr_text(lrs: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {lr:.3g}" for name, lr in lrs.items())
