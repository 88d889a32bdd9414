"""Did-you-mean, written once: every lookup (optimizers, surfaces, problems, cards) raises the same sentence."""

from __future__ import annotations

import pytest

from optimlab.errors import UnknownNameError, UserError
from optimlab.problems.surfaces import get_surface
from optimlab.registry import get_preset
from optimlab.suggest import unknown_name


def test_a_close_name_is_suggested_and_the_message_quotes_what_was_typed() -> None:
    error = unknown_name("surface", "Rosenbrok", ["rosenbrock", "beale"], key="rosenbrok")
    assert isinstance(error, UnknownNameError) and isinstance(error, UserError)
    assert str(error) == "Unknown surface 'Rosenbrok'. Did you mean: rosenbrock?"


def test_without_a_close_name_the_valid_names_are_listed_sorted() -> None:
    error = unknown_name("problem", "zzz", ["b-two", "a-one"])
    assert str(error) == "Unknown problem 'zzz'. Valid names: a-one, b-two."


def test_the_lookups_raise_the_shared_sentence_for_the_normalized_name() -> None:
    with pytest.raises(UnknownNameError, match=r"^Unknown optimizer 'ADAMM'\. Did you mean: adam, adamw, nadam\?$"):
        get_preset("ADAMM")
    with pytest.raises(UnknownNameError, match=r"^Unknown surface 'rosen_brok'\. Did you mean: rosenbrock\?$"):
        get_surface("rosen_brok")
