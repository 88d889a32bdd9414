"""Tests for the explain cards: every card file, the parser's errors, and the renderers."""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import adopt
import prodigyopt
import pytest
import pytorch_optimizer
import torch

from cases import OPTIMLAB_EXTRAS
from optimlab import optim
from optimlab.explain import Card, UnknownNameError, available_cards, load_card
from optimlab.explain.cards import (
    SECTIONS,
    available_languages,
    display_width,
    parse_card,
    suggest_names,
    wrap_text,
)
from optimlab.registry import PRESETS

LANGS = ("en", "ko")

# The torch-compatible argument names each card may document (from the card format notes):
# a card's hyperparameters must be a subset of these.
_SGD_PRESET_ARGS = {"lr", "weight_decay", "maximize"}
_ADAM_ARGS = {"lr", "betas", "eps", "weight_decay", "amsgrad", "decoupled_weight_decay", "maximize"}
ALLOWED_ARGS: dict[str, set[str]] = {
    "gd": _SGD_PRESET_ARGS,
    "sgd": _SGD_PRESET_ARGS,
    "minibatch": _SGD_PRESET_ARGS,
    "momentum": {"lr", "momentum", "dampening", "weight_decay", "maximize"},
    "nesterov": {"lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize"},
    "adagrad": {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"},
    "rmsprop": {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"},
    "adadelta": {"lr", "rho", "eps", "weight_decay", "maximize"},
    "adam": _ADAM_ARGS,
    "amsgrad": _ADAM_ARGS,
    "adamw": _ADAM_ARGS,
    "adamax": {"lr", "betas", "eps", "weight_decay", "maximize"},
    "nadam": {"lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize"},
    "radam": {"lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize"},
    "lion": {"lr", "betas", "weight_decay", "decoupled_weight_decay", "cautious", "maximize"},
    "signum": {"lr", "momentum", "weight_decay", "weight_decouple", "cautious", "maximize"},
    "cautious-adamw": _ADAM_ARGS | {"cautious"},
    "cautious-lion": {"lr", "betas", "weight_decay", "decoupled_weight_decay", "cautious", "maximize"},
    "asgd": {"lr", "lambd", "alpha", "t0", "weight_decay", "maximize"},
    "rprop": {"lr", "etas", "step_sizes", "maximize"},
    "adopt": {"lr", "betas", "eps", "clip_lambda", "weight_decay", "decouple", "maximize"},
    "sparseadam": {"lr", "betas", "eps", "maximize"},
    "schedulefree-adamw": {"lr", "betas", "eps", "weight_decay", "warmup_steps", "r", "weight_lr_power",
                           "adam_debias", "maximize"},
    "schedulefree-sgd": {"lr", "momentum", "weight_decay", "warmup_steps", "r", "weight_lr_power", "maximize"},
    "muon": {"lr", "weight_decay", "momentum", "nesterov", "ns_coefficients", "eps", "ns_steps", "adjust_lr_fn"},
    "adafactor": {"lr", "beta2_decay", "eps", "d", "weight_decay", "maximize"},
    "prodigy": {"lr", "betas", "beta3", "eps", "weight_decay", "decouple", "use_bias_correction",
                "safeguard_warmup", "d0", "d_coef", "growth_rate"},
    "ademamix": {"lr", "betas", "alpha", "t_alpha_beta3", "eps", "weight_decay", "weight_decouple", "fixed_decay",
                 "maximize"},
    "soap": {"lr", "betas", "shampoo_beta", "weight_decay", "precondition_frequency", "max_precondition_dim",
             "precondition_1d", "correct_bias", "normalize_gradient", "eps", "maximize"},
}

# The reference class whose keyword arguments each card documents (torch.optim's, else the reference library's).
TORCH_CLASS: dict[str, type[torch.optim.Optimizer]] = {
    "gd": torch.optim.SGD,
    "sgd": torch.optim.SGD,
    "minibatch": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam,
    "amsgrad": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "cautious-adamw": torch.optim.AdamW,
    # lion, signum, cautious-lion: no torch namesake; their cards document the optimlab class's arguments.
    "asgd": torch.optim.ASGD,
    "rprop": torch.optim.Rprop,
    "sparseadam": torch.optim.SparseAdam,
    "adopt": adopt.ADOPT,  # the reference package (torch-adopt), torch.optim has no ADOPT
    # Optimizers torch.optim lacks: optimlab's drop-in class (its signature is the reference library's plus
    # optimlab's options, e.g. maximize).
    "schedulefree-adamw": optim.AdamWScheduleFree,
    "schedulefree-sgd": optim.SGDScheduleFree,
    "muon": torch.optim.Muon,
    "adafactor": torch.optim.Adafactor,
    "prodigy": prodigyopt.Prodigy,  # no torch.optim class: the reference library's
    "ademamix": pytorch_optimizer.AdEMAMix,
    "soap": pytorch_optimizer.SOAP,
}

CARD_NAMES = available_cards()

VALID_CARD = """\
---
name: toy
title: Toy <Optimizer> & "friends"
family: adaptive
year: 2020
paper: A. Author. A "paper" <with> markup & stuff. 2020.
url: https://example.org/paper?a=1&b=2
---

## Idea
Line one of the idea
continues here with `lr`.

Second paragraph <script>alert(1)</script>.

## Update
```math
\\theta_t &= \\theta_{t-1} - \\gamma\\, g_t "quoted"
```
```text
θ ← θ − γ·g
```

## Hyperparameters
- `lr`: the step size,
  over two lines.
- `eps`: a small constant.

## Strengths
- one
- two

## Weaknesses
- three

## When to use
Often.

## Notes
None really.
"""


def _hangul_share(text: str) -> float:
    """Share of Hangul among the letters of `text`, ignoring `code spans`."""
    letters = [c for c in re.sub(r"`[^`]*`", "", text) if c.isalpha()]
    hangul = [c for c in letters if "HANGUL" in unicodedata.name(c, "")]
    return len(hangul) / max(len(letters), 1)


# -- every card file ------------------------------------------------------------------------


def test_card_folders_exist() -> None:
    assert available_languages() == sorted(LANGS)
    assert {"gd", "sgd", "minibatch", "momentum", "nesterov", "adagrad", "rmsprop"} <= set(CARD_NAMES)


@pytest.mark.parametrize("name", CARD_NAMES)
@pytest.mark.parametrize("lang", LANGS)
def test_card_parses_with_every_section_filled(name: str, lang: str) -> None:
    card = load_card(name, lang)  # fails for a card that exists in only one language
    assert card.name == name and card.lang == lang
    for field_name in ("title", "paper", "url", "idea", "update_latex", "update_text", "when_to_use", "notes"):
        assert getattr(card, field_name).strip(), f"{lang}/{name}: {field_name} is empty"
    assert card.hyperparameters and all(v.strip() for v in card.hyperparameters.values())
    assert card.strengths and all(s.strip() for s in card.strengths)
    assert card.weaknesses and all(w.strip() for w in card.weaknesses)
    assert 1800 <= card.year <= 2100
    assert "$$" not in card.update_latex


@pytest.mark.parametrize("name", CARD_NAMES)
def test_hyperparameters_are_documented_torch_arguments(name: str) -> None:
    assert name in ALLOWED_ARGS, f"no argument list for card {name!r}: add it to ALLOWED_ARGS"
    keys = set(load_card(name, "en").hyperparameters)
    assert "lr" in keys
    assert keys <= ALLOWED_ARGS[name], f"{name}: not arguments of the class: {keys - ALLOWED_ARGS[name]}"
    if name in TORCH_CLASS:  # torch's arguments, plus the optimlab-only extras the tests list
        torch_cls = TORCH_CLASS[name]
        args = set(inspect.signature(torch_cls).parameters) | set(OPTIMLAB_EXTRAS.get(torch_cls.__name__, ()))
    else:
        args = set(inspect.signature(PRESETS[name].optimizer).parameters)
    assert keys <= args, f"{name}: {keys - args} are not arguments of the class"


@pytest.mark.parametrize("name", CARD_NAMES)
def test_korean_card_matches_english(name: str) -> None:
    en, ko = load_card(name, "en"), load_card(name, "ko")
    assert set(ko.hyperparameters) == set(en.hyperparameters)
    assert (ko.name, ko.family, ko.year, ko.url) == (en.name, en.family, en.year, en.url)


@pytest.mark.parametrize("name", CARD_NAMES)
def test_korean_card_is_written_in_korean(name: str) -> None:
    ko = load_card(name, "ko")
    assert _hangul_share(ko.idea) > 0.6, ko.idea
    for part in (ko.when_to_use, " ".join(ko.strengths), " ".join(ko.weaknesses)):
        assert _hangul_share(part) > 0.5, part
    assert _hangul_share(" ".join(ko.hyperparameters.values())) > 0.5
    assert _hangul_share(load_card(name, "en").idea) == 0


@pytest.mark.parametrize("name", CARD_NAMES)
@pytest.mark.parametrize("lang", LANGS)
def test_terminal_lines_fit_and_use_text_equations(name: str, lang: str) -> None:
    card = load_card(name, lang)
    for width in (88, 60):
        text = card.to_terminal(width=width)
        too_wide = [ln for ln in text.splitlines() if display_width(ln) > width]
        assert not too_wide, too_wide
    text = card.to_terminal()
    assert text.splitlines()[0].startswith(card.title)
    assert card.url in text
    assert "\\theta" not in text and "\\frac" not in text  # the text form, not LaTeX
    for line in card.update_text.splitlines():
        if display_width(line) <= 86:
            assert "  " + line in text


# -- names and languages ----------------------------------------------------------------------


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        load_card("rmsprp")
    assert str(info.value).startswith("Unknown optimizer 'rmsprp'. Did you mean: rmsprop")
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownNameError, match="Did you mean: nesterov"):
        load_card("nesterv", "ko")


def test_suggestions_rank_the_closest_names_first() -> None:
    registry = list(ALLOWED_ARGS)
    assert suggest_names("adm", registry)[:2] == ["adam", "adamw"]
    assert suggest_names("adagard", registry)[0] == "adagrad"
    assert suggest_names("zzzz", registry) == []


def test_unknown_name_without_close_match_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match=r"Valid names: .*adagrad.*sgd"):
        load_card("zzzzzz")


def test_unknown_language_lists_valid_languages() -> None:
    with pytest.raises(ValueError, match=r"Unknown language 'fr'\. Valid languages: en, ko"):
        load_card("sgd", "fr")


def test_names_are_case_insensitive() -> None:
    assert load_card(" SGD ").name == "sgd"


# -- the parser ------------------------------------------------------------------------------


def test_parse_valid_card() -> None:
    card = parse_card(VALID_CARD, "toy.md")
    assert isinstance(card, Card)
    assert card.year == 2020 and card.family == "adaptive"
    assert card.idea == (
        "Line one of the idea continues here with `lr`.\n\nSecond paragraph <script>alert(1)</script>."
    )
    assert card.hyperparameters == {"lr": "the step size, over two lines.", "eps": "a small constant."}
    assert card.strengths == ["one", "two"] and card.weaknesses == ["three"]
    assert card.update_text == "θ ← θ − γ·g"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("## Strengths\n- one\n- two\n\n", ""), r"missing section\(s\): ## Strengths"),
        (lambda t: t.replace("## Notes", "## Remarks"), r"unexpected section '## Remarks'"),
        (lambda t: t.replace("year: 2020\n", ""), r"missing front matter key\(s\): year"),
        (lambda t: t.replace("year: 2020", "year: 2020\nauthor: me"), r"unknown front matter key 'author'"),
        (lambda t: t.replace("year: 2020", "year: soon"), r"'year' is not an integer"),
        (lambda t: t.replace("family: adaptive", "family: magic"), r"'family' must be one of"),
        (lambda t: t.replace("```text\nθ ← θ − γ·g\n```\n", ""), r"```math block then a ```text block"),
        (lambda t: t.replace("- `eps`: a small constant.", "- eps: a small constant."), r"hyperparameter line"),
        (lambda t: t.replace("- `eps`: a small", "- `lr`: a small"), r"`lr` is listed twice"),
        (lambda t: t.replace("## Idea\n", "## Weaknesses\n- x\n\n## Idea\n", 1), r"appears twice"),
        (lambda t: t.replace("## When to use\nOften.\n", "## When to use\n"), r"'## When to use' is empty"),
        (lambda t: t.replace("- three", "three"), r"'## Weaknesses' must be a '- ' list"),
        (lambda t: t.split("## Idea")[1], r"missing front matter"),
    ],
)
def test_malformed_card_names_file_and_part(tmp_path: Path, edit: Callable[[str], str], message: str) -> None:
    path = tmp_path / "toy.md"
    path.write_text(edit(VALID_CARD), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        parse_card(path.read_text(encoding="utf-8"), str(path))
    assert str(info.value).startswith(f"{path}: ")


def test_sections_out_of_order_are_rejected() -> None:
    swapped = VALID_CARD.replace("## Strengths", "## TMP").replace("## Weaknesses", "## Strengths")
    swapped = swapped.replace("## TMP", "## Weaknesses")
    with pytest.raises(ValueError, match="sections out of order"):
        parse_card(swapped, "swapped.md")
    assert SECTIONS[0] == "Idea" and SECTIONS[-1] == "Notes"


# -- renderers -------------------------------------------------------------------------------


def test_display_width_counts_wide_characters_twice() -> None:
    assert display_width("abc") == 3
    assert display_width("학습률") == 6
    assert display_width("ｌｒ") == 4  # full-width Latin
    assert display_width("e\u0301") == 1  # combining accent takes no column
    assert display_width("θ ← γ") == 5


def test_wrap_counts_hangul_as_two_columns() -> None:
    text = "모든 파라미터를 그래디언트의 반대 방향으로 조금씩 옮기는 가장 단순한 방법이다 " * 4
    lines = wrap_text(text, width=30)
    assert all(display_width(line) <= 30 for line in lines)
    # A len()-based wrap would put up to 30 syllables (60 columns) on a line.
    assert max(len(line) for line in lines) <= 15
    assert max(display_width(line) for line in lines) >= 24  # lines are filled, not cut short
    assert " ".join(lines).split() == text.split()


def test_wrap_splits_words_wider_than_the_line() -> None:
    lines = wrap_text("가" * 25, width=10, initial="- ", subsequent="  ")
    assert all(display_width(line) <= 10 for line in lines)
    assert "".join(line[2:] for line in lines) == "가" * 25


def test_to_terminal_wraps_korean_card_at_width() -> None:
    card = load_card("adagrad", "ko")
    text = card.to_terminal(width=40)
    lines = text.splitlines()
    assert all(display_width(line) <= 40 for line in lines)
    assert any(display_width(line) > 30 and len(line) < 30 for line in lines)  # wide lines used
    assert "하이퍼파라미터\n--------------" in text  # underline as wide as the heading


def test_to_markdown_includes_given_defaults() -> None:
    card = load_card("rmsprop")
    md = card.to_markdown({"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "centered": False, "nope": 7})
    lines = md.splitlines()
    assert next(ln for ln in lines if ln.startswith("- `lr`:")).endswith("(default: 0.01)")
    assert next(ln for ln in lines if ln.startswith("- `eps`:")).endswith("(default: 1e-8)")
    assert next(ln for ln in lines if ln.startswith("- `centered`:")).endswith("(default: False)")
    assert "(default" not in next(ln for ln in lines if ln.startswith("- `momentum`:"))
    assert "nope" not in md and "(default: 7)" not in md
    assert md.count("$$") >= 2 and "\\begin{aligned}" in md
    assert card._repr_markdown_() == card.to_markdown()

    ko = load_card("adagrad", "ko").to_markdown({"lr": 0.001, "betas": (0.9, 0.999)})
    assert "(기본값: 0.001)" in ko and "(default" not in ko
    assert "## 하이퍼파라미터" in ko


def test_to_markdown_shows_every_part() -> None:
    card = load_card("momentum")
    md = card.to_markdown()
    for text in (card.title, card.paper, card.url, *card.strengths, *card.weaknesses):
        assert text in md
    for line in card.update_latex.splitlines():
        assert line.strip() in md


def test_to_html_escapes_and_keeps_latex() -> None:
    card = parse_card(VALID_CARD, "toy.md")
    out = card.to_html({"lr": 0.5})
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "Toy &lt;Optimizer&gt; &amp; &quot;friends&quot;" in out
    assert 'href="https://example.org/paper?a=1&amp;b=2"' in out
    assert "<code>lr</code>" in out and "(default: 0.5)" in out
    match = re.search(r'<pre class="optimlab-card-update" data-latex="([^"]*)">([^<]*)</pre>', out)
    assert match, out
    assert "&quot;quoted&quot;" in match.group(1) and "\\theta_t" in match.group(1)
    assert match.group(2) == "θ ← θ − γ·g"
    assert out.startswith("<section") and out.rstrip().endswith("</section>")
    assert out.count("<ul>") == out.count("</ul>") == 3


def test_card_is_immutable() -> None:
    card = load_card("sgd")
    with pytest.raises(AttributeError):
        card.title = "x"  # type: ignore[misc]
