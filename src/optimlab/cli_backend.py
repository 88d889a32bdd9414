"""``--backend``/``--address``/``--workers``: where ``bench`` and ``advise`` run their trials (one home for both)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

BACKENDS = ("auto", "per-trial", "processes", "ray")


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="auto", choices=BACKENDS,
                        help="where trials run: auto (the population where the model batches, else one by one), "
                             "per-trial, processes (local worker processes), ray (a Ray cluster; "
                             "pip install 'optimlab[ray]')")
    parser.add_argument("--address", default=None,
                        help="with --backend ray: the cluster to join (HOST:PORT, or 'auto' for the one `ray start` "
                             "runs here); default: start or join a local cluster")
    parser.add_argument("--workers", type=int, default=2, help="with --backend processes: worker processes (default 2)")


def executor_from_args(args: argparse.Namespace, quiet: bool = False) -> Any:
    """The executor the options name (``None`` for auto), or one sentence when they do not fit together."""
    from .errors import InvalidValueError

    if args.address is not None and args.backend != "ray":
        raise InvalidValueError("--address names a Ray cluster; use it with --backend ray.")
    if args.backend == "auto":
        return None
    if args.backend == "per-trial":
        from .engine import PerTrialExecutor

        return PerTrialExecutor()
    if args.backend == "processes":
        from .engine import ProcessExecutor

        return ProcessExecutor(workers=args.workers)  # it checks the count itself, in one sentence
    from .engine.ray_executor import RayExecutor

    def tell(counts: Any) -> None:
        print(f"optimlab: {counts}", file=sys.stderr)

    return RayExecutor(args.address, task_progress=None if quiet else tell)
