"""The one registry of optimizers: every preset a user can name, with its class, settings and batch policy.

A *preset* is a drop-in optimizer class plus the arguments that define it and the batch policy of the
classic texts: ``gd``, ``sgd`` and ``minibatch`` are one rule (:class:`optimlab.optim.SGD`) with three batch
policies; ``momentum`` is SGD with ``momentum=0.9``; ``amsgrad`` is Adam with ``amsgrad=True``.
Every listing (``optimlab list``), every parametrized test and every picture takes its names from here.
The papers, years and explanations live in the explain cards (one source); see :meth:`Preset.card`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor

from . import optim
from .explain.cards import Card, UnknownNameError, load_card, suggest_names
from .rules import Rule, Scalar

SETS: dict[str, tuple[str, ...]] = {
    "seed": ("gd", "sgd", "minibatch", "momentum", "adagrad", "rmsprop", "adadelta", "adam"),
    "modern": ("adam", "adamw", "amsgrad", "adamax", "nadam", "radam"),
}
"""Named sets of presets: ``seed`` is the classic family, ``modern`` its descendants, ``all`` everything."""


@dataclass(frozen=True)
class BatchPolicy:
    """Which examples one step's gradient is computed on: all of them, one, or ``size`` of them."""

    kind: Literal["full", "single", "minibatch"]
    size: int | None = None

    def batch_size(self, n_examples: int, problem_default: int = 32) -> int:
        """Examples per step on a training set of ``n_examples`` (mini-batch: the given or the problem's size)."""
        if self.kind == "full":
            return n_examples
        if self.kind == "single":
            return 1
        return min(self.size or problem_default, n_examples)

    def describe(self) -> str:
        if self.kind == "full":
            return "full batch"
        if self.kind == "single":
            return "one example per step"
        return f"mini-batches of {self.size}" if self.size else "mini-batches"


FULL_BATCH = BatchPolicy("full")
SINGLE_EXAMPLE = BatchPolicy("single", 1)


def minibatch(size: int | None = None) -> BatchPolicy:
    """Mini-batches of ``size`` examples; ``None`` means the problem's default batch size."""
    if size is not None and size < 1:
        raise ValueError(f"Invalid batch size={size}: must be >= 1.")
    return BatchPolicy("minibatch", size)


@dataclass(frozen=True)
class Preset:
    """A named optimizer: a drop-in class, the arguments that define the preset, and a batch policy."""

    name: str
    title: str
    optimizer: type[optim.RuleOptimizer]
    settings: Mapping[str, Any] = field(default_factory=dict)
    batch: BatchPolicy = field(default_factory=minibatch)

    @property
    def rule(self) -> Rule:
        return self.optimizer.rule

    def defaults(self) -> dict[str, Any]:
        """The preset's hyperparameters as ``torch.optim`` arguments (``lr``, ``betas`` ...), with defaults."""
        signature = inspect.signature(self.optimizer.__init__)
        out = {
            name: param.default
            for name, param in signature.parameters.items()
            if name not in _NOT_HYPERPARAMETERS and param.default is not inspect.Parameter.empty
        }
        out.update(self.optimizer.fixed_hypers)
        out.update(self.settings)
        return out

    def hypers(self, **overrides: Any) -> dict[str, Scalar]:
        """The rule's hyperparameters (``betas`` split into ``beta1``/``beta2``) after ``overrides``.

        Raises ``ValueError`` naming the argument for an unknown name or an invalid value.
        """
        args = self.defaults()
        for key in overrides:
            if key not in args:
                raise ValueError(
                    f"Unknown hyperparameter {key!r} for {self.name}; valid: {', '.join(sorted(args))}."
                )
        args.update(overrides)
        hp: dict[str, Scalar] = self.optimizer.rule_hypers(args)
        self.rule.validate(hp, self.name, optim.BETA_NAMES)
        return hp

    def make(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], **overrides: Any) -> optim.RuleOptimizer:
        """The drop-in optimizer for ``params`` with this preset's settings and ``overrides``."""
        return self.optimizer(params, **{**self.settings, **overrides})

    def card(self, lang: str = "en") -> Card:
        return load_card(self.name, lang)

    def explain(self, lang: str = "en") -> ExplainedCard:
        """The explain card with this preset's defaults filled in (renders as Markdown in a notebook)."""
        return ExplainedCard(self.card(lang), self.defaults())


@dataclass(frozen=True)
class ExplainedCard:
    """A card together with the defaults the code really uses (the card text never repeats them)."""

    card: Card
    defaults: Mapping[str, Any]

    def to_markdown(self) -> str:
        return self.card.to_markdown(self.defaults)

    def to_html(self) -> str:
        return self.card.to_html(self.defaults)

    def to_terminal(self, width: int = 88) -> str:
        return self.card.to_terminal(self.defaults, width=width)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_terminal()


_NOT_HYPERPARAMETERS = {"self", "params", "foreach", "capturable", "differentiable", "fused", "maximize"}

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("gd", "Gradient descent (full batch)", optim.SGD, batch=FULL_BATCH),
        Preset("sgd", "Stochastic gradient descent (one example)", optim.SGD, batch=SINGLE_EXAMPLE),
        Preset("minibatch", "Mini-batch gradient descent", optim.SGD),
        Preset("momentum", "SGD with momentum (heavy ball)", optim.SGD, {"momentum": 0.9}),
        Preset("nesterov", "SGD with Nesterov momentum", optim.SGD, {"momentum": 0.9, "nesterov": True}),
        Preset("adagrad", "AdaGrad", optim.Adagrad),
        Preset("rmsprop", "RMSProp", optim.RMSprop),
        Preset("adadelta", "AdaDelta", optim.Adadelta),
        Preset("adam", "Adam", optim.Adam),
        Preset("amsgrad", "AMSGrad", optim.Adam, {"amsgrad": True}),
        Preset("adamw", "AdamW", optim.AdamW),
        Preset("adamax", "Adamax", optim.Adamax),
        Preset("nadam", "NAdam", optim.NAdam),
        Preset("radam", "RAdam", optim.RAdam),
        Preset("ademamix", "AdEMAMix", optim.AdEMAMix),
        Preset("soap", "SOAP (Shampoo with Adam in the preconditioner's eigenbasis)", optim.SOAP),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (case-insensitive); an unknown name lists the closest valid ones."""
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    raise UnknownNameError(_unknown("optimizer", name, PRESETS))


def resolve_set(spec: str) -> list[str]:
    """Preset names from a comma-separated list that may contain set names (``seed``, ``modern``, ``all``)."""
    names: list[str] = []
    for part in (s.strip().lower() for s in spec.split(",")):
        if not part:
            continue
        if part == "all":
            found: Iterable[str] = PRESETS
        elif part in SETS:
            found = SETS[part]
        else:
            found = [get_preset(part).name]
        names.extend(n for n in found if n not in names)
    if not names:
        raise ValueError("No optimizer named: give at least one name or set (seed, modern, all).")
    return names


def _unknown(kind: str, name: str, valid: Iterable[str]) -> str:
    close = suggest_names(name, valid)
    hint = f" Did you mean: {', '.join(close)}?" if close else f" Valid names: {', '.join(sorted(valid))}."
    return f"Unknown {kind} {name!r}.{hint}"
