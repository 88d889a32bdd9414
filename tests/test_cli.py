"""The command line: thin, readable, and one clear sentence (exit code 2) for bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from optimlab.cli import main
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


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["explain", "adm"], "Did you mean: adam"),
        (["explain", "adam", "--lang", "fr"], "fr"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_code_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert needle in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


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
