"""The default gallery of ``optimlab compare``: one picture per character of the classic family."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ._api import compare, lr_sweep
from ._linreg import batch_policies
from ._run import CompareResult

Story = tuple[str, str, Callable[[], CompareResult]]

STORIES: list[Story] = [
    (
        "ravine",
        "Gradient descent zig-zags across a ravine and crawls along it; momentum builds speed along it.",
        lambda: compare(["gd", "momentum", "nesterov"], "ravine", steps=100),
    ),
    (
        "scaling",
        "Per-coordinate scaling: AdaGrad, RMSProp and Adam divide each coordinate's step by its own gradient "
        "scale, so they head straight down the bowl instead of first falling down the steep y wall like GD; "
        "AdaGrad's steps shrink as its squared-gradient sum grows.",
        lambda: compare(["gd", "adagrad", "rmsprop", "adam"], "bowl", steps=60),
    ),
    (
        "saddle",
        "A saddle: starting almost on the ridge line y = 0, adaptive methods blow the tiny y-gradient up to a "
        "full-size step and leave quickly; plain gradient descent needs many steps to leave.",
        lambda: compare(["gd", "momentum", "adagrad", "rmsprop", "adam"], "saddle", lr=0.02, steps=80),
    ),
    (
        "two-basins",
        "Local minima: from the same start, gradient descent settles in the shallow well; momentum carries the "
        "path over the ridge into the deep one.",
        lambda: compare(["gd", "momentum", "adam"], "two-basins", steps=150),
    ),
    (
        "rosenbrock",
        "The banana valley from two classic starts: reaching the valley is fast, following it to (1, 1) is slow.",
        lambda: compare(["gd", "momentum", "adagrad", "rmsprop", "adadelta", "adam"], "rosenbrock", steps=300,
                        starts=[(-1.2, 1.0), (-2.0, 2.0)]),
    ),
    (
        "after-adam",
        "After Adam: Lion steps by exactly its learning rate in every coordinate (a flat step length; it stalls "
        "near the floor); Schedule-Free AdamW is drawn at its averaged point x; Prodigy's lr scales its own "
        "step-size estimate.",
        lambda: compare(["adam", "lion", "adopt", "schedulefree-adamw", "prodigy"], "rosenbrock", steps=300,
                        tune=True),
    ),
    (
        "lr-sweep",
        "The learning rate decides everything: too small crawls, too large oscillates across the ravine and "
        "then diverges.",
        lambda: lr_sweep("gd", "bowl", steps=60),
    ),
    (
        "batch-policies",
        "GD, SGD and mini-batch are one rule on different batches: smooth and costly, noisy and cheap, or "
        "in between.",
        lambda: batch_policies(steps=200),
    ),
]


def localize(result: CompareResult, name: str | None, lang: str) -> CompareResult:
    """Set the words of a picture in ``lang``: its title, story, settings line, labels and notes.

    ``name`` is the gallery story's (its title and story come from the text table); for any other picture
    (``name=None``) the title names the surface and the optimizers and the story is left out."""
    from ..report.lesson_text import STORIES as WORDS
    from ..report.lesson_text import figure_word

    result.lang = lang
    if lang == "en":
        return result
    if name is not None:
        result.title, result.story = WORDS[name][1]
    else:
        names = ", ".join(dict.fromkeys(t.optimizer for t in result.trials))
        result.title, result.story = f"{result.surface.name}: {names}", ""
    lrs = ", ".join(f"{t.optimizer} {lr:.3g}" for t, lr in zip(result.trials, result.lrs, strict=True))
    key = "tuned_settings" if "tuned" in result.settings else "settings"
    result.settings = figure_word(key, lang, lrs=lrs, steps=result.steps)
    result.labels = [f"{t.optimizer}  lr={lr:.3g}" for t, lr in zip(result.trials, result.lrs, strict=True)]
    result.notes = [f"lr={lr:.3g}: " + figure_word("diverged", lang, n=d)
                    for lr, d in zip(result.lrs, result.diverged_at, strict=True) if d is not None]
    return result


def _render(
    name: str, story: str, make: Callable[[], CompareResult], out: Path, lang: str
) -> tuple[CompareResult, float]:
    began = time.perf_counter()
    result = make()
    result.story = story
    localize(result, name, lang)
    result.save(out, stem=name, html=False)
    return result, time.perf_counter() - began


def _render_index(i: int, out: str, lang: str) -> tuple[CompareResult, float]:
    name, story, make = STORIES[i]
    return _render(name, story, make, Path(out), lang)


def one_torch_thread() -> None:
    """A worker process's initializer: one torch thread each."""
    import torch

    torch.set_num_threads(1)  # two worker processes on two cores: no oversubscription


def gallery(
    out_dir: str | Path = "optimlab-out/compare", *, workers: int = 2, verbose: bool = True, lang: str = "en"
) -> list[Path]:
    """Run every story and write its PNG, GIF and CSV (``optimlab compare --figures``), words in ``lang``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    n = len(STORIES)
    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=one_torch_thread) as pool:
            done = list(pool.map(_render_index, range(n), [str(out)] * n, [lang] * n))
    else:
        done = [_render(name, story, make, out, lang) for name, story, make in STORIES]
    if verbose:
        for (name, _, _), (_, sec) in zip(STORIES, done, strict=True):
            print(f"  {name:<15} {sec:5.2f} s   {out / (name + '.png')}")
        print(f"wrote {n} pictures, animations and tables in {time.perf_counter() - began:.1f} s")
    paths = []
    for name, _, _ in STORIES:
        paths += [out / f"{name}.{ext}" for ext in ("png", "gif", "csv")]
    return paths
