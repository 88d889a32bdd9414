"""``optimlab landscape``: the optimizers on the loss landscape of a small real network, as an offline page."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_landscape_parser(subparsers: Any) -> None:
    landscape = subparsers.add_parser(
        "landscape", help="the tuned optimizers' paths on 2-D slices of a small network's loss (offline page)",
        description="Tune each optimizer's learning rate on the MNIST-1D MLP (32 hidden units), train the tuned "
                    "settings from the same weights recording every step, and draw the loss on two planes through "
                    "the solution (the paths' principal directions; random filter-normalized directions) with every "
                    "path projected on them. Writes landscape.html and its PNGs.",
    )
    landscape.add_argument("--out", type=Path, default=Path("optimlab-landscape"),
                           help="output folder (default optimlab-landscape)")
    landscape.add_argument("--lang", default="en", choices=("en", "ko"), help="en (default) or ko (Korean)")
    landscape.add_argument("--optimizers", default=None,
                           help="comma-separated optimizer names (default: minibatch, momentum, adagrad, rmsprop, "
                                "adadelta, adam — the classic family at one batch size)")
    landscape.add_argument("--steps", type=int, default=200, help="training steps of every run (default 200)")
    landscape.set_defaults(run=_run_landscape)


def _run_landscape(args: argparse.Namespace) -> int:
    from .landscape import OPTIMIZERS, landscape
    from .registry import get_preset

    names = [n.strip() for n in args.optimizers.split(",") if n.strip()] if args.optimizers else list(OPTIMIZERS)
    for name in names:
        get_preset(name)  # an unknown name fails here, in one sentence
    result = landscape(optimizers=names, steps=args.steps)
    files = result.save(args.out, args.lang)
    print(f"{files['html']}  ({', '.join(f'{k} {v:.1f} s' for k, v in result.seconds.items())})")
    return 0
