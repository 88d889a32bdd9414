"""The problem suite: the built-in model problems by name (:data:`PROBLEMS`, :func:`get_problem`).

Their models live in :mod:`optimlab.problems.models`, a user's problem file is loaded by
:mod:`optimlab.problems.loader`, and :func:`optimlab.problems.user.make_problem` builds a problem from a model
factory and a dataset.

>>> from optimlab.problems.catalog import get_problem
>>> problem = get_problem("quadratic", n_train=256)
>>> sorted(problem.metric_goals)
['distance', 'loss', 'suboptimality']
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ProblemError, UserError
from ..suggest import unknown_name
from . import datasets
from .base import Data, ModuleProblem, Problem, Split, accuracy
from .loader import load_user_problem
from .models import (
    AddChannel,
    CharTransformer,
    Logistic,
    QuadraticModel,
    binary_accuracy,
    column_mean,
    sequence_cross_entropy,
)


def _split(inputs: Tensor, targets: Tensor, parts: tuple[Tensor, Tensor, Tensor]) -> Data:
    train, valid, test = parts
    return Data(
        train=Split(inputs[train], targets[train]),
        valid=Split(inputs[valid], targets[valid]),
        test=Split(inputs[test], targets[test]),
    )


def quadratic(
    dim: int = 100,
    condition: float = 1e3,
    noise: float = 1.0,
    n_train: int = 4096,
    n_eval: int = 1024,
    seed: int = 0,
) -> ModuleProblem:
    """A noisy quadratic, ``½ (θ − θ*)ᵀ A (θ − θ*)``: eigenvalues of ``A`` log-spaced over ``[1/condition, 1]``
    in a random rotation, optimum ``θ*`` known. Each example is a noise vector ``z ~ N(0, I)`` adding
    ``noise · zᵀ(θ − θ*)``: a batch of b gives the true gradient plus noise of scale ``noise/√b``; the
    training noise is centred, so full-batch gradient descent sees the exact gradient."""
    quad = datasets.ill_conditioned_quadratic(dim, condition, seed=seed)
    data = Data(
        train=Split(datasets.noise_vectors(n_train, dim, seed + 1, centre=True), torch.zeros(n_train)),
        valid=Split(datasets.noise_vectors(n_eval, dim, seed + 2, centre=False), torch.zeros(n_eval)),
        test=Split(datasets.noise_vectors(n_eval, dim, seed + 3, centre=False), torch.zeros(n_eval)),
    )
    return ModuleProblem(
        name="quadratic",
        make_module=lambda: QuadraticModel(quad.hessian, quad.optimum, noise),
        data=data,
        loss_fn=lambda outputs, targets: outputs[:, 0].mean(),
        metrics={"suboptimality": column_mean(1), "distance": column_mean(2)},
        goals={"suboptimality": "min", "distance": "min"},
        default_steps=1000,
        default_batch_size=32,
        description=(
            f"Noisy quadratic in {dim} dimensions, condition number {condition:g}, gradient noise {noise:g}; "
            "minimum 0 at a known point (metrics: suboptimality and distance to it)."
        ),
    )


def sparse_logreg(
    n_features: int = 500,
    n_train: int = 8000,
    n_eval: int = 1000,
    exponent: float = 1.0,
    seed: int = 0,
) -> ModuleProblem:
    """Logistic regression on sparse 0/1 features whose frequencies follow a power law (feature j present
    with probability ``0.5 (j+1)^-exponent``); labels drawn from a known logistic model in which rare
    features carry as much signal as common ones."""
    generated = datasets.sparse_logreg_data(n_train + 2 * n_eval, n_features, exponent=exponent, seed=seed)
    index = torch.arange(n_train + 2 * n_eval)
    parts = (index[:n_train], index[n_train : n_train + n_eval], index[n_train + n_eval :])
    return ModuleProblem(
        name="sparse-logreg",
        make_module=lambda: Logistic(n_features),
        data=_split(generated.x, generated.y, parts),
        loss_fn=F.binary_cross_entropy_with_logits,
        metrics={"accuracy": binary_accuracy},
        default_steps=1000,
        default_batch_size=32,
        description=(
            f"Logistic regression, {n_features} sparse binary features with power-law frequencies "
            f"(exponent {exponent:g}); rare features are informative."
        ),
    )


def _mnist1d_data(n_train: int | None, n_valid: int, num_samples: int = 5000) -> Data:
    x, y, x_test, y_test = datasets.mnist1d_arrays(num_samples)
    inputs, targets = torch.tensor(x), torch.tensor(y)
    if n_train is None:
        n_train = len(inputs) - n_valid
    if n_train < 1 or n_train + n_valid > len(inputs):
        raise UserError(f"MNIST-1D has {len(inputs)} training examples: cannot take {n_train} + {n_valid}.")
    return Data(
        train=Split(inputs[:n_train], targets[:n_train]),
        valid=Split(inputs[-n_valid:], targets[-n_valid:]),
        test=Split(torch.tensor(x_test), torch.tensor(y_test)),
    )


def mnist1d_mlp(hidden: int = 256, n_train: int | None = None, n_valid: int = 500,
                num_samples: int = 5000) -> ModuleProblem:
    """MNIST-1D (40-sample 1-D digits, 10 classes) with a 40-hidden-hidden-10 ReLU MLP; ``num_samples`` examples
    generated (80% train, of which the last ``n_valid`` validate; 20% test)."""
    return ModuleProblem(
        name="mnist1d-mlp",
        make_module=lambda: nn.Sequential(
            nn.Linear(40, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10)
        ),
        data=_mnist1d_data(n_train, n_valid, num_samples),
        loss_fn=F.cross_entropy,
        metrics={"accuracy": accuracy},
        default_steps=1000,
        default_batch_size=128,
        description=f"MNIST-1D, MLP 40-{hidden}-{hidden}-10 with ReLU.",
    )


def mnist1d_cnn(channels: int = 32, n_train: int | None = None, n_valid: int = 500) -> ModuleProblem:
    """MNIST-1D with a three-layer Conv1d network (kernel 5, then two stride-2 kernels of 3) and a linear head."""
    c = channels

    def make() -> nn.Module:
        return nn.Sequential(
            AddChannel(),
            nn.Conv1d(1, c, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(c, c, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(c, c, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c * 10, 10),
        )

    return ModuleProblem(
        name="mnist1d-cnn",
        make_module=make,
        data=_mnist1d_data(n_train, n_valid),
        loss_fn=F.cross_entropy,
        metrics={"accuracy": accuracy},
        default_steps=500,
        default_batch_size=128,
        description=f"MNIST-1D, 1-D convolutional net with {c} channels.",
    )


_DIGITS_HELD_OUT = 300


def _digits_parts() -> tuple[Tensor, Tensor, Tensor]:
    return datasets.split_indices(len(datasets.digits_arrays()[1]), _DIGITS_HELD_OUT, _DIGITS_HELD_OUT, seed=0)


def digits_cnn(channels: int = 16) -> ModuleProblem:
    """scikit-learn's 8×8 digits (1197/300/300) with a two-layer Conv2d network and a linear head."""
    images, labels = datasets.digits_arrays()
    c = channels

    def make() -> nn.Module:
        return nn.Sequential(
            AddChannel(),
            nn.Conv2d(1, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * c * 16, 10),
        )

    return ModuleProblem(
        name="digits-cnn",
        make_module=make,
        data=_split(torch.tensor(images), torch.tensor(labels), _digits_parts()),
        loss_fn=F.cross_entropy,
        metrics={"accuracy": accuracy},
        default_steps=300,
        default_batch_size=64,
        description=f"scikit-learn 8×8 digits, 2-layer CNN ({c} and {2 * c} channels).",
    )


def digits_autoencoder(widths: tuple[int, ...] = (128, 64, 32, 8)) -> ModuleProblem:
    """A deep autoencoder on the 8×8 digits: 64-128-64-32-8-32-64-128-64 by default, tanh hidden units, a
    linear code layer and sigmoid outputs; the loss is the reconstruction mean squared error per pixel."""
    images, _ = datasets.digits_arrays()
    pixels = torch.tensor(images).reshape(len(images), 64)
    sizes = [64, *widths, *reversed(widths[:-1]), 64]

    def make() -> nn.Module:
        layers: list[nn.Module] = []
        code = len(widths)
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
            if i + 1 == len(sizes) - 1:
                layers.append(nn.Sigmoid())
            elif i + 1 != code:  # the code layer stays linear
                layers.append(nn.Tanh())
        return nn.Sequential(*layers)

    return ModuleProblem(
        name="digits-autoencoder",
        make_module=make,
        data=_split(pixels, pixels, _digits_parts()),
        loss_fn=F.mse_loss,
        default_steps=1000,
        default_batch_size=64,
        description=f"Deep autoencoder {'-'.join(map(str, sizes))} on 8×8 digits; loss = reconstruction MSE.",
    )


def char_lm(
    text_file: str | None = None,
    context: int = 64,
    d_model: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    max_chars: int = 400_000,
    max_vocab: int = 256,
) -> ModuleProblem:
    """A character-level Transformer language model. Text: the docstrings of Python's standard library,
    or ``text_file`` (UTF-8). Examples are non-overlapping windows of ``context + 1`` characters, split
    80/10/10 by a fixed shuffle; metrics: loss (nats per character), perplexity and next-character
    accuracy."""
    if text_file is None:
        text, source = datasets.stdlib_docstrings(max_chars), "Python standard-library docstrings"
    else:
        text, source = datasets.read_text_file(text_file, max_chars), f"text file {text_file}"
    corpus = datasets.char_corpus(text, context, max_vocab)
    n = len(corpus.windows)
    held_out = max(1, n // 10)
    inputs, targets = corpus.windows[:, :-1].contiguous(), corpus.windows[:, 1:].contiguous()
    vocab = corpus.vocab_size
    problem = ModuleProblem(
        name="char-lm",
        make_module=lambda: CharTransformer(vocab, context, d_model, n_layers, n_heads),
        data=_split(inputs, targets, datasets.split_indices(n, held_out, held_out, seed=0)),
        loss_fn=sequence_cross_entropy,
        metrics={"accuracy": accuracy},
        from_loss={"perplexity": torch.exp},
        goals={"perplexity": "min"},
        default_steps=200,
        default_batch_size=16,
        eval_batch_size=64,
        description=(
            f"Character Transformer ({n_layers} layers, d={d_model}, {n_heads} heads, context {context}) on "
            f"{source} ({len(text)} characters, {vocab} symbols)."
        ),
    )
    problem.corpus = corpus  # type: ignore[attr-defined]
    return problem


PROBLEMS: dict[str, Callable[..., Problem]] = {
    "quadratic": quadratic,
    "sparse-logreg": sparse_logreg,
    "mnist1d-mlp": mnist1d_mlp,
    "mnist1d-cnn": mnist1d_cnn,
    "digits-cnn": digits_cnn,
    "digits-autoencoder": digits_autoencoder,
    "char-lm": char_lm,
}
"""Every built-in problem by name; each value builds the problem from keyword options."""


def get_problem(name: str, **options: object) -> Problem:
    """Build problem ``name`` with keyword ``options``; ``"file.py:function"`` loads a user's problem."""
    if name not in PROBLEMS and ".py:" in name:
        path, _, function = name.rpartition(":")
        problem = load_user_problem(name, **options)
        problem.source = (f"{Path(path).expanduser().resolve()}:{function}", dict(options))
        return problem
    builder = PROBLEMS.get(name)
    if builder is None:
        raise unknown_name("problem", name, PROBLEMS)
    accepted = inspect.signature(builder).parameters
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise UserError(
            f"Problem {name!r} has no option {unknown[0]!r}; its options are: {', '.join(accepted) or 'none'}."
        )
    try:
        problem = builder(**options)
    except (TypeError, ValueError, RuntimeError) as exc:  # an option of the wrong type or out of range
        if isinstance(exc, UserError):
            raise
        raise ProblemError(f"Problem {name!r} cannot be built with options {dict(options)}: {exc}") from exc
    problem.source = (name, dict(options))  # what a worker process rebuilds it from (optimlab.engine.processes)
    return problem

