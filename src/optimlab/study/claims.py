"""The classic rules of thumb about the optimizer family, turned into experiments with a measured verdict.

Each claim runs a small experiment (population training with :func:`optimlab.training.train`, or surface paths
with :func:`optimlab.compare.compare`), measures what the advice is about, and decides *supported*, *not
supported* or *depends* from those numbers with thresholds stated next to the verdict (nothing is
hard-coded). The verdicts go to the store's ``claims`` table of a study of their own, so ``optimlab report``
shows them.

Quality of a run, used across problems: ``q = (L0 − L) / (L0 − L*)`` — the fraction of the best improvement in
validation loss seen on that problem (L0: loss at the initial weights, L*: the lowest validation loss any run in
the experiment reached). ``q = 1`` is the best, ``q = 0`` no progress; a diverged run has no ``q``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from .._threads import torch_threads
from ..errors import UserError
from ..population import Population, Trial
from ..problems.base import Problem
from ..problems.catalog import get_problem
from ..training import BatchStream, stack_params, train

GOOD_Q = 0.9
"""A run is "as good as the best" when it reaches this fraction of the best improvement (q >= 0.9)."""


@dataclass(frozen=True)
class ClaimsBudget:
    """Sizes of the claim experiments."""

    name: str
    steps: int
    seeds: tuple[int, ...]
    grid: tuple[float, ...]
    problems: Mapping[str, Mapping[str, Any]]
    sparsity_exponents: tuple[float, ...]
    adagrad_steps: int
    batch_steps: int
    batch_problem: Mapping[str, Any]


_HALF_DECADES = tuple(float(f"{10 ** (k / 2):.4g}") for k in range(-6, 2))  # 1e-3 ... 3.16

BUDGETS: dict[str, ClaimsBudget] = {
    # About a minute and a half on the shared 2-core machine (one torch thread).
    "quick": ClaimsBudget(
        "quick", steps=300, seeds=(0, 1), grid=_HALF_DECADES,
        problems={"quadratic": {"dim": 50, "n_train": 2048, "n_eval": 512},
                  "sparse-logreg": {"n_features": 200, "n_train": 4000, "n_eval": 1000},
                  "mnist1d-mlp": {"hidden": 64, "n_train": 2000}},
        sparsity_exponents=(0.0, 0.5, 1.0, 1.5, 2.0), adagrad_steps=1500, batch_steps=400,
        batch_problem={"hidden": 64, "n_train": 2000},
    ),
    "standard": ClaimsBudget(
        "standard", steps=600, seeds=(0, 1, 2), grid=tuple(float(f"{10 ** (k / 4):.4g}") for k in range(-16, 3)),
        problems={"quadratic": {}, "sparse-logreg": {}, "mnist1d-mlp": {"hidden": 128},
                  "digits-autoencoder": {}},
        sparsity_exponents=(0.0, 0.5, 1.0, 1.5, 2.0), adagrad_steps=2000, batch_steps=600,
        batch_problem={"hidden": 128},
    ),
}

CLASSIC = ("minibatch", "momentum", "adagrad", "rmsprop", "adadelta", "adam")
SGD_FAMILY = ("minibatch", "momentum")
ADAPTIVE = ("adagrad", "rmsprop", "adam")


@dataclass
class Claim:
    """One rule of thumb with its verdict, a one-paragraph summary and the evidence (numbers, thresholds, figure)."""

    name: str
    verdict: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class ClaimsResult:
    """Every claim's verdict, the study they are stored under and the run time."""

    study_id: str
    budget: str
    claims: list[Claim]
    seconds: float
    store: str = ""

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.claims) if self.claims else 10
        lines = [f"Claims study {self.study_id} ({self.budget} budget, {self.seconds:.0f} s):"]
        for c in self.claims:
            lines.append(f"  {c.name:<{width}}  {c.verdict}")
        where = f" --store {self.store}" if self.store else ""
        lines.append(f"Details: optimlab report {self.study_id}{where} --out optimlab-report")
        return "\n".join(lines)


Say = Callable[[str], None]


# ------------------------------------------------------------------------------------------------ shared runs


@dataclass
class GridRun:
    """Final validation loss of every (optimizer, lr) on one problem, median over seeds, and the loss at init."""

    problem: str
    optimizers: tuple[str, ...]
    grid: tuple[float, ...]
    loss: dict[tuple[str, float], float]
    init_loss: float
    seconds: float
    steps: int = 0

    @property
    def best_loss(self) -> float:
        finite = [v for v in self.loss.values() if math.isfinite(v)]
        return min(finite) if finite else math.nan

    def q(self, optimizer: str, lr: float) -> float:
        """Fraction of the best improvement reached (NaN: every seed diverged)."""
        value = self.loss.get((optimizer, lr), math.nan)
        span = self.init_loss - self.best_loss
        if not math.isfinite(value) or not span > 0:
            return math.nan
        return (self.init_loss - value) / span

    def tuned(self, optimizer: str) -> tuple[float, float]:
        """The grid's best lr for ``optimizer`` and its loss (NaN loss if all diverged)."""
        pairs = [(lr, self.loss[(optimizer, lr)]) for lr in self.grid if math.isfinite(self.loss[(optimizer, lr)])]
        if not pairs:
            return self.grid[0], math.nan
        return min(pairs, key=lambda p: p[1])


def init_loss(problem: Problem, seeds: Sequence[int]) -> float:
    """Mean validation loss of the initial weights over ``seeds``."""
    params = stack_params([problem.init_params(s) for s in seeds])
    return float(problem.evaluate(params, "valid")["loss"].mean())


def grid_run(problem: Problem, optimizers: Sequence[str], grid: Sequence[float], seeds: Sequence[int],
             steps: int) -> GridRun:
    """Every optimizer at every lr of ``grid`` and every seed, as one population."""
    trials = [Trial(o, {"lr": lr}, seed=s) for o in optimizers for lr in grid for s in seeds]
    result = train(problem, trials, steps, eval_splits=("valid",))
    final = result.final("valid", "loss").numpy()
    loss: dict[tuple[str, float], float] = {}
    for o in optimizers:
        for lr in grid:
            rows = [k for k, t in enumerate(trials) if t.optimizer == o and t.hypers["lr"] == lr]
            values = final[rows]
            values = values[np.isfinite(values)]
            loss[(o, lr)] = float(np.median(values)) if len(values) == len(rows) else math.nan
    return GridRun(problem.name, tuple(optimizers), tuple(grid), loss, init_loss(problem, seeds), result.seconds,
                   steps)


def _default_lr(name: str) -> float:
    from ..registry import get_preset

    return float(get_preset(name).defaults()["lr"])


def _num(value: float, digits: int = 3) -> float | None:
    return float(f"{value:.{digits}g}") if math.isfinite(value) else None


# ------------------------------------------------------------------------------------------------ the claims


def claim_adam_default(runs: Mapping[str, GridRun]) -> Claim:
    """"When unsure, use Adam": Adam at its default lr against the others at defaults and tuned."""
    numbers: dict[str, Any] = {}
    safe: list[str] = []
    series: dict[str, dict[str, Any]] = {}
    names = list(runs)
    for o in CLASSIC:
        series[f"{o} (default lr)"] = {"x": list(range(len(names))), "y": [], "style": "o-", "color": None}
    for p, run in runs.items():
        qs = {o: run.q(o, _default_lr(o)) for o in CLASSIC}
        tuned = {o: run.q(o, run.tuned(o)[0]) for o in CLASSIC}
        q_adam = qs["adam"]
        better_defaults = sorted(o for o in CLASSIC if o != "adam" and _gt(qs[o], q_adam))
        numbers[f"{p}: Adam default q"] = _num(q_adam)
        numbers[f"{p}: best other default"] = _best_name(qs, exclude="adam")
        numbers[f"{p}: best tuned"] = _best_name(tuned)
        numbers[f"{p}: defaults beating Adam's"] = better_defaults or "none"
        if math.isfinite(q_adam) and q_adam >= GOOD_Q:
            safe.append(p)
        for o in CLASSIC:
            series[f"{o} (default lr)"]["y"].append(_clip_q(qs[o]))
    for o in CLASSIC:
        from ..compare import PALETTE

        series[f"{o} (default lr)"]["color"] = PALETTE.get(o)
    n, k = len(runs), len(safe)
    failed = [p for p in runs if p not in safe]
    per_problem = "; ".join(
        f"{p}: q = {runs[p].q('adam', _default_lr('adam')):.2f}, best default {_best_name(_defaults_q(runs[p]))}"
        for p in runs)
    if k == n:
        verdict = "supported"
        summary = (f"Adam at its default lr (1e-3) reached at least {GOOD_Q:.0%} of the best improvement on every "
                   f"problem tried ({', '.join(runs)}).")
    elif 2 * k >= n:
        verdict = "depends"
        summary = (f"Adam's default was good on {k} of {n} problems; it fell short on {', '.join(failed)} "
                   f"({per_problem}): it depends on the problem, and tuning its lr still matters there.")
    else:
        verdict = "not supported"
        summary = (f"Adam's default lr reached {GOOD_Q:.0%} of the best on only {k} of {n} problems ({per_problem}): "
                   "at this budget other defaults were the safer first choice.")
    return Claim("when unsure, use Adam", verdict, summary, {
        "setup": f"Every optimizer at its preset default lr and on the lr grid, {_steps_text(runs)} steps, one "
                 "population per problem; q = fraction of the best validation-loss improvement any run reached on "
                 "that problem (so a short budget favours larger learning rates).",
        "numbers": numbers,
        "thresholds": {"good run": f"q >= {GOOD_Q}", "supported": "Adam's default is good on every problem",
                       "depends": "good on at least half of them", "not supported": "good on fewer than half"},
        "figure": {"kind": "lines", "title": "quality at the default lr", "xlabel": "problem", "ylabel": "q (1 = best)",
                   "xticklabels": names, "series": series},
    })


def claim_sparse_adaptive(
    runs: Mapping[float, GridRun], density: Mapping[float, float], gap_min: float = 0.02
) -> Claim:
    """"Sparse data → adaptive methods": tuned adaptive vs tuned SGD/momentum as feature sparsity grows."""
    rows = []
    for e in sorted(runs, key=lambda e: -density[e]):  # densest first
        run = runs[e]
        sgd = min(run.tuned(o)[1] for o in SGD_FAMILY)
        ada = min(run.tuned(o)[1] for o in ADAPTIVE)
        gap = (sgd - ada) / abs(sgd) if math.isfinite(sgd) and math.isfinite(ada) and sgd != 0 else math.nan
        rows.append((e, density[e], sgd, ada, gap))
    wins = [r for r in rows if math.isfinite(r[4]) and r[4] > gap_min]
    # "grows": larger at the sparsest level than at the densest (not necessarily monotone in between)
    grows = len(rows) >= 2 and math.isfinite(rows[-1][4]) and math.isfinite(rows[0][4]) and rows[-1][4] > rows[0][4]
    numbers = {f"density {d:.3f} (exponent {e:g})": f"SGD-family loss {sgd:.4g}, adaptive {ada:.4g}, "
                                                    f"adaptive lower by {gap:+.1%}"
               for e, d, sgd, ada, gap in rows}
    numbers["adaptive advantage larger at the sparsest than the densest"] = "yes" if grows else "no"
    if len(wins) == len(rows) and grows:
        verdict = "supported"
        summary = (f"Tuned adaptive methods beat tuned SGD/momentum by more than {gap_min:.0%} at every sparsity, "
                   "and the gap is larger at the sparsest level than at the densest.")
    elif wins:
        verdict = "depends"
        where = ", ".join(f"{d:.3f}" for _, d, *_ in wins)
        gaps = ", ".join(f"{gap:+.1%} at density {d:.3f}" for _, d, _, _, gap in rows)
        summary = (f"Adaptive methods won clearly (by more than {gap_min:.0%}) only at feature density {where}, "
                   f"{len(wins)} of {len(rows)} levels (advantage {gaps}): it depends on how sparse the data is.")
    else:
        verdict = "not supported"
        summary = (f"Tuned SGD/momentum were within {gap_min:.0%} of (or better than) the adaptive methods at "
                   "every sparsity.")
    series = {o: {"x": [r[1] for r in rows], "y": [runs[r[0]].tuned(o)[1] for r in rows], "style": "o-"}
              for o in (*SGD_FAMILY, *ADAPTIVE)}
    return Claim("sparse data → adaptive methods", verdict, summary, {
        "setup": "sparse-logreg with power-law feature frequencies at several exponents; each optimizer's lr tuned "
                 "on the grid; best of {minibatch, momentum} against best of {adagrad, rmsprop, adam}.",
        "numbers": numbers,
        "thresholds": {"adaptive wins at a level": f"its tuned validation loss is lower by more than {gap_min:.0%}",
                       "supported": "wins at every level and the gap is larger at the sparsest than the densest",
                       "depends": "wins at some levels", "not supported": "wins at none"},
        "figure": {"kind": "lines", "title": "tuned validation loss vs density",
                   "xlabel": "fraction of features present",
                   "ylabel": "validation loss", "logx": True, "series": series},
    })


def step_trace(problem: Problem, trials: Sequence[Trial], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Train ``trials`` as one population and record, per step, each trial's batch loss and update size ``‖Δθ‖``."""
    params = stack_params([problem.init_params(t.seed) for t in trials])
    names = list(params)
    tensors = [params[n] for n in names]
    population = Population(list(trials), tensors)
    seeds = sorted({t.seed for t in trials})
    streams = [BatchStream(len(problem.data.train), problem.default_batch_size, s) for s in seeds]
    row = torch.tensor([seeds.index(t.seed) for t in trials])
    data = problem.data.train
    losses = np.full((len(trials), steps), np.nan)
    moves = np.full((len(trials), steps), np.nan)
    for step in range(steps):
        index = torch.stack([s.next() for s in streams])[row]
        leaves = [p.detach().requires_grad_(True) for p in tensors]
        loss = problem.losses(dict(zip(names, leaves, strict=True)), *data.take(index))
        grads = torch.autograd.grad(loss.sum(), leaves)
        before = [p.clone() for p in tensors]
        population.step(grads, loss.detach())
        squared = sum(((p - b).reshape(len(trials), -1) ** 2).sum(dim=1) for p, b in zip(tensors, before, strict=True))
        frozen = population.diverged.numpy()
        losses[:, step] = np.where(frozen, np.nan, loss.detach().numpy())
        moves[:, step] = np.where(frozen, np.nan, torch.sqrt(torch.as_tensor(squared)).numpy())
    return losses, moves


def claim_adagrad_stalls(problem: Problem, run: GridRun, steps: int, seed: int = 0,
                         shrink_ratio: float = 0.5, stall_ratio: float = 0.5) -> Claim:
    """"AdaGrad's steps shrink until learning stops": update size over time and late progress vs RMSProp/Adam."""
    names = ("adagrad", "rmsprop", "adam")
    lrs = {o: run.tuned(o)[0] for o in names}
    losses, moves = step_trace(problem, [Trial(o, {"lr": lrs[o]}, seed=seed) for o in names], steps)
    w = max(steps // 10, 1)
    early = slice(w, 2 * w)  # skip the first tenth: adaptive statistics are still warming up
    shrink, late_gain = {}, {}
    for i, o in enumerate(names):
        shrink[o] = float(np.nanmean(moves[i, -w:]) / np.nanmean(moves[i, early]))
        mid = float(np.nanmean(losses[i, steps // 2 - w // 2 : steps // 2 + w // 2]))
        end = float(np.nanmean(losses[i, -w:]))
        late_gain[o] = (mid - end) / abs(mid) if mid else math.nan
    others_shrink = float(np.median([shrink[o] for o in names[1:]]))
    others_gain = float(np.median([late_gain[o] for o in names[1:]]))
    steps_shrink = shrink["adagrad"] < shrink_ratio * others_shrink
    stops = late_gain["adagrad"] < stall_ratio * others_gain
    final = {o: float(np.nanmean(losses[i, -w:])) for i, o in enumerate(names)}
    numbers: dict[str, Any] = {f"{o}: lr": lrs[o] for o in names}
    numbers |= {f"{o}: step size last/early": _num(shrink[o]) for o in names}
    numbers |= {f"{o}: loss drop in 2nd half": f"{late_gain[o]:.1%}" for o in names}
    numbers |= {f"{o}: final batch loss": _num(final[o], 4) for o in names}
    if steps_shrink and stops:
        verdict = "supported"
        summary = (f"AdaGrad's updates shrank to {shrink['adagrad']:.2f}× their early size (RMSProp/Adam: "
                   f"{others_shrink:.2f}×) and it gained only {late_gain['adagrad']:.1%} in the second half "
                   f"against {others_gain:.1%}.")
    elif steps_shrink:
        verdict = "depends"
        summary = (f"AdaGrad's updates did shrink ({shrink['adagrad']:.2f}× vs {others_shrink:.2f}×), but it kept "
                   f"learning ({late_gain['adagrad']:.1%} loss drop in the second half vs {others_gain:.1%}): at this "
                   "budget and lr the slowdown had not yet stopped learning; it depends on how long you train.")
    elif stops:
        verdict = "depends"
        summary = (f"AdaGrad's late progress was slower ({late_gain['adagrad']:.1%} loss drop in the second half vs "
                   f"{others_gain:.1%}), but its updates shrank about as much as RMSProp's/Adam's "
                   f"({shrink['adagrad']:.2f}× vs {others_shrink:.2f}×; every method's steps shrink as gradients do): "
                   "the slowdown is there, the shrinking-step mechanism is not what sets it apart at this budget.")
    else:
        verdict = "not supported"
        summary = (f"AdaGrad's updates shrank no faster than RMSProp's/Adam's ({shrink['adagrad']:.2f}× vs "
                   f"{others_shrink:.2f}×) and it kept learning ({late_gain['adagrad']:.1%} loss drop in the second "
                   f"half vs {others_gain:.1%}): slower than they were, but not stopped at this budget.")
    x = list(range(1, steps + 1, max(1, steps // 150)))
    series = {o: {"x": x, "y": [float(v) for v in _smooth(moves[i] / np.nanmean(moves[i, early]))[np.array(x) - 1]]}
              for i, o in enumerate(names)}
    return Claim("AdaGrad's steps shrink until learning stops", verdict, summary, {
        "setup": f"{problem.name}, each optimizer at its tuned lr, {steps} steps, mini-batches of "
                 f"{problem.default_batch_size}; step size = ‖θ(t+1) − θ(t)‖ (all parameters).",
        "numbers": numbers,
        "thresholds": {"steps shrink": f"AdaGrad's last/early step-size ratio < {shrink_ratio} × the others' median",
                       "learning stops": f"AdaGrad's 2nd-half loss drop < {stall_ratio} × the others' median",
                       "supported": "both", "depends": "one of the two", "not supported": "neither"},
        "figure": {"kind": "lines", "title": "update size / early update size", "xlabel": "step",
                   "ylabel": "relative step size", "logy": True, "series": series},
    })


def zigzag(paths: np.ndarray) -> np.ndarray:
    """Cross-valley travel on the ravine: ``Σ|Δv| / |v0|`` with ``v = (x − y)/√2`` (1 = straight to the floor)."""
    v = (paths[..., 0] - paths[..., 1]) / math.sqrt(2.0)
    travel = np.nansum(np.abs(np.diff(v, axis=-1)), axis=-1)
    return travel / np.abs(v[..., 0])


def claim_momentum_zigzag(steps: int = 150, damp_ratio: float = 0.5) -> Claim:
    """"Momentum damps the zig-zag": oscillation across the ravine, GD vs momentum, tuned and at equal step size."""
    from ..compare import compare

    tuned = compare(["gd", "momentum"], "ravine", steps=steps, tune=True, progress=False)
    lr_gd, lr_mom = tuned.lrs
    beta = 0.9
    same = compare(["momentum"], "ravine", steps=steps, lr=lr_gd * (1 - beta), progress=False)
    z = zigzag(tuned.paths)
    z_same = float(zigzag(same.paths)[0])
    loss_end = {"gd": float(tuned.losses[0, -1]), "momentum (tuned)": float(tuned.losses[1, -1]),
                "momentum (equal step)": float(same.losses[0, -1])}
    tuned_damps = bool(z[1] < damp_ratio * z[0])
    same_damps = bool(z_same < damp_ratio * z[0])
    numbers = {"GD tuned lr": lr_gd, "momentum tuned lr": lr_mom, "momentum equal-step lr": _num(lr_gd * (1 - beta)),
               "GD cross-valley travel": _num(z[0]), "momentum (tuned) travel": _num(z[1]),
               "momentum (equal step) travel": _num(z_same)}
    numbers |= {f"final loss, {k}": _num(v) for k, v in loss_end.items()}
    if tuned_damps and same_damps:
        verdict = "supported"
        summary = (f"Momentum crossed the valley far less: {z[1]:.1f} (tuned) and {z_same:.1f} (same effective step) "
                   f"against GD's {z[0]:.1f} (units of the initial offset).")
    elif tuned_damps or same_damps:
        verdict = "depends"
        which = "its own tuned lr" if tuned_damps else "the same effective step size as GD"
        summary = (f"Momentum damped the zig-zag only at {which} (travel {z[1]:.1f} tuned, {z_same:.1f} equal step, "
                   f"GD {z[0]:.1f}): it depends on how its learning rate is set.")
    else:
        verdict = "not supported"
        summary = (f"With β = 0.9 momentum swung across the valley as much or more than GD (travel {z[1]:.1f} tuned, "
                   f"{z_same:.1f} equal step, GD {z[0]:.1f}); its gain is speed along the valley floor.")
    v = (tuned.paths[..., 0] - tuned.paths[..., 1]) / math.sqrt(2.0)
    v_same = (same.paths[0, :, 0] - same.paths[0, :, 1]) / math.sqrt(2.0)
    x = list(range(steps + 1))
    series = {"gd": {"x": x, "y": v[0].tolist()}, "momentum": {"x": x, "y": v[1].tolist()},
              "momentum, equal step": {"x": x, "y": v_same.tolist(), "style": "--", "color": "#56B4E9"}}
    return Claim("momentum damps the zig-zag", verdict, summary, {
        "setup": f"ravine surface ½(u² + 100 v²) from (-2.5, -1.5), {steps} steps; lrs tuned by optimlab.compare's "
                 "shared rule; 'equal step' runs momentum at lr_GD × (1 − β), the same long-run step as GD.",
        "numbers": numbers,
        "thresholds": {"damps": f"momentum's cross-valley travel < {damp_ratio} × GD's",
                       "supported": "damps both tuned and at equal step", "depends": "in one of the two",
                       "not supported": "in neither"},
        "figure": {"kind": "lines", "title": "across-valley coordinate v over time", "xlabel": "step",
                   "ylabel": "v = (x − y)/√2", "series": series},
    })


def claim_adadelta_no_lr(runs: Mapping[str, GridRun]) -> Claim:
    """"AdaDelta needs no learning rate": does lr = 1 (its default) work on every problem, and how sensitive is it?"""
    grid = next(iter(runs.values())).grid
    worst = {o: [min((r.q(o, lr) if math.isfinite(r.q(o, lr)) else -math.inf) for r in runs.values())
                 for lr in grid] for o in CLASSIC}
    at_one = {p: run.q("adadelta", 1.0) for p, run in runs.items()}
    good = [p for p, q in at_one.items() if math.isfinite(q) and q >= GOOD_Q]
    best_single = {o: max(worst[o]) for o in CLASSIC}
    width = {o: sum(1 for v in worst[o] if v >= 0.5) for o in CLASSIC}
    numbers: dict[str, Any] = {f"{p}: AdaDelta lr=1 q": _num(q) for p, q in at_one.items()}
    numbers |= {f"{p}: AdaDelta best lr": r.tuned("adadelta")[0] for p, r in runs.items()}
    numbers |= {f"{o}: best one-lr-for-all worst-case q": _num(best_single[o]) for o in CLASSIC}
    numbers |= {f"{o}: grid points with worst-case q ≥ 0.5": width[o] for o in CLASSIC}
    n = len(runs)
    if len(good) == n:
        verdict = "supported"
        summary = f"AdaDelta at lr = 1 reached at least {GOOD_Q:.0%} of the best on every problem ({', '.join(runs)})."
    elif good:
        verdict = "depends"
        bad = [p for p in runs if p not in good]
        best = ", ".join(f"{p} {runs[p].tuned('adadelta')[0]:g}" for p in bad)
        edge = " (the top of the grid: larger may be better still)" if any(
            runs[p].tuned("adadelta")[0] == max(grid) for p in bad) else ""
        summary = (f"AdaDelta at lr = 1 was good on {', '.join(good)} but not on {', '.join(bad)} (best lr there: "
                   f"{best}{edge}): whether its default works depends on the problem.")
    else:
        verdict = "not supported"
        tuned_lrs = ", ".join(f"{p} {r.tuned('adadelta')[0]:g}" for p, r in runs.items())
        summary = (f"AdaDelta at lr = 1 reached {GOOD_Q:.0%} of the best on none of the {n} problems at this budget; "
                   f"its best lrs were {tuned_lrs}: it still needs its learning rate tuned.")
    series = {o: {"x": list(grid), "y": [max(v, -0.5) for v in worst[o]], "style": "o-"} for o in CLASSIC}
    return Claim("AdaDelta needs no learning rate", verdict, summary, {
        "setup": f"The lr grid on every problem ({_steps_text(runs)} steps); for each optimizer and lr, the worst q "
                 "over problems (one lr for all problems).",
        "numbers": numbers,
        "thresholds": {"good": f"q >= {GOOD_Q} at lr = 1", "supported": "good on every problem",
                       "depends": "good on some", "not supported": "good on none"},
        "figure": {"kind": "lines", "title": "worst q over problems at one lr", "xlabel": "learning rate",
                   "ylabel": "worst-case q (clipped at -0.5)", "logx": True, "series": series},
    })


def _policy_run(problem: Problem, name: str, lr: float, steps: int, eval_every: int) -> dict[str, Any]:
    result = train(problem, [Trial(name, {"lr": lr})], steps, eval_every=eval_every, eval_splits=("valid",))
    return {"eval_steps": result.eval_steps, "valid": result.evals["valid"]["loss"][0].numpy(),
            "train": result.train_loss[0].numpy(), "bytes": result.bytes_per_trial, "batch": result.batch_sizes[0],
            "diverged": result.diverged_at[0]}


class _Clock:
    """Time stamps of a run's steps, from its progress callback."""

    def __init__(self) -> None:
        self.stamps = [time.perf_counter()]

    def tick(self, done: int, total: int) -> None:
        self.stamps.append(time.perf_counter())


def step_seconds(problem: Problem, trials: Mapping[str, Trial], rounds: int = 5, steps: int = 20) -> dict[str, float]:
    """Seconds per training step of each trial run alone: the policies take turns for ``rounds`` rounds of ``steps``
    steps each, and each keeps its fastest round's median step, so a burst of load on a shared machine hits all of
    them alike instead of one."""
    best = {name: math.inf for name in trials}
    for _ in range(rounds):
        for name, trial in trials.items():
            clock = _Clock()
            train(problem, [trial], steps, eval_splits=("valid",), max_eval_examples=1, progress=clock.tick)
            per_step = float(np.median(np.diff(np.array(clock.stamps))))
            best[name] = min(best[name], per_step)
    return best


def _noise(curve: np.ndarray, window: int = 21) -> float:
    """Relative loss noise: std of the batch loss around its running median, over the second half, / mean loss."""
    half = curve[len(curve) // 2 :]
    half = half[np.isfinite(half)]
    if len(half) < window:
        return math.nan
    pad = window // 2
    padded = np.pad(half, pad, mode="edge")
    trend = np.array([np.median(padded[i : i + window]) for i in range(len(half))])
    return float(np.std(half - trend) / abs(np.mean(half)))


def claim_batch_policies(problem: Problem, steps: int, grid: Sequence[float] = (0.01, 0.0316, 0.1, 0.316, 1.0),
                         slow_ratio: float = 1.5, memory_ratio: float = 2.0, noise_ratio: float = 2.0,
                         target_fraction: float = 0.8) -> Claim:
    """"Full-batch GD is slow and memory-hungry, SGD is noisy, mini-batch balances them"."""
    policies = ("gd", "sgd", "minibatch")
    eval_every = max(steps // 30, 1)
    tuning = train(problem, [Trial(p, {"lr": lr}) for p in policies for lr in grid], steps, eval_splits=("valid",))
    final = tuning.final("valid", "loss").numpy().reshape(len(policies), len(grid))
    scores = np.where(np.isfinite(final), final, np.inf)
    lrs = {p: grid[int(np.argmin(scores[i]))] for i, p in enumerate(policies)}
    runs = {p: _policy_run(problem, p, lrs[p], steps, eval_every) for p in policies}
    per_step = step_seconds(problem, {p: Trial(p, {"lr": lrs[p]}) for p in policies})
    l0 = init_loss(problem, [0])
    best = min(float(np.nanmin(r["valid"])) for r in runs.values())
    target = l0 - target_fraction * (l0 - best)
    ttt: dict[str, float] = {}
    for p, r in runs.items():
        hit = np.nonzero(r["valid"] <= target)[0]
        ttt[p] = r["eval_steps"][int(hit[0])] * per_step[p] if hit.size else math.inf
    noise = {p: _noise(r["train"]) for p, r in runs.items()}
    mem = {p: r["bytes"] for p, r in runs.items()}
    parts = {
        "GD slow": ttt["gd"] > slow_ratio * ttt["minibatch"],
        "GD memory-hungry": mem["gd"] > memory_ratio * mem["minibatch"],
        "SGD noisy": noise["sgd"] > noise_ratio * noise["minibatch"],
        "mini-batch balances": math.isfinite(ttt["minibatch"]) and ttt["minibatch"] <= 1.1 * min(ttt["gd"], ttt["sgd"]),
    }
    numbers: dict[str, Any] = {}
    for p in policies:
        t = "not reached" if not math.isfinite(ttt[p]) else f"{ttt[p]:.3g} s"
        numbers[p] = (f"batch {runs[p]['batch']}, lr {lrs[p]:g}, {per_step[p] * 1e3:.2f} ms/step, "
                      f"time to target {t}, memory {mem[p] / 2**20:.2f} MiB, loss noise {noise[p]:.3f}")
    numbers["target validation loss"] = _num(target, 4)
    numbers |= {k: "yes" if v else "no" for k, v in parts.items()}
    held = [k for k, v in parts.items() if v]
    if len(held) == len(parts):
        verdict = "supported"
        summary = ("All four parts held: GD took longest to the target and used the most memory, SGD's loss was the "
                   "noisiest, and mini-batches reached the target first.")
    elif held:
        verdict = "depends"
        failed = [k for k, v in parts.items() if not v]
        summary = f"Held: {', '.join(held)}; did not hold: {', '.join(failed)} (on this problem and machine)."
    else:
        verdict = "not supported"
        summary = "None of the four parts held on this problem and machine."
    series = {}
    for p, r in runs.items():
        x = [s * per_step[p] for s in r["eval_steps"]]
        series[p] = {"x": x, "y": [float(v) for v in r["valid"]], "style": "o-"}
    series["target"] = {"x": [0.0, max(max(s["x"]) for s in series.values())], "y": [target, target], "style": ":",
                        "color": "#777777"}
    return Claim("full-batch GD is slow and memory-hungry, SGD is noisy, mini-batch balances them", verdict, summary, {
        "setup": f"{problem.name} ({len(problem.data.train)} training examples), each policy's lr tuned on "
                 f"{', '.join(f'{g:g}' for g in grid)}, then run alone {steps} steps; wall time = steps × time per "
                 "step measured here (one thread; the policies take turns, best of 5 rounds of 20 steps); "
                 "memory = the engine's bytes per trial (parameters, gradients, "
                 "state, activations kept for backward).",
        "numbers": numbers,
        "thresholds": {"target": f"{target_fraction:.0%} of the best improvement in validation loss",
                       "GD slow": f"GD's time to target > {slow_ratio} × mini-batch's",
                       "GD memory-hungry": f"GD's bytes > {memory_ratio} × mini-batch's",
                       "SGD noisy": f"SGD's relative loss noise > {noise_ratio} × mini-batch's",
                       "mini-batch balances": "mini-batch reaches the target first (within 10%)",
                       "supported": "all four", "depends": "some", "not supported": "none"},
        "figure": {"kind": "lines", "title": "validation loss vs wall time", "xlabel": "seconds (this machine)",
                   "ylabel": "validation loss", "series": series},
    })


# ------------------------------------------------------------------------------------------------ run


def run_claims(
    store: str | Path | Any = None,
    budget: str = "quick",
    *,
    claim_seeds: int | None = None,
    stream: TextIO | None = sys.stderr,
    progress: Callable[[str], None] | None = None,
) -> ClaimsResult:
    """Run every claim experiment at ``budget`` and store the verdicts as a study of their own in ``store``.

    ``claim_seeds`` overrides the budget's number of seeds per setting (the benchmark's ``--seeds`` default is
    meant for final scoring, so it is deliberately not taken here). ``progress`` receives one line per finished
    claim (default: printed to ``stream``).
    """
    from .store import DEFAULT_STORE, Store

    if budget not in BUDGETS:
        raise UserError(f"Unknown claims budget {budget!r}; use one of: {', '.join(BUDGETS)}.")
    b = BUDGETS[budget]
    if claim_seeds is not None and claim_seeds < 1:
        raise UserError(f"Invalid claim_seeds={claim_seeds}: give at least 1.")
    seed_list = tuple(range(claim_seeds)) if claim_seeds else b.seeds

    def say(message: str) -> None:
        if progress is not None:
            progress(message)
        elif stream is not None:
            print(message, file=stream, flush=True)

    owns = not isinstance(store, Store)
    db = store if isinstance(store, Store) else Store(store if store is not None else DEFAULT_STORE)
    started = time.perf_counter()
    claims: list[Claim] = []
    study_id = db.create_study(f"claims ({budget})", _plan_dict(b, seed_list))
    ok = False
    # These populations are small and overhead-bound: on a shared 2-core machine one thread was 20-50x faster than
    # two competing with other processes, and it makes the wall-time claim less sensitive to the machine's load.
    with torch_threads(1):
        try:
            built = {name: get_problem(name, **opts) for name, opts in b.problems.items()}

            def record(claim: Claim, t0: float) -> None:
                claim.seconds = time.perf_counter() - t0
                claim.evidence["seconds"] = round(claim.seconds, 1)
                db.put_claim(study_id, claim.name, claim.verdict, claim.summary, claim.evidence)
                claims.append(claim)
                say(f"claims: [{len(claims)}/6] {claim.name}: {claim.verdict} ({claim.seconds:.0f} s)")

            t0 = time.perf_counter()
            say(f"claims: lr grids on {', '.join(built)} ({len(CLASSIC)} optimizers x {len(b.grid)} lrs)...")
            runs = {n: grid_run(p, CLASSIC, b.grid, seed_list, b.steps) for n, p in built.items()}
            record(claim_adam_default(runs), t0)

            t0 = time.perf_counter()
            base = dict(b.problems.get("sparse-logreg", {}))
            sparse_runs: dict[float, GridRun] = {}
            density: dict[float, float] = {}
            for e in b.sparsity_exponents:
                problem = built["sparse-logreg"] if e == 1.0 and "sparse-logreg" in built else get_problem(
                    "sparse-logreg", **{**base, "exponent": e})
                density[e] = float((problem.data.train.inputs != 0).float().mean())
                sparse_runs[e] = runs["sparse-logreg"] if problem is built.get("sparse-logreg") else grid_run(
                    problem, (*SGD_FAMILY, *ADAPTIVE), b.grid, seed_list, b.steps)
            record(claim_sparse_adaptive(sparse_runs, density), t0)

            t0 = time.perf_counter()
            mlp = built.get("mnist1d-mlp") or next(iter(built.values()))
            record(claim_adagrad_stalls(mlp, runs[mlp.name], b.adagrad_steps, seed=seed_list[0]), t0)

            t0 = time.perf_counter()
            record(claim_momentum_zigzag(), t0)

            t0 = time.perf_counter()
            record(claim_adadelta_no_lr(runs), t0)

            t0 = time.perf_counter()
            record(claim_batch_policies(get_problem("mnist1d-mlp", **b.batch_problem), b.batch_steps), t0)
            ok = True
        finally:
            db.set_status(study_id, "done" if ok else "failed")
            if owns:
                db.close()
    return ClaimsResult(study_id, budget, claims, time.perf_counter() - started, str(db.path))


def _plan_dict(b: ClaimsBudget, seeds: Sequence[int]) -> dict[str, Any]:
    """A plan the study reader accepts; ``problems`` is empty so ``bench --resume`` never re-runs anything here."""
    return {
        "kind": "claims", "problems": [], "optimizers": [], "lr_grid": list(b.grid), "tune_seeds": [],
        "seeds": list(seeds), "budget": b.name, "steps": {}, "tune": False, "eval_every": b.steps,
        "max_eval_examples": None, "max_population": None, "problem_options": {}, "selection_metric": {},
        "score_metric": {}, "goals": {},
        "claims": {"problems": {k: dict(v) for k, v in b.problems.items()}, "steps": b.steps,
                   "sparsity_exponents": list(b.sparsity_exponents), "adagrad_steps": b.adagrad_steps,
                   "batch_steps": b.batch_steps, "batch_problem": dict(b.batch_problem)},
    }


# ------------------------------------------------------------------------------------------------ small helpers


def _steps_text(runs: Mapping[Any, GridRun]) -> str:
    return "/".join(str(s) for s in sorted({r.steps for r in runs.values()}))


def _defaults_q(run: GridRun) -> dict[str, float]:
    return {o: run.q(o, _default_lr(o)) for o in CLASSIC}


def _gt(a: float, b: float) -> bool:
    return math.isfinite(a) and (not math.isfinite(b) or a > b)


def _best_name(qs: Mapping[str, float], exclude: str | None = None) -> str:
    cands = {o: q for o, q in qs.items() if o != exclude and math.isfinite(q)}
    if not cands:
        return "none finished"
    o = max(cands, key=lambda k: cands[k])
    return f"{o} (q={cands[o]:.3f})"


def _clip_q(q: float) -> float:
    return max(q, -0.5) if math.isfinite(q) else -0.5


def _smooth(values: np.ndarray, window: int = 9) -> np.ndarray:
    kernel = np.ones(window) / window
    padded = np.pad(values, window // 2, mode="edge")
    return np.convolve(padded, kernel, mode="valid")[: len(values)]
