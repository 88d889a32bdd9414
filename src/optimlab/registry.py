"""The one registry of optimizers: every preset a user can name, with its class, settings and batch policy.

A *preset* is a drop-in optimizer class plus the arguments that define it and the batch policy of the
classic texts: ``gd``, ``sgd`` and ``minibatch`` are one rule (:class:`optimlab.optim.SGD`) with three batch
policies; ``momentum`` is SGD with ``momentum=0.9``; ``amsgrad`` is Adam with ``amsgrad=True``.
Every listing (``optimlab list``), every parametrized test and every picture takes its names from here.
The papers, years and explanations live in the explain cards (one source); see :meth:`Preset.card`.
Each preset's parents and what it changed live in :data:`optimlab.lineage.LINEAGE`, keyed by preset name.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor

from . import optim
from .errors import HyperparameterError
from .explain.cards import Card, load_card
from .lineage import FamilyNode, family_nodes
from .rules import Rule, Scalar
from .suggest import unknown_name


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
        """The preset's hyperparameters as ``torch.optim`` arguments (``lr``, ``betas`` ...), with defaults: the
        rule's schema as the class takes it (:meth:`optim.RuleOptimizer.hyper_arguments`), then the preset's
        settings."""
        return {**self.optimizer.hyper_arguments(), **self.optimizer.fixed_values, **self.settings}

    def ranges(self) -> dict[str, str]:
        """The valid range of each numeric argument of :meth:`defaults`, from the rule's schema (``betas``: one
        interval per element)."""
        shown = self.optimizer.argument_names()  # beta1 -> betas[0]
        out: dict[str, str] = {}
        for arg in self.defaults():
            members = [h for h in self.rule.hypers if shown.get(h.name, h.name).split("[")[0] == arg]
            intervals = [i for i in (h.interval() for h in members) if i is not None]
            if intervals and len(intervals) == len(members):
                out[arg] = intervals[0] if len(intervals) == 1 else f"({', '.join(intervals)})"
        return out

    def rule_values(self, **overrides: Any) -> dict[str, Scalar]:
        """The rule's hyperparameter values after ``overrides`` (``torch.optim`` arguments; packed ones unpacked:
        ``betas`` -> β₁, β₂), validated against the rule's schema.

        Raises :class:`~optimlab.errors.HyperparameterError` naming the argument, its value and the valid range (or
        the valid names).
        """
        args = self.defaults()
        for key in overrides:
            if key not in args:
                raise HyperparameterError(
                    f"Unknown hyperparameter {key!r} for {self.name}; valid: {', '.join(sorted(args))}."
                )
        args.update(overrides)
        values = self.optimizer.rule_values(args)
        self.rule.validate(values, self.name, self.optimizer.argument_names())
        return values

    hypers = rule_values
    """The former name of :meth:`rule_values` (kept for callers written against it)."""

    def make(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], **overrides: Any) -> optim.RuleOptimizer:
        """The drop-in optimizer for ``params`` with this preset's settings and ``overrides``.

        Settings the constructor does not take (parameter-group keys only, among
        :attr:`optim.RuleOptimizer.optional_keys`) go into every group that does not set them itself."""
        kwargs = {**self.settings, **overrides}
        arguments = inspect.signature(self.optimizer).parameters
        keys = {k: kwargs.pop(k) for k in list(kwargs) if k in self.optimizer.optional_keys and k not in arguments}
        if keys:
            items = list(params)
            groups = items if items and isinstance(items[0], dict) else [{"params": items}]
            params = [{**keys, **g} for g in groups]  # type: ignore[dict-item]
        return self.optimizer(params, **kwargs)

    def card(self, lang: str = "en") -> Card:
        return load_card(self.name, lang)

    def explain(self, lang: str = "en") -> ExplainedCard:
        """The explain card with this preset's defaults filled in (renders as Markdown in a notebook)."""
        return ExplainedCard(self.card(lang), self.defaults(), self.ranges())


@dataclass(frozen=True)
class ExplainedCard:
    """A card together with the defaults and valid ranges the code really uses, read from the rule's schema (the
    card text never repeats them)."""

    card: Card
    defaults: Mapping[str, Any]
    ranges: Mapping[str, str] = field(default_factory=dict)

    def to_markdown(self) -> str:
        return self.card.to_markdown(self.defaults, self.ranges)

    def to_html(self) -> str:
        return self.card.to_html(self.defaults, self.ranges)

    def to_terminal(self, width: int = 88) -> str:
        return self.card.to_terminal(self.defaults, width=width, ranges=self.ranges)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_terminal()


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
        Preset("lion", "Lion", optim.Lion),
        Preset("signum", "Signum", optim.Signum),
        Preset("cautious-adamw", "Cautious AdamW", optim.AdamW, {"cautious": True}),
        Preset("cautious-lion", "Cautious Lion", optim.Lion, {"cautious": True}),
        Preset("asgd", "Averaged SGD", optim.ASGD),
        # Rprop steps by the gradient's sign with step sizes adapted to sign changes between steps: Riedmiller &
        # Braun designed it for the true (full-batch) gradient, and mini-batch noise flips signs at random.
        Preset("rprop", "Rprop (resilient backpropagation)", optim.Rprop, batch=FULL_BATCH),
        Preset("adopt", "ADOPT", optim.ADOPT),
        Preset("sparseadam", "SparseAdam (lazy Adam for sparse gradients)", optim.SparseAdam),
        Preset("schedulefree-adamw", "Schedule-Free AdamW", optim.AdamWScheduleFree),
        Preset("schedulefree-sgd", "Schedule-Free SGD", optim.SGDScheduleFree),
        Preset("muon", "Muon", optim.Muon),
        Preset("adafactor", "Adafactor", optim.Adafactor),
        Preset("prodigy", "Prodigy", optim.Prodigy),
        Preset("ademamix", "AdEMAMix", optim.AdEMAMix),
        Preset("soap", "SOAP (Shampoo with Adam in the preconditioner's eigenbasis)", optim.SOAP),
    )
}


_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "seed": ("the classic family of the textbooks: GD, SGD, mini-batch, momentum, AdaGrad, RMSProp, AdaDelta, "
             "Adam (bench's default study)",
             ("gd", "sgd", "minibatch", "momentum", "adagrad", "rmsprop", "adadelta", "adam")),
    "descendants": ("Adam and its descendants in torch.optim: AdamW, AMSGrad, Adamax, NAdam, RAdam",
                    ("adam", "adamw", "amsgrad", "adamax", "nadam", "radam")),
    "modern": ("the optimizers after Adam worth trying on a whole model, with AdamW as the baseline "
               "(for bench and advise)",
               ("adamw", "lion", "muon", "adafactor", "schedulefree-adamw", "soap", "ademamix", "prodigy", "adopt",
                "cautious-adamw")),
}

SETS: dict[str, tuple[str, ...]] = {name: tuple(n for n in members if n in PRESETS)
                                    for name, (_, members) in _SETS.items()}
"""Named sets of presets (only presets that exist); ``all`` (every preset) is not in the table."""

SET_DOCS: dict[str, str] = {**{name: doc for name, (doc, _) in _SETS.items()}, "all": "every preset"}
"""What each set is for, as ``optimlab list`` shows it."""


def family_tree(lang: str = "en") -> list[FamilyNode]:
    """The family tree of the existing presets (parents, what each changed) in ``lang``; see :mod:`optimlab.lineage`."""
    return family_nodes(PRESETS, lang)


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (case-insensitive); an unknown name lists the closest valid ones."""
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    raise unknown_name("optimizer", name, PRESETS, key=key)


def resolve_set(spec: str) -> list[str]:
    """Preset names from a comma-separated list that may contain set names (:data:`SET_DOCS`: ``seed``, ``all`` ...)."""
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
        raise ValueError(f"No optimizer named: give at least one name or set ({', '.join(SET_DOCS)}).")
    return names

