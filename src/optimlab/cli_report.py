"""``optimlab report [STUDY] --store PATH --out DIR``: the study report as a self-contained HTML page and PNGs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_report_parser(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report", help="write a study's report (self-contained HTML page and PNGs)",
        description="Write the report of a study in the store: per-problem learning-rate sensitivity, training "
                    "curves and test metrics; across problems a ranking, performance profiles and paired win/loss "
                    "tests; the verdicts of the claims study; the explain cards.",
    )
    report.add_argument("study", nargs="?", default=None, help="study id or unique prefix (default: the latest)")
    report.add_argument("--store", default=None, help="the SQLite store (default: ./optimlab-runs/optimlab.sqlite)")
    report.add_argument("--out", default="optimlab-report", help="output folder (default: optimlab-report)")
    report.add_argument("--lang", default="en", choices=("en", "ko"),
                        help="language of the page and its figures: en (default) or ko (Korean)")
    report.add_argument("--no-claims", action="store_true",
                        help="do not attach the latest claims study's verdicts to a benchmark study's report")
    report.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from .errors import UserError
    from .report.study_report import write_report
    from .study.results import load_results
    from .study.store import DEFAULT_STORE

    store = Path(args.store) if args.store else Path(DEFAULT_STORE)
    if not store.is_file():
        raise UserError(f"No store at {str(store)!r}: run `optimlab bench` first or name one with --store.")
    results = load_results(store, args.study)
    if not args.no_claims and (results.claims is None or results.claims.empty):
        claims = latest_claims(store)
        if claims is not None:
            results.claims = claims
    files = write_report(results, args.out, lang=args.lang)
    print(f"Report of study {results.study_id}: {files['html']}", file=sys.stdout)
    print(f"{sum(1 for p in files.values() if p.suffix == '.png')} PNG figures in {Path(args.out)}", file=sys.stdout)
    return 0


def latest_claims(store: Path) -> Any:
    """The verdicts of the newest finished claims study in ``store`` (a DataFrame), or ``None``."""
    import json

    from .study.results import load_results
    from .study.store import Store

    with Store(store, readonly=True) as db:
        found = [s for s in db.studies()
                 if s["status"] == "done" and json.loads(s["plan_json"] or "{}").get("kind") == "claims"]
    if not found:
        return None
    return load_results(store, found[-1]["id"], curves=False).claims
