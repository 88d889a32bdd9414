"""``optimlab bench``, ``optimlab runs`` and ``optimlab export``: a thin layer over :mod:`optimlab.study`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .cli_backend import add_backend_arguments, executor_from_args
from .errors import UserError


def add_bench_parser(sub: Any) -> None:
    from ._lazy import LazyChoices
    from .study.store import DEFAULT_STORE

    def budget_names() -> list[str]:
        from .study.plan import BUDGETS  # the planner reads the registry (torch): only when --budget is read

        return list(BUDGETS)


    store_help = f"results store, a SQLite file (default: {DEFAULT_STORE})"
    bench = sub.add_parser(
        "bench", help="a fair benchmark: tune each optimizer's learning rate, re-run on fresh seeds, score on test",
        description=(
            "Tune each optimizer's learning rate on a log grid (other hyperparameters at defaults), pick the best "
            "on the validation split, re-run it over --seeds seeds and score it on the test split."
        ),
    )
    bench.add_argument("--problems", default="mnist1d-mlp,sparse-logreg", help="comma-separated problem names")
    bench.add_argument("--problem-file", action="append", default=[], metavar="PATH.py:FUNCTION",
                       help="add your own problem (a function returning an optimlab Problem); repeatable")
    bench.add_argument("--optimizers", default="seed", help="names or sets (seed, descendants, modern, all: "
                       "see `optimlab list`), comma-separated")
    bench.add_argument(
        "--seeds", type=int, help="final seeds per optimizer (default 5); with --claims, seeds per claim setting"
    )
    bench.add_argument("--budget", default="quick", choices=LazyChoices(budget_names), metavar="NAME",
                       help="named budget: %(choices)s (default quick: 200 steps, a 6-point lr grid, and validation/"
                            "test metrics averaged over the first 500 examples of each split, because evaluation "
                            "is a large share of a short run; every table and export says how many of how many). "
                            "With --claims: quick (about two minutes; each claim at a short and a long budget) or "
                            "standard (five problems, 300 and 2,000 steps: about half an hour)")
    bench.add_argument("--full-eval", action="store_true",
                       help="score on the whole validation and test splits, whatever the budget's cap")
    bench.add_argument("--steps", type=int, help="training steps per trial (overrides the budget)")
    bench.add_argument("--lr-grid", help="MIN:MAX:POINTS (log spaced) or a comma list (overrides the budget)")
    bench.add_argument("--tune-seeds", type=int, help="seeds per grid point while tuning (overrides the budget)")
    bench.add_argument("--max-population", type=int, help="at most this many trials trained together")
    bench.add_argument("--no-tune", action="store_true", help="defaults only: what if I do not tune?")
    bench.add_argument("--store", type=Path, default=DEFAULT_STORE, help=store_help)
    bench.add_argument("--name", help="a name for the study")
    bench.add_argument("--resume", action="store_true", help="continue the latest unfinished study in the store")
    bench.add_argument("--study", help="with --resume: the study id to continue")
    bench.add_argument("--claims", action="store_true",
                       help="run the lesson's rules of thumb as experiments instead: each verdict at a short and a "
                            "long budget, losses on whole validation splits")
    bench.add_argument("--quiet", action="store_true", help="no progress lines")
    add_backend_arguments(bench)
    bench.add_argument("--lang", default="en", choices=("en", "ko"),
                       help="language of the report the closing line tells you to write: en (default) or ko")
    bench.set_defaults(run=_run_bench)

    runs = sub.add_parser("runs", help="list the studies in a results store")
    runs.add_argument("--store", type=Path, default=DEFAULT_STORE, help=store_help)
    runs.set_defaults(run=_run_runs)

    export = sub.add_parser("export", help="one row per trial (configuration and final metrics) to CSV or Parquet")
    export.add_argument("--store", type=Path, default=DEFAULT_STORE, help=store_help)
    export.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.parquet")
    export.add_argument("--study", help="study id (default: the latest)")
    export.set_defaults(run=_run_export)


def _run_bench(args: argparse.Namespace) -> int:
    from .study import bench, parse_lr_grid

    stream = None if args.quiet else sys.stderr
    if args.claims:
        return _run_claims(args, stream)
    executor = executor_from_args(args, quiet=args.quiet)
    if args.resume:
        results = bench(store=args.store, resume=True, study=args.study, stream=stream, executor=executor)
    else:
        if args.study:
            raise UserError("--study names a study to continue; use it with --resume.")
        problems = [p.strip() for p in args.problems.split(",") if p.strip()] + list(args.problem_file)
        results = bench(
            problems, args.optimizers, 5 if args.seeds is None else args.seeds, args.budget, store=args.store,
            tune=not args.no_tune,
            lr_grid=parse_lr_grid(args.lr_grid) if args.lr_grid else None, steps=args.steps,
            tune_seeds=args.tune_seeds, max_population=args.max_population, full_eval=args.full_eval,
            name=args.name, stream=stream, executor=executor,
        )
    print(f"Study {results.study_id} ({results.name}): {len(results.trials)} trials in {args.store}")
    print()
    print(format_ranking(results))
    edge = results.selected()
    edge = edge[edge["at_edge"]]
    if len(edge):
        names = ", ".join(f"{r.optimizer} on {r.problem} (lr={r.lr:g})" for r in edge.itertuples())
        print(f"\nNote: the tuned lr sits at an end of the grid for {names}; a wider --lr-grid may do better.")
    print()
    lang = "" if args.lang == "en" else f" --lang {args.lang}"
    print(f"Report: optimlab report {results.study_id} --store {args.store} --out optimlab-report{lang}")
    return 0


def _run_claims(args: argparse.Namespace, stream: Any) -> int:
    from .study.claims import run_claims

    # With --claims, --seeds is the number of seeds per claim setting (the claims budget's own otherwise); the claims
    # score on whole validation splits, so --full-eval changes nothing there.
    executor = executor_from_args(args, quiet=args.quiet)
    result = run_claims(args.store, args.budget, claim_seeds=args.seeds, stream=stream, executor=executor)
    if result is not None:
        print(result)
    return 0


def format_ranking(results: Any) -> str:
    """The ranking as a plain-text table: per problem the median score over final seeds, then the mean rank."""
    table = results.ranking()
    if table.empty:
        return "No finished trials to rank."
    problems = [c for c in table.columns if c not in ("optimizer", "mean_rank")]
    from .study.plan import examples_text

    metrics = results.plan.get("score_metric", {})

    def head(p: str) -> str:
        metric = str(metrics.get(p, ""))
        on = examples_text(results.plan, p, metric.split("_")[0]) if metric else ""
        return f"{p} ({metric}{' on ' + on if on else ''}, median)"

    header = ["optimizer", *(head(p) for p in problems), "mean rank"]
    rows = [[str(r["optimizer"]), *(f"{r[p]:.4f}" for p in problems), f"{r['mean_rank']:.2f}"]
            for _, r in table.iterrows()]
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _run_runs(args: argparse.Namespace) -> int:
    from .study.store import Store

    with Store(args.store, readonly=True) as store:
        studies = store.studies()
    if not studies:
        print(f"No studies in {args.store}.")
        return 0
    header = ("id", "name", "created", "status", "trials done/total")
    rows = [(s["id"], s["name"], s["created"], s["status"], f"{s['finished']}/{s['total']}") for s in studies]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for i, row in enumerate([header, *rows]):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from .study import load_results

    out: Path = args.out
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UserError(f"Cannot export to {str(out)!r}: the file name must end in .csv or .parquet.")
    if out.exists() and args.store.exists() and out.resolve() == args.store.resolve():
        raise UserError("The export file is the store itself; choose another --out.")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UserError("Writing Parquet needs pyarrow: `pip install pyarrow` (or export to .csv).") from None
    results = load_results(args.store, args.study, curves=False)
    frame = results.trials.copy()
    frame.insert(0, "study_id", results.study_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    print(f"Wrote {len(frame)} trials of study {results.study_id} to {out}")
    return 0
