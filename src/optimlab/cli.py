"""The ``optimlab`` command: a thin layer over the Python API.

Bad input (an unknown name, an invalid value, a malformed expression or file) prints one sentence on
stderr and exits with code 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from collections.abc import Sequence

from . import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    from .notices import printed_as_lines

    try:
        with printed_as_lines():
            return int(args.run(args) or 0)
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("optimlab: interrupted; finished results are kept.", file=sys.stderr)
        return 130
    # Bad input: a UserError subclass (optimlab.errors), raised where the input entered; or a ValueError from the
    # drop-in classes and rules, which raise what torch.optim raises for an invalid argument; or a file not there.
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"optimlab: error: {_one_sentence(exc)}", file=sys.stderr)
        return 2


def _one_sentence(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename:
        text = f"{exc.strerror or 'cannot use'}: {exc.filename}"
    return " ".join(text.split())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optimlab", description="See, test and choose deep-learning optimizers, then use them."
    )
    parser.add_argument("--version", action="version", version=f"optimlab {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    listing = sub.add_parser("list", help="every optimizer and preset, as a table (--tree: the family tree)")
    listing.add_argument("--lang", default="en", help="language of titles (en, ko)")
    listing.add_argument("--tree", action="store_true",
                         help="draw the family tree: each optimizer under its parent, with what it changed")
    listing.set_defaults(run=_run_list)

    explain = sub.add_parser("explain", help="the explain card of one optimizer")
    explain.add_argument("name", help="an optimizer or preset name (see `optimlab list`)")
    explain.add_argument("--lang", default="en", help="en (default) or ko")
    explain.add_argument(
        "--format", choices=("text", "markdown", "html"), default="text", help="output format (default: text)"
    )
    explain.set_defaults(run=_run_explain)

    for module, adder in (("cli_compare", "add_compare_parser"), ("cli_bench", "add_bench_parser"),
                          ("cli_report", "add_report_parser"), ("cli_advise", "add_advise_parser"),
                          ("cli_landscape", "add_landscape_parser")):
        try:
            add = getattr(importlib.import_module(f".{module}", __package__), adder)
        except ModuleNotFoundError as exc:  # a command not built yet; any other import error is a real bug
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        add(sub)
    return parser


def _run_list(args: argparse.Namespace) -> int:
    from .explain.cards import check_language
    from .registry import PRESETS, SET_DOCS, SETS, family_tree

    check_language(args.lang)
    if args.tree:
        from .lineage import render_text

        width = min(120, shutil.get_terminal_size((100, 24)).columns)
        print(render_text(family_tree(args.lang), args.lang, width=width))
        return 0
    rows = []
    for preset in PRESETS.values():
        card = preset.card(args.lang)
        key = ", ".join(f"{k}={_short(v)}" for k, v in _key_defaults(preset).items())
        rows.append((preset.name, card.family, key, preset.batch.describe(), str(card.year), _short_paper(card.paper)))
    header = ("name", "family", "key hyperparameters (defaults)", "batch", "year", "paper")
    print(_table(header, rows))
    print("\nSets (for --optimizers and --candidates):")
    for name, doc in SET_DOCS.items():
        members = ", ".join(SETS[name]) if name in SETS else ", ".join(PRESETS)
        print(f"  {name}: {doc}.\n    = {members}" if name in SETS else f"  {name}: {doc}.")
    print("\nMore: `optimlab explain NAME` (add --lang ko for Korean); `optimlab list --tree` for the family tree.")
    return 0


def _run_explain(args: argparse.Namespace) -> int:
    from .registry import get_preset

    explained = get_preset(args.name).explain(args.lang)
    if args.format == "markdown":
        print(explained.to_markdown())
    elif args.format == "html":
        print(explained.to_html())
    else:
        width = min(100, shutil.get_terminal_size((88, 24)).columns)
        print(explained.to_terminal(width=width))
    return 0


_KEY_ARGUMENTS = ("lr", "momentum", "nesterov", "alpha", "rho", "betas", "centered", "amsgrad", "weight_decay")


def _key_defaults(preset: object) -> dict[str, object]:
    from .registry import Preset

    assert isinstance(preset, Preset)
    defaults = preset.defaults()
    shown = {k: defaults[k] for k in _KEY_ARGUMENTS if k in defaults}
    # Booleans and zero-valued options are noise in a one-line summary unless the preset sets them.
    return {k: v for k, v in shown.items() if k in preset.settings or not (v is False or v == 0)}


def _short(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _short_paper(paper: str) -> str:
    """'Diederik P. Kingma, Jimmy Ba. Adam: ... ICLR 2015.' -> 'Kingma & Ba'."""
    segments = paper.split(". ")
    authors = segments[0]
    for segment in segments[1:]:
        if len(authors.split()[-1]) > 1:  # the author list ends at the first '. ' not after an initial
            break
        authors = f"{authors}. {segment}"
    names = [a.strip().split()[-1] for a in authors.replace(" and ", ", ").split(",") if a.strip()]
    if not names:
        return paper[:30]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} & {names[1]}"
    return f"{names[0]} et al."


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    from .text import display_width

    widths = [max(display_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (str(c) + " " * (w - display_width(str(c))) for c, w in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


if __name__ == "__main__":
    raise SystemExit(main())
