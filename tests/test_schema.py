"""The rules own the hyperparameter schema: presets read their defaults and ranges from it, a value is validated
once where it enters (the trial), and a bad one is named with its value and range."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from optimlab.errors import HyperparameterError, UserError
from optimlab.population import Population, Trial
from optimlab.registry import PRESETS
from optimlab.rules import Hyper, Rule


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_defaults_are_the_rule_schema_and_settings(name: str) -> None:
    """Every rule hyperparameter's default reaches the preset (through the class's packing), then the settings."""
    preset = PRESETS[name]
    values = preset.rule_values()
    klass = preset.optimizer
    for h in preset.rule.hypers:
        shown = klass.argument_names().get(h.name, h.name)
        overridden = shown.split("[")[0] in {**klass.argument_defaults, **preset.settings, **klass.fixed_values}
        if not overridden and h.default is not None:
            assert values[h.name] == h.default, h.name


def test_a_trial_is_validated_once_and_the_population_does_not_check_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = Rule.validate

    def counting(self: Rule, *args: object, **kwargs: object) -> None:
        calls.append(self.name)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Rule, "validate", counting)
    trials = [Trial("adam", {"lr": 0.01}, seed=s) for s in range(3)] + [Trial("momentum", {"lr": 0.1})]
    assert calls == ["adam"] * 3 + ["sgd"]
    Population(trials, [torch.zeros(4, 3)])
    assert len(calls) == 4, "building the population validated the trials again"
    assert trials[0].rule_values["lr"] == 0.01 and trials[3].rule_values["momentum"] == 0.9


def test_bad_values_name_the_argument_the_value_and_the_range() -> None:
    with pytest.raises(HyperparameterError, match=r"Invalid betas\[1\]=1\.5 for adam: must be in \[0, 1\)\."):
        Trial("adam", {"betas": (0.9, 1.5)})
    with pytest.raises(HyperparameterError, match=r"Unknown hyperparameter 'momentun' for momentum; valid: .*momentum"):
        PRESETS["momentum"].rule_values(momentun=0.5)
    assert issubclass(HyperparameterError, UserError) and issubclass(HyperparameterError, ValueError)


def test_trial_keeps_its_former_keyword_and_attribute() -> None:
    old = Trial("adam", hypers={"lr": 0.5}, seed=1)
    assert old == Trial("adam", {"lr": 0.5}, seed=1) and old.hypers == old.overrides == {"lr": 0.5}
    assert dataclasses.replace(old, seed=2).seed == 2
    with pytest.raises(ValueError, match="once"):
        Trial("adam", {"lr": 0.1}, hypers={"lr": 0.2})


def test_intervals_and_card_ranges_come_from_the_schema() -> None:
    assert Hyper("x", 0.5, low=0.0, high=1.0, high_open=True).interval() == "[0, 1)"
    assert Hyper("x", 1.0, low=1.0, allows_inf=True).interval() == "[1, ∞]"
    assert Hyper("x", 1.0, low=0.0, low_open=True).interval() == "(0, ∞)"
    assert Hyper("x", False, structural=True).interval() is None
    explained = PRESETS["rprop"].explain()
    assert explained.ranges["etas"] == "((0, 1), (1, ∞))" and "lr" in explained.ranges
    assert "(default: (0.5, 1.2); range ((0, 1), (1, ∞)))" in explained.to_markdown()
