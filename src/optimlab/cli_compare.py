"""``optimlab compare``: optimizer paths on loss surfaces, as pictures, animations, a page and a table."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from .errors import InvalidValueError

DEFAULT_OUT = "optimlab-out/compare"

_EXAMPLES = """examples:
  optimlab compare                                   the lesson: one page, each picture a playground (index.html)
  optimlab compare --lang ko --figures               the lesson in Korean, plus every picture as PNG, GIF and CSV
  optimlab compare --surface beale --optimizers gd,momentum,adam --tune --start 1,1.5 --start 3,4
  optimlab compare --surface "x**2 + 3*sin(y)" --lr 0.05 --steps 100
  optimlab compare --problem linear-regression       GD vs SGD vs mini-batch in parameter space
  optimlab compare --lr-sweep --optimizers gd --surface bowl
"""


def add_compare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` sub-command to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "compare", help="optimizer paths on classic loss surfaces: PNG, GIF, interactive HTML, table",
        description="Run optimizers on a 2-D loss surface as one population and draw their paths. With no "
        "arguments, writes the lesson: one offline page walking the classic family, each picture a playground.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--optimizers", "-o", help="names or sets, comma-separated (default: gd,momentum,adagrad,"
                   "rmsprop,adadelta,adam); see `optimlab list`")
    p.add_argument("--surface", "-s", help="a built-in surface (rosenbrock, beale, himmelblau, saddle, rastrigin, "
                   "bowl, ravine, two-basins), a formula in x and y, e.g. \"x**2 + 3*sin(y)\", or PATH.py:FUNCTION "
                   "(a function f(x, y) of tensors, or one returning an optimlab Surface)")
    p.add_argument("--domain", help="xmin,xmax,ymin,ymax for a formula surface (default: -3,3,-3,3)")
    p.add_argument("--problem", choices=("surface", "linear-regression"), default=None,
                   help="linear-regression: GD, SGD and mini-batch on a two-parameter least-squares fit")
    p.add_argument("--lr", help="one learning rate for all, or per optimizer: gd=0.01,adam=0.1 "
                   "(default: tuned, the same rule for all)")
    p.add_argument("--tune", action="store_true", help="tune every optimizer's learning rate on the same log "
                   "grid and budget (the default when --lr is not given)")
    p.add_argument("--lr-sweep", nargs="?", const="auto", default=None, metavar="LRS",
                   help="one optimizer at several learning rates (too small, good, too large); optionally "
                   "the rates, comma-separated")
    p.add_argument("--steps", type=int, help="number of steps (default: 200; 60 for --lr-sweep)")
    p.add_argument("--start", action="append", metavar="X,Y", help="a start point; repeat for several")
    p.add_argument("--seeds", type=int, default=1, help="repeats with different gradient-noise seeds (needs --noise)")
    p.add_argument("--noise", type=float, default=0.0, help="std of Gaussian noise added to every gradient")
    p.add_argument("--out", default=None, help=f"output directory (default: ./{DEFAULT_OUT})")
    p.add_argument("--no-gif", action="store_true", help="skip the animated GIF")
    p.add_argument("--no-html", action="store_true", help="skip the interactive HTML page")
    p.add_argument("--progress", action="store_true", help="always show a progress bar")
    p.add_argument("--lang", choices=("en", "ko"), default="en", help="language of the pages and figures")
    p.add_argument("--figures", action="store_true", help="with no other arguments: also write each lesson "
                   "picture as PNG, GIF and CSV (slower: matplotlib)")
    p.set_defaults(run=run_compare)
    return p


def run_compare(args: argparse.Namespace) -> int:
    """Run the sub-command; bad input raises a ``UserError`` with one sentence (the CLI exits with code 2)."""
    out = Path(args.out or DEFAULT_OUT)
    given = [args.optimizers, args.surface, args.domain, args.problem, args.lr, args.lr_sweep, args.steps,
             args.start, args.noise or None, args.tune or None, args.seeds != 1 or None]
    if args.steps is not None and args.steps < 1:
        raise InvalidValueError(f"Invalid --steps {args.steps}: the number of steps must be a positive integer.")
    if args.seeds < 1:
        raise InvalidValueError(f"Invalid --seeds {args.seeds}: give a positive number of seeds.")
    progress = True if args.progress else None
    if all(v is None for v in given):
        return _lesson(out, args)
    from .compare import compare, lr_sweep
    from .compare._linreg import batch_policies

    began = time.perf_counter()
    if args.problem == "linear-regression":
        names = args.optimizers.split(",") if args.optimizers else ["gd", "sgd", "minibatch"]
        lr = _float(args.lr, "--lr") if args.lr else 0.05
        result = batch_policies([n.strip() for n in names if n.strip()], lr=lr, steps=args.steps or 200)
        stem = "linear-regression"
    elif args.lr_sweep is not None:
        name = args.optimizers or "gd"
        if "," in name:
            raise InvalidValueError("--lr-sweep takes one optimizer: give --optimizers with a single name.")
        lrs = None if args.lr_sweep == "auto" else [_float(v, "--lr-sweep") for v in args.lr_sweep.split(",")]
        starts = _starts(args.start)
        if starts and len(starts) > 1:
            raise InvalidValueError("--lr-sweep draws one start point: give --start once.")
        result = lr_sweep(name, _surface(args), lrs=lrs, steps=args.steps or 60,
                          start=starts[0] if starts else None, progress=progress)
        stem = "lr-sweep"
    else:
        if args.tune and args.lr:
            raise InvalidValueError("Give either --lr or --tune, not both: --tune chooses the learning rates.")
        kwargs: dict[str, Any] = {}
        if args.optimizers:
            kwargs["optimizers"] = args.optimizers
        result = compare(
            surface=_surface(args), lr=_lrs(args.lr), steps=args.steps or 200, starts=_starts(args.start),
            seeds=list(range(args.seeds)), noise=args.noise, progress=progress, **kwargs,
        )
        stem = "compare"
    if args.lang != "en":
        from .compare._gallery import localize

        localize(result, None, args.lang)
    files = result.save(out, stem=stem, gif=not args.no_gif, html=not args.no_html)
    print(result.summary.drop(columns=["label"]).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\n{result.settings}")
    for kind, path in files.items():
        print(f"{kind:>4}: {path}")
    print(f"done in {time.perf_counter() - began:.1f} s")
    return 0


def _lesson(out: Path, args: argparse.Namespace) -> int:
    """The default: the lesson page, with the real network (its data made in a side process while torch imports,
    unless the folder holds a network from an earlier run)."""
    from ._mnist1d import LESSON_SAMPLES

    handover = None if (out / "network.json").is_file() else _side_mnist1d(LESSON_SAMPLES)
    from . import __version__
    from .compare._gallery import gallery
    from .compare.lesson import lesson
    from .landscape import LESSON, LR_GRID, OPTIMIZERS

    began = time.perf_counter()  # the command's own time: start-up (torch) excluded, as for the other forms
    if handover:
        handover()
    key = {**LESSON, "lrs": list(LR_GRID), "optimizers": list(OPTIMIZERS), "version": __version__}
    lesson(out, lang=args.lang, network=lesson_network, network_key=key)
    if args.figures:
        gallery(out, lang=args.lang)
    print(f"done in {time.perf_counter() - began:.1f} s")
    return 0


def _side_mnist1d(num_samples: int) -> Any:
    """Start making MNIST-1D in a forked process (numpy and the mnist1d package only: no torch yet) and return a
    function that waits for the arrays and hands them to the loader; ``None`` where processes cannot fork.

    This takes the data (about 1.5 s of imports and generation) off the real network's path: it is made while the
    main process imports torch."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    side = context.Process(target=_make_mnist1d, args=(num_samples, send), daemon=True)
    side.start()
    send.close()

    def handover() -> None:
        from .problems.datasets import provide_mnist1d

        try:
            arrays = receive.recv()
        except EOFError:  # the side process died: the network job makes the data itself
            arrays = None
        side.join()
        if isinstance(arrays, tuple):
            provide_mnist1d(num_samples, arrays)

    return handover


def _make_mnist1d(num_samples: int, send: Any) -> None:
    from ._mnist1d import generate_mnist1d
    from .errors import UserError

    try:
        send.send(generate_mnist1d(num_samples))
    except UserError as exc:  # mnist1d missing: say so in the main process, where the network job runs
        send.send(str(exc))
    finally:
        send.close()


def lesson_network() -> dict[str, Any]:
    """The lesson's real network, trained now (the landscape's lesson preset), as the page's data."""
    from .landscape import LESSON, lesson_landscape
    from .palette import color_of
    from .report.lesson_data import encode_network
    from .report.lesson_page import LABELS

    began = time.perf_counter()
    result = lesson_landscape()
    data = encode_network(result, LABELS, {n: color_of(n) for n in result.chosen})
    hidden = LESSON["hidden"]
    data["network"] |= {"layers": f"40-{hidden}-{hidden}-10", "wall": time.perf_counter() - began}
    return data


def _surface(args: argparse.Namespace) -> Any:
    from .compare import resolve_surface

    name = args.surface or ("bowl" if args.lr_sweep is not None else "rosenbrock")
    surface: Any = name
    if ".py:" in name:  # a user's file: its function f(x, y), or a Surface
        from .problems.loader import load_user_surface

        surface = load_user_surface(name)
    domain = None
    if args.domain:
        values = [_float(v, "--domain") for v in args.domain.split(",")]
        if len(values) != 4:
            raise InvalidValueError(f"Invalid --domain {args.domain!r}: give four numbers xmin,xmax,ymin,ymax.")
        domain = ((values[0], values[1]), (values[2], values[3]))
    return resolve_surface(surface, domain)


def _float(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidValueError(f"Invalid {option} value {text.strip()!r}: expected a number.") from None
    if not math.isfinite(value):
        raise InvalidValueError(f"Invalid {option} value {text.strip()!r}: expected a finite number.")
    return value


def _lrs(text: str | None) -> float | dict[str, float] | None:
    if not text:
        return None
    if "=" not in text:
        return _float(text, "--lr")
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise InvalidValueError(f"Invalid --lr part {part.strip()!r}: write name=value, e.g. adam=0.1.")
        name, value = part.split("=", 1)
        out[name.strip()] = _float(value, "--lr")
    return out


def _starts(values: list[str] | None) -> list[tuple[float, float]] | None:
    if not values:
        return None
    points = []
    for text in values:
        parts = text.split(",")
        if len(parts) != 2:
            raise InvalidValueError(f"Invalid --start {text!r}: give a point as x,y, e.g. --start=-1.2,1.")
        points.append((_float(parts[0], "--start"), _float(parts[1], "--start")))
    return points
