"""The command line: thin, readable, and one clear sentence (exit code 2) for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from optimlab import cli
from optimlab.cli import main
from optimlab.errors import BudgetError, InvalidValueError, ProblemError, StoreError, UnknownNameError, UserError
from optimlab.registry import PRESETS


def test_list_shows_every_preset_with_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name, preset in PRESETS.items():
        row = next(line for line in lines if line.split()[:1] == [name])
        assert f"lr={preset.defaults()['lr']:g}" in row
        assert str(preset.card().year) in row
    assert "Kingma & Ba" in out
    assert "momentum=0.9" in next(line for line in lines if line.startswith("momentum "))


def test_explain_english_card_has_equations_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "adam"]) == 0
    out = capsys.readouterr().out
    assert "Adam" in out and "β₁" in out and "arxiv.org/abs/1412.6980" in out
    assert "(default: 0.001; range [0, ∞))" in out


def test_explain_korean_card(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "adam", "--lang", "ko"]) == 0
    out = capsys.readouterr().out
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in out)
    assert hangul > 200
    assert "기본값: 0.001" in out


def test_explain_markdown_has_latex(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "rmsprop", "--format", "markdown"]) == 0
    assert "$$" in capsys.readouterr().out


BAD_INPUT = [
    # (argv, a phrase of the one sentence, the error class raised where the input entered)
    (["explain", "adm"], "Did you mean: adam", UnknownNameError),
    (["explain", "adam", "--lang", "fr"], "Valid languages: en, ko", UnknownNameError),
    (["list", "--lang", "fr"], "Unknown language 'fr'", UnknownNameError),
    (["compare", "--surface", "rosenbrok"], "Did you mean: rosenbrock", UnknownNameError),
    (["compare", "--optimizers", "nope"], "Unknown optimizer 'nope'", UnknownNameError),
    (["compare", "--surface", "x**"], "Malformed surface expression", ProblemError),
    (["compare", "--surface", "x**2 + y**2", "--start", "9,9"], "outside the domain", InvalidValueError),
    (["compare", "--steps", "0"], "Invalid --steps 0", InvalidValueError),
    (["compare", "--start", "1,2,3"], "Invalid --start", InvalidValueError),
    (["compare", "--optimizers", "adam", "--lr", "adam=abc"], "expected a number", InvalidValueError),
    # the rules raise what torch.optim raises for an invalid hyperparameter: a ValueError
    (["compare", "--optimizers", "adam", "--lr", "adam=-1", "--no-gif", "--no-html"], "Invalid lr=-1", ValueError),
    (["bench", "--optimizers", "adamm"], "Did you mean: adam", UnknownNameError),
    (["bench", "--problems", "nope"], "Unknown problem 'nope'", UserError),
    (["bench", "--problem-file", "missing.py:make"], "does not exist", UserError),
    (["bench", "--lr-grid", "1:0:3"], "Invalid learning-rate range", InvalidValueError),
    (["bench", "--steps", "0"], "Invalid budget", BudgetError),
    (["advise", "mnist1d-mlp", "--budget", "abc"], "Invalid budget 'abc'", BudgetError),
    (["advise", "mnist1d-mlp", "--candidates", "adamm"], "Did you mean: adam", UnknownNameError),
    (["advise", "mnist1d-mlp", "--option", "hidden"], "write KEY=VALUE", UserError),
    (["advise", "mnist1d-mlp", "--seeds", "1"], "at least 2 seeds", UserError),
    (["runs", "--store", "."], "is a directory", StoreError),
    (["runs", "--store", "notes.txt"], "not an optimlab store", StoreError),
    (["report", "--store", "missing.sqlite"], "No store at", UserError),
    (["export", "--store", "missing.sqlite", "--out", "x.txt"], "must end in .csv or .parquet", UserError),
]


@pytest.mark.parametrize(("argv", "needle", "kind"), BAD_INPUT, ids=[" ".join(case[0]) for case in BAD_INPUT])
def test_bad_input_is_one_sentence_and_exit_code_2(
    argv: list[str], needle: str, kind: type[Exception], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # anything a command would write lands here
    (tmp_path / "notes.txt").write_text("not a database\n" * 20)
    seen: list[BaseException] = []
    one_sentence = cli._one_sentence

    def record(exc: BaseException) -> str:
        seen.append(exc)
        return one_sentence(exc)

    monkeypatch.setattr(cli, "_one_sentence", record)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("optimlab: error: ")
    assert len(seen) == 1 and isinstance(seen[0], kind), f"{type(seen[0]).__name__} raised, not {kind.__name__}"


def test_every_user_error_is_a_value_error() -> None:
    """``except ValueError`` (torch.optim's convention for a bad argument) keeps catching optimlab's errors."""
    for kind in (UserError, UnknownNameError, InvalidValueError, BudgetError, ProblemError, StoreError):
        assert issubclass(kind, UserError) and issubclass(kind, ValueError)


def test_console_script_runs_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "optimlab.cli", "explain", "nonsense-name"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("optimlab: error: Unknown optimizer 'nonsense-name'")
    assert "Traceback" not in proc.stderr


def test_python_api_explain_renders_markdown() -> None:
    import optimlab

    card = optimlab.explain("AdaDelta")
    md = card._repr_markdown_()
    assert md.startswith("# ") and "$$" in md and "rho" in md
    assert "0.9" in md  # the default of rho, filled in from the code
