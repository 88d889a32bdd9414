"""Datasets for the problem suite, all available offline and deterministic.

Real data comes from what packages generate or ship (MNIST-1D from its templates, scikit-learn's bundled
8×8 digits), from text on this machine (the docstrings of Python's standard library, or a file the user
names), and from synthetic generators with known structure (an ill-conditioned quadratic, sparse features
with power-law frequencies). Loaders cache their arrays in memory, never write files, and raise a
:class:`~optimlab.errors.UserError` that says what to install or fix when something is missing.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .._mnist1d import Arrays, generate_mnist1d
from ..errors import InvalidValueError, ProblemError

# ----------------------------------------------------------------------------------------------- MNIST-1D


_GIVEN_MNIST1D: dict[int, Arrays] = {}


def provide_mnist1d(num_samples: int, arrays: Arrays) -> None:
    """Hand over arrays :func:`~optimlab._mnist1d.generate_mnist1d` made elsewhere (``optimlab compare`` makes them
    in a side process while torch imports), so :func:`mnist1d_arrays` does not generate them again."""
    _GIVEN_MNIST1D[num_samples] = arrays


@functools.lru_cache(maxsize=4)
def mnist1d_arrays(num_samples: int = 5000) -> Arrays:
    """MNIST-1D generated from its templates: ``(x_train, y_train, x_test, y_test)`` (80/20 split), read-only
    (copy before changing them); see :func:`~optimlab._mnist1d.generate_mnist1d`."""
    given = _GIVEN_MNIST1D.get(num_samples)
    return given if given is not None else generate_mnist1d(num_samples)


# ------------------------------------------------------------------------------------------------- digits


@functools.lru_cache(maxsize=1)
def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8×8 digits: images ``[1797, 8, 8]`` scaled to [0, 1] and labels ``[1797]``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ProblemError("The digits problems need scikit-learn: pip install scikit-learn") from exc
    bunch = load_digits()
    images = (np.asarray(bunch.images, dtype=np.float32) / 16.0).astype(np.float32)
    labels = np.asarray(bunch.target, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def split_indices(n: int, valid: int, test: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """A fixed shuffle of ``range(n)`` cut into train / valid / test index tensors."""
    if valid + test >= n:
        raise InvalidValueError(f"Cannot hold out {valid} + {test} of only {n} examples.")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n - valid - test], order[n - valid - test : n - test], order[n - test :]


# ------------------------------------------------------------------------------------------------- text

STDLIB_MODULES: tuple[str, ...] = tuple(
    sorted(
        """
    abc argparse ast base64 bisect bz2 calendar cmd codecs collections colorsys configparser contextlib copy
    csv dataclasses datetime decimal difflib dis doctest email enum filecmp fileinput fnmatch fractions
    ftplib functools getopt gettext glob graphlib gzip hashlib heapq hmac html http imaplib inspect io
    ipaddress itertools json keyword linecache locale logging lzma mailbox math mimetypes numbers operator
    optparse os pathlib pickle pickletools pkgutil platform plistlib poplib pprint profile pstats queue
    quopri random re reprlib sched secrets selectors shelve shlex shutil signal smtplib socket socketserver
    sqlite3 statistics string struct subprocess symtable tabnanny tarfile tempfile textwrap threading timeit
    token tokenize trace traceback types typing unittest urllib uuid warnings wave weakref xml zipfile
    zipimport zoneinfo
    """.split()
    )
)
"""The standard-library modules whose docstrings make the default English corpus (sorted, fixed)."""


@functools.lru_cache(maxsize=2)
def stdlib_docstrings(max_chars: int = 400_000) -> str:
    """English text: docstrings of :data:`STDLIB_MODULES`, their public classes, functions and methods.

    Deterministic for a given Python version (the docstrings change between versions). Modules that fail to
    import on this machine are skipped. Each docstring appears once; they are joined by blank lines.
    """
    seen: set[str] = set()
    parts: list[str] = []
    total = 0

    def add(obj: object) -> bool:
        nonlocal total
        doc = inspect.getdoc(obj)
        if not doc or doc in seen:
            return total < max_chars
        seen.add(doc)
        parts.append(doc)
        total += len(doc) + 2
        return total < max_chars

    for module_name in STDLIB_MODULES:
        try:
            module = importlib.import_module(module_name)
        except Exception:  # an optional stdlib module (sqlite3, lzma ...) may be missing from a build
            continue
        if not add(module):
            break
        for name, member in sorted(vars(module).items()):
            if name.startswith("_") or getattr(member, "__module__", None) != module_name:
                continue
            if not (inspect.isclass(member) or inspect.isfunction(member)):
                continue
            if not add(member):
                break
            if inspect.isclass(member):
                for attr, method in sorted(vars(member).items()):
                    if not attr.startswith("_") and inspect.isfunction(method) and not add(method):
                        break
        if total >= max_chars:
            break
    return "\n\n".join(parts)[:max_chars]


def read_text_file(path: str | Path, max_chars: int | None = None) -> str:
    """The UTF-8 text of a file the user names; a missing, empty or binary file raises a clear error."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ProblemError(f"Text file {str(file)!r} does not exist or is not a file.")
    raw = file.read_bytes()
    if b"\x00" in raw[:65536]:
        raise ProblemError(f"Text file {str(file)!r} looks binary (it contains NUL bytes); give a UTF-8 text file.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemError(f"Text file {str(file)!r} is not UTF-8 text (bad byte at offset {exc.start}).") from exc
    if not text.strip():
        raise ProblemError(f"Text file {str(file)!r} is empty.")
    return text if max_chars is None else text[:max_chars]


@dataclass(frozen=True)
class CharCorpus:
    """Text cut into fixed windows of ``context + 1`` characters, encoded with a character vocabulary."""

    vocab: str
    """The characters, most frequent first; id ``len(vocab)`` is the unknown character if ``has_unknown``."""
    has_unknown: bool
    windows: Tensor
    """``[n_windows, context + 1]`` int64 character ids, in text order, not overlapping."""

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + int(self.has_unknown)

    def decode(self, ids: Tensor) -> str:
        return "".join(self.vocab[i] if i < len(self.vocab) else "\ufffd" for i in ids.tolist())


def char_corpus(text: str, context: int, max_vocab: int = 256) -> CharCorpus:
    """Encode ``text`` by character (the ``max_vocab`` most frequent; the rest share one unknown id) and cut
    it into non-overlapping windows of ``context + 1`` characters (inputs: the first ``context``; targets:
    the last ``context``)."""
    if context < 1:
        raise InvalidValueError(f"Invalid context length {context}: must be >= 1.")
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    ranked = sorted(counts, key=lambda c: (-counts[c], c))
    vocab = "".join(ranked[:max_vocab])
    has_unknown = len(ranked) > max_vocab
    lookup = {ch: i for i, ch in enumerate(vocab)}
    unknown = len(vocab)
    ids = torch.tensor([lookup.get(ch, unknown) for ch in text], dtype=torch.int64)
    n_windows = (len(ids) - 1) // context
    if n_windows < 3:
        raise ProblemError(
            f"The text has {len(text)} characters: too short for train/valid/test windows of {context + 1}."
        )
    starts = torch.arange(n_windows) * context
    windows = ids[starts.unsqueeze(1) + torch.arange(context + 1)]
    return CharCorpus(vocab=vocab, has_unknown=has_unknown, windows=windows)


# ------------------------------------------------------------------------------------------- synthetic


def power_law_frequencies(n_features: int, exponent: float, top: float) -> Tensor:
    """Probability that feature j (0-based) is present: ``top * (j + 1) ** -exponent``."""
    return top * (torch.arange(1, n_features + 1, dtype=torch.float64) ** -exponent)


@dataclass(frozen=True)
class SparseLogregData:
    """Binary features with power-law frequencies and labels from a known logistic model."""

    x: Tensor
    """``[n, n_features]`` float32 0/1."""
    y: Tensor
    """``[n]`` float32 0/1 labels drawn from ``sigmoid(x @ w + b)``."""
    weights: Tensor
    bias: float
    frequencies: Tensor


def sparse_logreg_data(
    n: int, n_features: int, exponent: float = 1.0, top: float = 0.5, logit_scale: float = 4.0, seed: int = 0
) -> SparseLogregData:
    """Draw ``n`` examples of the sparse logistic-regression problem.

    Feature j is present with probability ``p_j = top * (j+1)^-exponent``. Its true weight is
    ``g_j * logit_scale / sqrt(p_j * n_features)`` with ``g_j ~ N(0, 1)``: every feature adds the same
    variance to the logit, so a rare feature, when present, moves the logit far — the rare features carry
    as much signal as the common ones but their gradients arrive seldom (where per-coordinate step sizes
    should help). The logit's standard deviation is about ``logit_scale``.
    """
    generator = torch.Generator().manual_seed(seed)
    p = power_law_frequencies(n_features, exponent, top)
    weights = torch.randn(n_features, generator=generator, dtype=torch.float64) * logit_scale
    weights = weights / torch.sqrt(p * n_features)
    x = (torch.rand(n, n_features, generator=generator, dtype=torch.float64) < p).to(torch.float64)
    bias = -float((p * weights).sum())  # centre the logit so both classes are common
    logits = x @ weights + bias
    y = (torch.rand(n, generator=generator, dtype=torch.float64) < torch.sigmoid(logits)).to(torch.float64)
    return SparseLogregData(x=x.float(), y=y.float(), weights=weights.float(), bias=bias, frequencies=p.float())


@dataclass(frozen=True)
class Quadratic:
    """``f(θ) = ½ (θ − θ*)ᵀ A (θ − θ*)`` with ``A = Q diag(λ) Qᵀ``; minimum 0 at ``θ*``."""

    hessian: Tensor
    eigenvalues: Tensor
    optimum: Tensor


def ill_conditioned_quadratic(dim: int, condition: float, largest: float = 1.0, seed: int = 0) -> Quadratic:
    """Eigenvalues log-spaced from ``largest / condition`` to ``largest`` in a random rotation; a random
    optimum ``θ* ~ N(0, I)``. Built in float64, returned in float32."""
    if condition < 1:
        raise InvalidValueError(f"Invalid condition number {condition}: must be >= 1.")
    generator = torch.Generator().manual_seed(seed)
    eigenvalues = largest * torch.logspace(-math.log10(condition), 0, dim, dtype=torch.float64)
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))  # a uniformly random rotation
    hessian = (q * eigenvalues) @ q.T
    hessian = (hessian + hessian.T) / 2
    optimum = torch.randn(dim, generator=generator, dtype=torch.float64)
    return Quadratic(hessian=hessian.float(), eigenvalues=eigenvalues.float(), optimum=optimum.float())


def noise_vectors(n: int, dim: int, seed: int, centre: bool) -> Tensor:
    """``[n, dim]`` standard normal vectors (float32); ``centre`` removes their mean so a full batch has none."""
    z = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if centre:
        z = z - z.mean(dim=0)
    return z.float()
