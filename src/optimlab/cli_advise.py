"""``optimlab advise PROBLEM``: recommend an optimizer and learning rate for a problem, with the evidence."""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path
from typing import Any

from .cli_backend import add_backend_arguments, executor_from_args


def add_advise_parser(subparsers: Any) -> None:
    advise = subparsers.add_parser(
        "advise", help="recommend an optimizer and learning rate for your model, with the evidence",
        description="Run a tournament on PROBLEM — every candidate scanned over learning rates a decade apart and "
                    "refined around its best on paired seeds, the best configurations confirmed over several fresh "
                    "seeds — and write the recommendation and its evidence (HTML page, PNGs, CSVs).",
    )
    advise.add_argument("problem", help="a built-in problem name (see `optimlab bench --help`) or PATH.py:FUNCTION "
                                        "returning an optimlab Problem")
    advise.add_argument("--budget", default="x33",
                        help="trial-steps (20000), a multiple of one training run (x33, the default) or a wall "
                             "time (90s, 5min)")
    advise.add_argument("--candidates", default=None,
                        help="optimizer names or sets (seed, descendants, modern, all: see `optimlab list`), "
                             "comma-separated (default: seed,adamw)")
    advise.add_argument("--seeds", type=int, default=3, help="seeds of the final confirmation (default 3)")
    advise.add_argument("--steps", type=int, default=None, help="steps of one full training run (default: the "
                                                                 "problem's)")
    advise.add_argument("--metric", default=None, help="validation metric that decides (default: accuracy if "
                                                        "the problem has it, else loss)")
    advise.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option passed to the problem's function (repeatable), e.g. --option hidden=64")
    advise.add_argument("--out", type=Path, default=Path("optimlab-advice"),
                        help="output folder of the report (default optimlab-advice)")
    advise.add_argument("--lang", default="en", choices=("en", "ko"),
                        help="language of the report and the summary: en (default) or ko (Korean)")
    advise.add_argument("--quiet", action="store_true", help="no progress lines")
    add_backend_arguments(advise)
    advise.set_defaults(run=_run_advise)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["hidden=64", "name=x"]`` -> ``{"hidden": 64, "name": "x"}`` (Python literals, else strings)."""
    from .errors import UserError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq or not key.strip().isidentifier():
            raise UserError(f"Invalid --option {pair!r}: write KEY=VALUE, e.g. hidden=64.")
        try:
            options[key.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            options[key.strip()] = text
    return options


def _run_advise(args: argparse.Namespace) -> int:
    from .advise import AdviceError, advise
    from .errors import UserError
    from .report._i18n import Messages
    from .report.advise_report import write_advice_report
    from .report.advise_text import TEXT, summary

    last = [0.0]

    def progress(phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 2.0 or done >= total:
            last[0] = now
            print(f"advise: {phase}: {done:,}/{total:,} trial-steps", file=sys.stderr)

    try:
        result = advise(args.problem, budget=args.budget, candidates=args.candidates, seeds=args.seeds,
                        progress=None if args.quiet else progress, steps=args.steps, metric=args.metric,
                        out_dir=args.out, problem_options=parse_options(args.option),
                        executor=executor_from_args(args, quiet=args.quiet))
    except AdviceError as exc:
        if args.lang != "en":  # advise() wrote what it measured in English; say it again in the chosen language
            write_advice_report(exc.partial, args.out, lang=args.lang)
        if exc.partial.compute:
            reason = str(exc).rstrip(". ")
            raise UserError(f"{reason}; what was measured is in {str(args.out)!r}.") from exc
        raise
    if args.lang != "en":
        write_advice_report(result, args.out, lang=args.lang)
    print(summary(result, args.lang))
    print("\n" + Messages(TEXT, args.lang)("evidence", path=args.out / "index.html"))
    return 0
