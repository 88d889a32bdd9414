"""A character-level GRU language model on the docstrings of Python's standard library, from a torch Dataset.

    optimlab advise examples/gru_char_lm.py:problem --budget x10
    optimlab bench --problems "" --problem-file examples/gru_char_lm.py:problem --optimizers sgd,adam

Each example is a window of ``context + 1`` characters: the input is its first ``context`` characters, the
target the same window shifted by one. vmap cannot batch the fused GRU kernel, so optimlab runs this model with
its per-trial executor.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, Subset

import optimlab
from optimlab.problems.base import accuracy
from optimlab.problems.datasets import stdlib_docstrings


class CharWindows(Dataset):
    """Non-overlapping windows of a text as ``(ids[context], next ids[context])`` pairs."""

    def __init__(self, text: str, context: int) -> None:
        self.symbols = sorted(set(text))
        index = {ch: i for i, ch in enumerate(self.symbols)}
        self.ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
        self.context = context

    def __len__(self) -> int:
        return (len(self.ids) - 1) // self.context

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        start = i * self.context
        window = self.ids[start : start + self.context + 1]
        return window[:-1], window[1:]


class CharGRU(nn.Module):
    """Embedding, a GRU and a linear read-out: ids ``[B, T]`` -> next-character logits ``[B, T, vocab]``."""

    def __init__(self, vocab: int, width: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.gru = nn.GRU(width, width, num_layers=layers, batch_first=True)
        self.head = nn.Linear(width, vocab)

    def forward(self, ids: Tensor) -> Tensor:
        hidden, _ = self.gru(self.embed(ids))
        return self.head(hidden)


def sequence_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over every position of every window (nats per character)."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def problem(chars: int = 30_000, context: int = 32, width: int = 64, layers: int = 1,
            steps: int = 200) -> optimlab.problems.base.ModuleProblem:
    """The GRU on the first ``chars`` characters of the docstrings, windows split 80/10/10 by a fixed shuffle."""
    windows = CharWindows(stdlib_docstrings(chars), context)
    n = len(windows)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0)).tolist()
    held_out = n // 10
    train = Subset(windows, order[2 * held_out :])
    valid, test = Subset(windows, order[:held_out]), Subset(windows, order[held_out : 2 * held_out])
    vocab = len(windows.symbols)
    return optimlab.make_problem(
        lambda: CharGRU(vocab, width, layers), train, valid, test,
        loss=sequence_cross_entropy,
        metrics={"accuracy": accuracy},
        name="stdlib-char-gru",
        steps=steps,
        batch_size=16,
        eval_batch_size=256,
        description=f"Character GRU ({layers} layer, width {width}, context {context}) on {chars} characters "
                    f"of standard-library docstrings ({vocab} symbols).",
    )
